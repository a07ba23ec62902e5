import BeamsyncController
import Foundation
import Testing

@Suite("Standard process metrics on /metrics")
struct ProcessMetricsTests {
    // proc(5) fields 1–25; the command name holds a space and a ')' to trip naive splitting.
    let stat = "1234 (beam sync) (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 5000 123456789 12800 18446744073709551615 1 1 0 0 0\n"
    let system = "cpu  1 2 3 4\nintr 5\nbtime 1795600000\nprocesses 42\n"

    @Test("figures are read after the command name, in proc(5)'s field numbers and units")
    func parsesProcStat() throws {
        let m = try #require(ProcessMetrics.parse(stat: stat, systemStat: system, clockTicksPerSecond: 100, pageSize: 4096))
        #expect(m.cpuSeconds == 3.0)
        #expect(m.residentMemoryBytes == 12800 * 4096)
        #expect(m.virtualMemoryBytes == 123_456_789)
        #expect(m.startTimeSeconds == 1_795_600_050)
    }

    @Test("a truncated stat line or a /proc/stat without btime gives no figures rather than wrong ones")
    func refusesMalformedInput() {
        #expect(ProcessMetrics.parse(stat: "1234 (x) S 1 2 3", systemStat: system, clockTicksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessMetrics.parse(stat: stat, systemStat: "cpu 1 2 3\n", clockTicksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessMetrics.parse(stat: "no parenthesis", systemStat: system, clockTicksPerSecond: 100, pageSize: 4096) == nil)
    }

    @Test("the exposition uses the names, types and help texts of the official clients")
    func exposition() throws {
        var m = try #require(ProcessMetrics.parse(stat: stat, systemStat: system, clockTicksPerSecond: 100, pageSize: 4096))
        m.openFileDescriptors = 12
        m.maxFileDescriptors = nil
        let text = m.exposition
        #expect(text.contains("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3\n"))
        #expect(text.contains("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 52428800\n"))
        #expect(text.contains("process_start_time_seconds 1795600050\n"))
        #expect(text.contains("process_open_fds 12\n"))
        #expect(!text.contains("process_max_fds"), "an unlimited or unknown limit is left out, not reported as a number")
    }

    @Test("this process's own figures are plausible")
    func currentProcess() throws {
        let m = try #require(ProcessMetrics.current())
        #expect(m.residentMemoryBytes > 1_000_000)
        #expect(m.virtualMemoryBytes >= m.residentMemoryBytes)
        #expect(m.startTimeSeconds <= Date().timeIntervalSince1970 + 1)
        #expect(m.startTimeSeconds > Date().timeIntervalSince1970 - 86_400)
        #expect((m.openFileDescriptors ?? 0) >= 3)
    }

    @Test("the controller's /metrics text carries the parse cache gauges and the process metrics")
    func controllerMetricsRender() {
        let metrics = ControllerMetrics()
        metrics.parseCache(entries: 10_000, packedBytes: 3_200_000)
        let text = metrics.render()
        #expect(text.contains("beamsync_parse_cache_files 10000"))
        #expect(text.contains("beamsync_parse_cache_packed_bytes 3200000"))
        #expect(text.contains("\nprocess_resident_memory_bytes "))
    }
}
