import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` metrics every Prometheus client exports (resident memory, CPU, file
/// descriptors, start time), read from /proc at scrape time, so a controller's footprint is
/// observable where its other metrics are.
public struct ProcessMetrics: Equatable, Sendable {
    public var residentMemoryBytes: Double
    public var virtualMemoryBytes: Double
    public var cpuSeconds: Double
    public var startTimeSeconds: Double
    public var openFileDescriptors: Int?
    public var maxFileDescriptors: Int?

    /// From the text of `/proc/<pid>/stat` and `/proc/stat`. nil when either is not as expected.
    /// Field numbers are proc(5)'s; the command name (field 2) may hold spaces and parentheses, so
    /// fields are counted after its last `)`.
    public static func parse(stat: String, systemStat: String, clockTicksPerSecond: Double, pageSize: Double) -> ProcessMetrics? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // After ")": field 3 (state) is at index 0, so field N is at index N - 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        func field(_ n: Int) -> Double? { fields.count > n - 3 ? Double(fields[n - 3]) : nil }
        guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24),
              let bootLine = systemStat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(bootLine.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces)) else { return nil }
        return ProcessMetrics(residentMemoryBytes: rss * pageSize, virtualMemoryBytes: vsize,
                              cpuSeconds: (utime + stime) / clockTicksPerSecond,
                              startTimeSeconds: boot + start / clockTicksPerSecond,
                              openFileDescriptors: nil, maxFileDescriptors: nil)
    }

    /// This process's figures; nil where /proc is not available.
    public static func current() -> ProcessMetrics? {
        #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              var metrics = parse(stat: stat, systemStat: system, clockTicksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
                                  pageSize: Double(sysconf(Int32(_SC_PAGESIZE)))) else { return nil }
        // One entry is the directory stream reading the list itself.
        metrics.openFileDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map { max(0, $0.count - 1) }
        var limit = rlimit()
        // RLIM_INFINITY is all ones; Int(exactly:) leaves it out.
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { metrics.maxFileDescriptors = Int(exactly: limit.rlim_cur) }
        return metrics
        #else
        return nil
        #endif
    }

    /// Prometheus text exposition, with the names and help texts the official clients use.
    public var exposition: String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(Self.number(value))\n"
        }
        metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpuSeconds)
        metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentMemoryBytes)
        metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtualMemoryBytes)
        metric("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", startTimeSeconds)
        metric("process_open_fds", "gauge", "Number of open file descriptors.", openFileDescriptors.map(Double.init))
        metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFileDescriptors.map(Double.init))
        return out
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
