import BeamsyncPostgres
import BeamsyncStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `beamsync-bench api` (run by `scripts/bench-api.sh`): the HTTP API of a real `beamsync run`
/// controller that manages 10,000 profiles (50 projects of 200) from a git repository.
///
/// - GET `/api/v2/deployment-profiles?project_module=X` (200 rows) with 64 concurrent clients
///   (wrk), side by side with the same SELECT under pgbench at the same concurrency (the database
///   floor), alternating, twice: once against the controller (list cache on) and once against a
///   second replica started with `--api-cache-mib 0`, so every request runs the SELECT.
/// - POST `/api/v2/deployment-profiles` with 1, 8 and 64 concurrent clients (wrk with a script
///   that sends a new name each time). The second replica is stopped first: replicas run on
///   separate machines (the Kubernetes manifest keeps them apart), and on the bench's two cores
///   it took CPU from the one measured, waking on each write's notification.
/// - The controller's resident memory after all of it, and its peak during the API load.
enum APIBench {
    struct Options {
        var adminURL = ""
        var binary = ""
        var wrk = "/usr/bin/wrk"
        var pgbench = "/usr/bin/pgbench"
        var seconds = 10
        var connections = 64
    }

    static func main(arguments: [String]) async throws {
        var o = Options()
        let env = ProcessInfo.processInfo.environment
        guard let admin = env["BEAMSYNC_BENCH_DATABASE_URL"], let binary = env["BEAMSYNC_BENCH_BINARY"] else {
            say("beamsync-bench api needs BEAMSYNC_BENCH_DATABASE_URL and BEAMSYNC_BENCH_BINARY; run scripts/bench-api.sh")
            exit(2)
        }
        o.adminURL = admin
        o.binary = binary
        if let w = env["BEAMSYNC_BENCH_WRK"] { o.wrk = w }
        if let p = env["BEAMSYNC_BENCH_PGBENCH"] { o.pgbench = p }
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "--seconds": o.seconds = Int(arguments[i + 1]) ?? o.seconds; i += 1
            case "--connections": o.connections = Int(arguments[i + 1]) ?? o.connections; i += 1
            default: say("unknown argument \(arguments[i])"); exit(2)
            }
            i += 1
        }
        try await run(o)
    }

    /// A line on standard output at once (print buffers when the output is a file).
    static func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Fails the run with `message` (thrown, so every controller started so far is stopped).
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw Failure(description: message()) }
    }

    static func run(_ o: Options) async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-bench-api-\(getpid())")
        defer { try? FileManager.default.removeItem(at: work) }
        let repo = work.appendingPathComponent("repo")
        try generate(into: repo)
        say("beamsync-bench api — \(ProcessInfo.processInfo.activeProcessorCount) cores; 10,000 profiles in 50 projects of 200, "
              + "\(o.connections) concurrent clients, \(o.seconds) s per measurement")

        try await withBenchDatabase(o.adminURL) { conn, url in
            let controller = try Controller(binary: o.binary, repo: repo, database: url, work: work, name: "controller", extra: [])
            defer { controller.stop() }
            let applied = try await waitFor(600) {
                try await conn.query("SELECT last_applied_revision FROM gitops_sources").first?.optionalString("last_applied_revision") != nil
            }
            try require(applied, "the controller did not apply the repository: \(controller.log)")
            try require(try await conn.query("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n") == 10_000, "not 10,000 rows")
            try await Task.sleep(for: .seconds(1))
            let rssApplied = controller.memory()
            // From here on the peak counts the API load only, not the first apply's parse and plan.
            controller.resetPeakMemory()
            let token = try controller.createToken(database: url)
            let replica = try Controller(binary: o.binary, repo: repo, database: url, work: work, name: "uncached", extra: ["--api-cache-mib", "0"])
            defer { replica.stop() }
            for c in [controller, replica] {
                let answering = try await waitFor(60) { c.status("/api/v2/deployment-profiles?project_module=project-7", token: token) == 200 }
                try require(answering, "\(c.name) does not answer: \(c.log)")
            }
            let query = "/api/v2/deployment-profiles?project_module=project-7"
            let sample = try controller.fetch(query, token: token)
            let rows = (try JSONSerialization.jsonObject(with: sample) as? [String: Any])?["items"] as? [Any]
            say("GET \(query): \(rows?.count ?? 0) rows, \(sample.count) bytes")

            let sql = work.appendingPathComponent("list.sql")
            try floorStatement().write(to: sql, atomically: true, encoding: .utf8)
            var floors: [Double] = [], floorLatencies: [Double] = [], cached: [WrkResult] = [], uncached: [WrkResult] = []
            for round in 1...2 {
                let (floor, floorLatency) = try pgbench(o, sql: sql, url: url)
                floors.append(floor)
                floorLatencies.append(floorLatency)
                let hot = try wrk(o, url: controller.base + query, token: token, connections: o.connections)
                cached.append(hot)
                let cold = try wrk(o, url: replica.base + query, token: token, connections: o.connections)
                uncached.append(cold)
                say(String(format: "  round %d: pgbench %7.0f tx/s | API cached %7.0f req/s p99 %6.2f ms | API uncached %7.0f req/s p99 %6.2f ms",
                             round, floor, hot.rps, hot.p99ms, cold.rps, cold.p99ms))
            }
            let floor = floors.max()!
            let hot = cached.max { $0.rps < $1.rps }!, cold = uncached.max { $0.rps < $1.rps }!
            say("\nGET of 200 of 10,000 rows, \(o.connections) clients (best of 2 rounds):")
            line("pgbench, the same SELECT (database floor)", String(format: "%.0f tx/s, %.0f ms average", floor, floorLatencies.min()!),
                 goal: nil)
            line("API, list cache on: p99", String(format: "%.2f ms", hot.p99ms), goal: "≤ 15 ms", ok: hot.p99ms <= 15)
            line("API, list cache on: throughput / floor", String(format: "%.0f req/s = %.0f %%", hot.rps, 100 * hot.rps / floor),
                 goal: "≥ 50 %", ok: hot.rps >= floor / 2)
            // Bounded by the database's own answer time at this concurrency (pgbench's average above).
            line("API, every request runs the SELECT: p99", String(format: "%.2f ms", cold.p99ms), goal: nil)
            line("API, every request runs the SELECT: throughput / floor",
                 String(format: "%.0f req/s = %.0f %%", cold.rps, 100 * cold.rps / floor), goal: "≥ 50 %", ok: cold.rps >= floor / 2)

            // Memory is read once the controller has had its chance to give freed pages back (every 5 s).
            try await Task.sleep(for: .seconds(6))
            let rssAfterGets = controller.memory()
            replica.stop()
            let profilesURL = controller.base + "/api/v2/deployment-profiles"
            say("\nWrites (the uncached replica stopped):")
            let churn = work.appendingPathComponent("churn.lua")
            try churnScript.write(to: churn, atomically: true, encoding: .utf8)
            let mixed = try wrk(o, url: profilesURL, token: token, connections: 8, script: churn)
            line("POST and DELETE of it, 8 clients: p99 (\(String(format: "%.0f", mixed.rps)) req/s, \(mixed.non2xx) not 2xx)",
                 String(format: "%.2f ms", mixed.p99ms), goal: "≤ 30 ms", ok: mixed.p99ms <= 30 && mixed.non2xx == 0)
            let atTenThousand = try await conn.query("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n")
            try await Task.sleep(for: .seconds(6))
            let rssAfterWrites = controller.memory()
            let script = work.appendingPathComponent("post.lua")
            try postScript.write(to: script, atomically: true, encoding: .utf8)
            for clients in [1, 8, 64] {
                let r = try wrk(o, url: profilesURL, token: token, connections: clients, script: script)
                line("POST, \(clients) client\(clients == 1 ? "" : "s"): p99 (\(String(format: "%.0f", r.rps)) req/s, \(r.non2xx) not 201)",
                     String(format: "%.2f ms", r.p99ms), goal: clients == 64 ? nil : "≤ 30 ms", ok: r.p99ms <= 30 && r.non2xx == 0)
            }
            try await Task.sleep(for: .seconds(6))
            let rssAfter = controller.memory()
            let profiles = try await conn.query("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n")
            say("\nController memory 6 s after each load (resident; of it anonymous, i.e. not pages of the binary and its libraries):")
            line("after the first apply (10,000 profiles)", rssApplied.text, goal: nil)
            line("after the GET load (10,000 profiles)", rssAfterGets.text, goal: "≤ 64 MB", ok: rssAfterGets.rss <= 64)
            line("after GETs and create+delete writes (\(atTenThousand) profiles)", rssAfterWrites.text, goal: "≤ 64 MB",
                 ok: rssAfterWrites.rss <= 64)
            line("peak during those loads", String(format: "%.1f MB", rssAfterWrites.peak), goal: "≤ 64 MB", ok: rssAfterWrites.peak <= 64)
            line("after the POST loads too (\(profiles) profiles)", rssAfter.text, goal: nil)
        }
    }

    static func line(_ label: String, _ value: String, goal: String?, ok: Bool = true) {
        var text = "  " + label.padding(toLength: 64, withPad: " ", startingAt: 0) + value.padding(toLength: 24, withPad: " ", startingAt: 0)
        if let goal { text += "goal \(goal)  " + (ok ? "ok" : "MISSES THE GOAL") }
        say(text)
    }

    /// The list statement exactly as the API sends it, with the benchmark's values in place of
    /// its parameters (typed as the API's parameters are).
    static func floorStatement() -> String {
        let values = ["'project-7'::text", "NULL::text", "NULL::boolean", "false", "500", "0"]
        var sql = ProfileRepository.listSQL
        for (i, v) in values.enumerated().reversed() {
            sql = sql.replacingOccurrences(of: "$\(i + 1)::", with: "(\(v))::").replacingOccurrences(of: "$\(i + 1)", with: v)
        }
        return sql.replacingOccurrences(of: "\n", with: " ") + ";\n"
    }

    /// What both write scripts share: per-thread names, JSON bodies and `post()`, which creates a
    /// profile named `<letter><thread>-<random>-<n>` in `module`.
    static func writeScriptPreamble(letter: String, module: String) -> String {
        """
        local counter = 0
        -- A global, not a local: setup() sets it in each thread's state with thread:set, and a
        -- chunk-level local would shadow it (every thread would then name its profiles alike).
        id = 0
        function setup(thread)
          id = id + 1
          thread:set("id", id)
        end
        function init(args)
          math.randomseed(os.time() + id)
          prefix = "\(letter)" .. id .. "-" .. math.random(100000, 999999) .. "-"
          wrk.headers["Content-Type"] = "application/json"
        end
        function post()
          counter = counter + 1
          local body = '{"name":"' .. prefix .. counter .. '","project_module":"\(module)","translation":{"num_par":2},' ..
            '"deployment":{"kind":"rest_remote","deploy_host":"dim.example.org"}}'
          -- nil headers: wrk.headers, which hold the Authorization given with -H
          return wrk.format("POST", nil, nil, body)
        end

        """
    }

    /// A new profile each time.
    static let postScript = writeScriptPreamble(letter: "b", module: "bench-post") + """
        request = post
        """

    /// Each connection creates a profile, then deletes the one a response named (`Location`), so
    /// the table keeps its size under a write load.
    static let churnScript = writeScriptPreamble(letter: "c", module: "bench-churn") + """
        local created = {}
        request = function()
          if #created > 0 then
            return wrk.format("DELETE", table.remove(created), nil, nil)
          end
          return post()
        end
        response = function(status, headers, body)
          if status == 201 and headers["Location"] then table.insert(created, headers["Location"]) end
        end
        """

    struct WrkResult {
        var rps: Double
        var p99ms: Double
        var non2xx: Int
    }

    static func wrk(_ o: Options, url: String, token: String, connections: Int, script: URL? = nil) throws -> WrkResult {
        var args = ["-t", String(min(2, connections)), "-c", String(connections), "-d", "\(o.seconds)s", "--latency",
                    "-H", "Authorization: Bearer \(token)"]
        if let script { args += ["-s", script.path] }
        let out = try capture(o.wrk, args + [url])
        func number(after label: String) -> Double? {
            guard let line = out.split(separator: "\n").first(where: { $0.contains(label) }) else { return nil }
            return line.split(separator: " ").compactMap { Double($0) }.first
        }
        let rps = number(after: "Requests/sec:") ?? 0
        var p99 = Double.nan
        if let line = out.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("99%") }) {
            let value = String(line.trimmingCharacters(in: .whitespaces).dropFirst(3)).trimmingCharacters(in: .whitespaces)
            p99 = milliseconds(value)
        }
        var non2xx = 0
        if let line = out.split(separator: "\n").first(where: { $0.contains("Non-2xx or 3xx responses:") }) {
            non2xx = Int(line.split(separator: " ").last ?? "") ?? 0
        }
        return WrkResult(rps: rps, p99ms: p99, non2xx: non2xx)
    }

    static func milliseconds(_ text: String) -> Double {
        for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where text.hasSuffix(unit) {
            if let v = Double(text.dropLast(unit.count)) { return v * factor }
        }
        return .nan
    }

    /// pgbench ends a `-T` run on SIGALRM; a child of this process may inherit that signal
    /// blocked (pgbench then ran on for minutes), so perl restores it before running pgbench.
    /// Transactions per second and average latency in ms.
    static func pgbench(_ o: Options, sql: URL, url: String) throws -> (tps: Double, latencyMS: Double) {
        let restore = #"use POSIX; $SIG{ALRM} = "DEFAULT"; sigprocmask(SIG_UNBLOCK, POSIX::SigSet->new(SIGALRM)); exec @ARGV or die"#
        let out = try capture("/usr/bin/perl", ["-e", restore, o.pgbench, "-n", "-M", "extended", "-c", String(o.connections), "-j", "2",
                                                "-T", String(o.seconds), "-f", sql.path, url])
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let tps = line.split(separator: " ").compactMap({ Double($0) }).first else {
            throw Failure(description: "pgbench printed no tps: \(out.prefix(2000))")
        }
        let latency = out.split(separator: "\n").first(where: { $0.hasPrefix("latency average = ") })
            .flatMap { $0.split(separator: " ").compactMap({ Double($0) }).first } ?? .nan
        return (tps, latency)
    }

    static func capture(_ path: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func waitFor(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? await condition()) == true { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// 10,000 profiles, 50 projects of 200 each, half REST and half Slurm, committed to git.
    static func generate(into repo: URL) throws {
        let profiles = repo.appendingPathComponent("profiles")
        try FileManager.default.createDirectory(at: profiles, withIntermediateDirectories: true)
        for i in 0..<10_000 {
            let project = "project-\(i % 50)"
            let text = i % 2 == 0 ? """
                name: rest-\(i)
                description: Generated REST profile number \(i)
                project_module: \(project)
                max_concurrent_executions: \(1 + i % 4)
                translation: {algo: metis, num_par: \(1 + i % 8), tm_url: "http://dlg-tm-\(i % 3):8084"}
                deployment: {kind: rest_remote, dim_host_for_tm: dim-\(i % 5), deploy_host: dim-\(i % 5).example.org}

                """ : """
                name: slurm-\(i)
                description: Generated Slurm profile number \(i)
                project_module: \(project)
                translation: {algo: mysarkar, num_par: \(1 + i % 8), num_islands: 1}
                deployment:
                  kind: slurm_remote
                  login_node: login\(i % 4).example.org
                  account: acct\(i % 7)
                  home_dir: /home/beampipe
                  log_dir: /scratch/beampipe/logs
                  dlg_root: /scratch/beampipe/dlg
                  ssh_credential: slot-\(i % 3)
                  resources: {partition: work, memory: 64G}

                """
            try text.write(to: profiles.appendingPathComponent(String(format: "p%05d.yaml", i)), atomically: false, encoding: .utf8)
        }
        for args in [["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.email=b@e", "-c", "user.name=bench", "commit", "-q", "-m", "10k"]] {
            _ = try capture("/usr/bin/git", ["-C", repo.path] + args)
        }
    }

    /// One `beamsync run` process on a free loopback port.
    final class Controller {
        let name: String
        let process = Process()
        let port: Int
        let logFile: URL
        let binary: String

        init(binary: String, repo: URL, database: String, work: URL, name: String, extra: [String]) throws {
            self.name = name
            self.binary = binary
            port = try freePort()
            logFile = work.appendingPathComponent("\(name).log")
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["run", "--repo", "file://" + repo.path, "--interval", "1h", "--listen", "127.0.0.1:\(port)",
                                 "--cache-dir", work.appendingPathComponent("\(name)-cache").path, "--api-write-rate", "100000"] + extra
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = database
            process.environment = env
            let handle = try FileHandle(forWritingTo: logFile)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        var base: String { "http://127.0.0.1:\(port)" }
        var log: String { String((try? String(contentsOf: logFile, encoding: .utf8))?.suffix(2000) ?? "") }

        func stop() {
            guard process.isRunning else { return }
            process.terminate()
            process.waitUntilExit()
        }

        /// Starts the peak resident size (VmHWM) over from the current size.
        func resetPeakMemory() {
            try? "5".write(toFile: "/proc/\(process.processIdentifier)/clear_refs", atomically: false, encoding: .utf8)
        }

        func createToken(database: String) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["token", "create", "--name", "bench-\(getpid())", "--scope", "admin"]
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = database
            p.environment = env
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let token = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            p.waitUntilExit()
            try APIBench.require(p.terminationStatus == 0 && token.hasPrefix("bst_"), "beamsync token create failed")
            return token
        }

        func status(_ path: String, token: String) -> Int {
            Int((try? APIBench.capture("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5",
                                                         "-H", "Authorization: Bearer \(token)", base + path])) ?? "") ?? 0
        }

        func fetch(_ path: String, token: String) throws -> Data {
            Data(try APIBench.capture("/usr/bin/curl", ["-s", "-m", "10", "-H", "Authorization: Bearer \(token)", base + path]).utf8)
        }

        struct Memory {
            var rss: Double, peak: Double, anonymous: Double
            var text: String { String(format: "%.1f MB (%.1f MB)", rss, anonymous) }
        }

        /// Resident, peak resident and anonymous resident memory in MB, from /proc.
        func memory() -> Memory {
            let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
            func kb(_ key: String) -> Double {
                guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return .nan }
                return Double(line.split(separator: " ").compactMap { Double($0) }.first ?? .nan)
            }
            return Memory(rss: kb("VmRSS:") / 1000, peak: kb("VmHWM:") / 1000, anonymous: kb("RssAnon:") / 1000)
        }
    }

    /// A loopback port that was free a moment ago (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
