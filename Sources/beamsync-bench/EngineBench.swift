import BeamsyncEngine
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `beamsync-bench engine`: the execution engine against a real DALiuGE stack (run by
/// `scripts/bench-engine.sh`, which starts PostgreSQL and DALiuGE 6.6.0 and sets the environment).
///
/// (a) latency: the time beamsync adds to a HelloWorld execution beyond the raw Translator
///     Manager and DIM calls, measured side by side in one run with the same poll interval.
/// (b) poll cost: 100 executions deployed at once on one DIM; one runner poll round over all of
///     them (wall time, CPU, PostgreSQL calls and HTTP requests per poll), and the time until all
///     are completed.
enum EngineBench {
    struct Setup {
        var adminURL = ""
        var tmURL = ""
        var dimHost = ""
        var dimPort = 0
        var fixtures = URL(fileURLWithPath: "Tests/BeamsyncEngineTests/Fixtures")
        var runs = 10
        var pollInterval = 100
        var executions = 100
        var sleepSeconds = 60
        var rounds = 5
        var only: String?
    }

    static func main(arguments: [String]) async throws {
        var setup = Setup()
        let env = ProcessInfo.processInfo.environment
        func need(_ name: String) -> String {
            guard let value = env[name], !value.isEmpty else {
                FileHandle.standardError.write(Data("beamsync-bench engine: \(name) is not set; run scripts/bench-engine.sh\n".utf8))
                exit(2)
            }
            return value
        }
        setup.adminURL = need("BEAMSYNC_BENCH_DATABASE_URL")
        setup.tmURL = need("BEAMSYNC_BENCH_TM_URL")
        setup.dimHost = need("BEAMSYNC_BENCH_DIM_HOST")
        setup.dimPort = Int(need("BEAMSYNC_BENCH_DIM_PORT")) ?? 0
        var rest = arguments[...]
        while let option = rest.popFirst() {
            guard let value = rest.popFirst() else { usage("\(option) needs a value") }
            switch option {
            case "--runs": setup.runs = Int(value) ?? 0
            case "--poll-ms": setup.pollInterval = Int(value) ?? 0
            case "--executions": setup.executions = Int(value) ?? 0
            case "--sleep": setup.sleepSeconds = Int(value) ?? 0
            case "--rounds": setup.rounds = Int(value) ?? 0
            case "--only": setup.only = value
            default: usage("unknown option \(option)")
            }
        }
        guard setup.runs > 0, setup.pollInterval > 0, setup.executions > 0, setup.sleepSeconds > 0, setup.rounds > 0,
              setup.only == nil || ["latency", "poll"].contains(setup.only!) else { usage("values must be positive") }

        print("beamsync bench engine — \(ProcessInfo.processInfo.activeProcessorCount) cores, DALiuGE TM \(setup.tmURL), "
              + "DIM \(setup.dimHost):\(setup.dimPort)")
        if setup.only != "poll" {
            try await withBenchDatabase(setup.adminURL) { conn, url in try await latency(setup, conn: conn, url: url) }
        }
        if setup.only != "latency" {
            try await withBenchDatabase(setup.adminURL) { conn, url in try await pollCost(setup, conn: conn, url: url) }
        }
    }

    static func usage(_ problem: String) -> Never {
        FileHandle.standardError.write(Data("""
            beamsync-bench engine: \(problem)
            usage: beamsync-bench engine [--runs 10] [--poll-ms 100] [--executions 100] [--sleep 60] [--rounds 5] [--only latency|poll]

            """.utf8))
        exit(64)
    }

    // MARK: Shared

    static func insertProfile(_ setup: Setup, conn: PGConnection) async throws {
        let translation = JSONValue.object(["algo": .string("metis"), "num_par": .int(1), "num_islands": .int(1),
                                            "tm_url": .string(setup.tmURL)])
        let deployment = JSONValue.object([
            "kind": .string("rest_remote"), "deploy_host": .string(setup.dimHost), "deploy_port": .int(Int64(setup.dimPort)),
            "dim_host_for_tm": .string(setup.dimHost), "dim_port_for_tm": .int(Int64(setup.dimPort)),
        ])
        try await conn.query("""
            INSERT INTO daliuge_deployment_profile (name, is_default, translation, deployment, spec_sha256)
            VALUES ('dim', true, $1, $2, 'bench')
            """, [.json(translation.canonicalString), .json(deployment.canonicalString)])
    }

    static func fixture(_ setup: Setup, _ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: setup.fixtures.appendingPathComponent(name)))
    }

    static let verbose = ProcessInfo.processInfo.environment["BEAMSYNC_BENCH_VERBOSE"] == "1"

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func line(_ label: String, _ seconds: Double, _ extra: String = "") -> String {
        label.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: " %8.3f s", seconds) + extra
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.0f", seconds * 1000) }

    // MARK: (a) HelloWorld latency

    /// One sequence of calls, timed per phase.
    struct Phases {
        var translate = 0.0, create = 0.0, append = 0.0, deploy = 0.0, poll = 0.0
        var total: Double { translate + create + append + deploy + poll }
        static func median(_ all: [Phases]) -> Phases {
            Phases(translate: EngineBench.median(all.map(\.translate)), create: EngineBench.median(all.map(\.create)),
                   append: EngineBench.median(all.map(\.append)), deploy: EngineBench.median(all.map(\.deploy)),
                   poll: EngineBench.median(all.map(\.poll)))
        }
        var text: String {
            "translate \(ms(translate)), create \(ms(create)), append \(ms(append)), deploy \(ms(deploy)), poll→finished \(ms(poll)) ms"
        }
    }

    static func latency(_ setup: Setup, conn: PGConnection, url: String) async throws {
        let pollInterval = Duration.milliseconds(Int64(setup.pollInterval))
        print("\n(a) HelloWorld on the real DIM, \(setup.runs) runs of each, interleaved, poll interval \(setup.pollInterval) ms "
              + "for all (medians):")
        try await insertProfile(setup, conn: conn)
        let graph = try fixture(setup, "HelloWorld.graph")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-bench-engine-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let graphFile = scratch.appendingPathComponent("HelloWorld.graph")
        try Data(graph).write(to: graphFile)

        var config = RunnerConfiguration(useRealBackends: true)
        config.poll = PollPolicy(initialDelay: pollInterval, maxDelay: pollInterval, multiplier: 1, jitter: 0,
                                 maxDuration: .seconds(600), maxUnknownReadings: 3, maxUnreachableReadings: 10)
        let runner = ExecutionRunner(conninfo: url, configuration: config)
        let loop = Task { await runner.run() }
        let watcher = try await PGConnection.connect(conninfo: url)
        try await watcher.listen(ExecutionLedger.eventChannel)
        let ledger = ExecutionLedger(conn: conn)
        let http = HTTPClient(threads: 2, name: "bench-raw")
        let dimURL = "http://\(setup.dimHost):\(setup.dimPort)"

        var curlRuns: [Phases] = [], rawRuns: [Phases] = [], ourRuns: [Double] = [], ourPhases: [Phases] = []
        for run in 0...setup.runs {  // run 0 warms every path up and is not counted
            let curl = try await curlSequence(setup, dimURL: dimURL, graphFile: graphFile, scratch: scratch,
                                              session: "bench-curl-\(run)-\(UUID().uuidString.prefix(8))", poll: pollInterval)
            let raw = try await rawSequence(setup, http: http, graph: graph,
                                            session: "bench-raw-\(run)-\(UUID().uuidString.prefix(8))", poll: pollInterval)
            let (ours, phases) = try await runnerExecution(ledger: ledger, watcher: watcher, graph: graph, name: "hello-\(run)")
            if run > 0 {
                curlRuns.append(curl)
                rawRuns.append(raw)
                ourRuns.append(ours)
                ourPhases.append(phases)
            }
        }
        loop.cancel()
        await loop.value
        await runner.close()
        await watcher.close()

        let curl = Phases.median(curlRuns), raw = Phases.median(rawRuns)
        let curlTotal = median(curlRuns.map(\.total)), rawTotal = median(rawRuns.map(\.total)), ours = median(ourRuns)
        print(line("curl CLI, one process per call", curlTotal, "   (\(curl.text))"))
        print(line("same calls in-process (libcurl, no ledger)", rawTotal, "   (\(raw.text))"))
        print(line("ExecutionRunner: create → completed recorded", ours, "   (\(Phases.median(ourPhases).text), from the ledger's events)"))
        let ratio = ours / curlTotal
        print(String(format: "    beamsync / curl = %.2fx   goal <= 1.2x  %@", ratio, ratio <= 1.2 ? "ok" : "ABOVE GOAL"))
        print(String(format: "    beamsync / in-process calls = %.2fx (%.0f ms for ledger, state checks and hand-over per execution)",
                     ours / rawTotal, (ours - rawTotal) * 1000))
        print("    spread (min–max): curl \(ms(curlRuns.map(\.total).min()!))–\(ms(curlRuns.map(\.total).max()!)) ms, "
              + "in-process \(ms(rawRuns.map(\.total).min()!))–\(ms(rawRuns.map(\.total).max()!)) ms, "
              + "beamsync \(ms(ourRuns.min()!))–\(ms(ourRuns.max()!)) ms")
    }

    /// The calls as a shell script would make them: one `curl` process per call.
    static func curlSequence(_ setup: Setup, dimURL: String, graphFile: URL, scratch: URL, session: String,
                             poll: Duration) async throws -> Phases {
        var phases = Phases()
        let pgt = scratch.appendingPathComponent("pgt.json").path, pg = scratch.appendingPathComponent("pg.json").path
        var t = now()
        try curl(["-X", "POST", setup.tmURL + "/unroll_and_partition", "-H", "Content-Type: application/x-www-form-urlencoded",
                  "--data-urlencode", "lg_content@" + graphFile.path, "--data-urlencode", "num_partitions=1",
                  "--data-urlencode", "num_islands=1", "--data-urlencode", "algorithm=metis"], output: pgt, scratch: scratch)
        try curl(["-X", "POST", setup.tmURL + "/map", "-H", "Content-Type: application/x-www-form-urlencoded",
                  "--data-urlencode", "pgt_content@" + pgt, "--data-urlencode", "host=\(setup.dimHost)",
                  "--data-urlencode", "port=\(setup.dimPort)", "--data-urlencode", "num_islands=1",
                  "--data-urlencode", "co_host_dim=true"], output: pg, scratch: scratch)
        // What a script would compute with jq: the roots for deploy (here with beamsync's own reading).
        let roots = try PhysicalGraph(mapOutput: Array(try Data(contentsOf: URL(fileURLWithPath: pg)))).roots
        phases.translate = now() - t
        t = now()
        try curl(["-X", "POST", dimURL + "/api/sessions", "-H", "Content-Type: application/json",
                  "-d", #"{"sessionId":"\#(session)"}"#], output: "/dev/null", scratch: scratch)
        phases.create = now() - t
        t = now()
        try curl(["-X", "POST", dimURL + "/api/sessions/\(session)/graph/append", "-H", "Content-Type: application/json",
                  "--data-binary", "@" + pg], output: "/dev/null", scratch: scratch)
        phases.append = now() - t
        t = now()
        try curl(["-X", "POST", dimURL + "/api/sessions/\(session)/deploy", "-H", "Content-Type: application/x-www-form-urlencoded",
                  "--data-binary", "completed=" + roots.joined(separator: ",")], output: "/dev/null", scratch: scratch)
        phases.deploy = now() - t
        t = now()
        let status = scratch.appendingPathComponent("status.json").path
        while true {
            try await Task.sleep(for: poll)
            try curl([dimURL + "/api/sessions/\(session)/status"], output: status, scratch: scratch)
            let state = SessionStatus(json: try JSONValue.parse(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: status))))).state
            if state.isTerminal {
                guard state == .finished else { throw BenchError("curl run: session \(session) ended \(state)") }
                break
            }
        }
        try curl([dimURL + "/api/sessions/\(session)/graph/status"], output: "/dev/null", scratch: scratch)
        phases.poll = now() - t
        return phases
    }

    /// The same calls from this process through libcurl (beamsync's HTTP client), nothing recorded.
    static func rawSequence(_ setup: Setup, http: HTTPClient, graph: [UInt8], session: String, poll: Duration) async throws -> Phases {
        var phases = Phases()
        let translator = TranslatorClient(endpoint: TranslatorEndpoint(baseURL: setup.tmURL), http: http)
        let dim = DIMClient(endpoint: DIMEndpoint(baseURL: "http://\(setup.dimHost):\(setup.dimPort)"), http: http)
        var t = now()
        let pgt = try await translator.unrollAndPartition(logicalGraph: graph, settings: PartitionSettings(numPartitions: 1, numIslands: 1,
                                                                                                             algorithm: .metis))
        let pg = try PhysicalGraph(mapOutput: try await translator.map(partitionedGraph: pgt,
                                                                       settings: MapSettings(dimHost: setup.dimHost, dimPort: setup.dimPort)))
        phases.translate = now() - t
        t = now()
        try await dim.createSession(session)
        phases.create = now() - t
        t = now()
        try await dim.appendGraph(session, graph: pg)
        phases.append = now() - t
        t = now()
        try await dim.deploy(session, roots: pg.roots)
        phases.deploy = now() - t
        t = now()
        while true {
            try await Task.sleep(for: poll)
            let state = try await dim.sessionStatus(session).state
            if state.isTerminal {
                guard state == .finished else { throw BenchError("in-process run: session \(session) ended \(state)") }
                break
            }
        }
        _ = try await dim.graphStatus(session)
        phases.poll = now() - t
        return phases
    }

    /// Creates an execution (the runner, already running, wakes on its NOTIFY) and waits for the
    /// notification that `completed` was recorded. Phases from the events' timestamps.
    static func runnerExecution(ledger: ExecutionLedger, watcher: PGConnection, graph: [UInt8], name: String) async throws -> (Double, Phases) {
        let t = now()
        let record = try await ledger.create(ExecutionRequest(name: name, projectModule: "bench", profileName: "dim",
                                                              graph: .content(graph, path: "HelloWorld.graph"), createdBy: "bench"))
        let id = record.id.uuidString.lowercased()
        while true {
            guard let note = try await watcher.waitForNotification(timeout: .seconds(120)) else {
                throw BenchError("execution \(name) did not complete within 120 s")
            }
            if note.payload == "\(id) completed completed" { break }
            if note.payload.hasPrefix("\(id) failed") || note.payload.hasPrefix("\(id) cancelled") {
                let last = try await ledger.get(id: record.id)
                throw BenchError("execution \(name) ended \(note.payload): \(last?.lastError ?? "")")
            }
        }
        let elapsed = now() - t
        let events = try await ledger.events(of: record.id).filter { $0.step != "poll" && $0.step != "retry" }
        func at(_ step: String) -> Double { events.first { $0.step == step }?.occurredAt.timeIntervalSince1970 ?? .nan }
        let phases = Phases(translate: at("session_creating") - at("translating"), create: at("graph_appending") - at("session_creating"),
                            append: at("deploying") - at("graph_appending"), deploy: at("deployed") - at("deploying"),
                            poll: at("completed") - at("deployed"))
        return (elapsed, phases)
    }

    /// Runs `curl -s -o OUTPUT -w %{http_code} ARGS` (posix_spawn; Foundation's Process spins a
    /// CPU while it waits) and throws unless the answer is 2xx.
    static func curl(_ arguments: [String], output: String, scratch: URL) throws {
        let codeFile = scratch.appendingPathComponent("code").path
        let status = try spawn("/usr/bin/curl", ["-s", "-o", output, "-w", "%{http_code}"] + arguments, stdout: codeFile)
        let code = (try? String(contentsOfFile: codeFile, encoding: .utf8)) ?? ""
        guard status == 0, code.hasPrefix("2") else { throw BenchError("curl \(arguments.prefix(3)) → exit \(status), HTTP \(code)") }
    }

    static func spawn(_ path: String, _ arguments: [String], stdout: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, nil, argv, environ)
        guard rc == 0 else { throw BenchError("cannot start \(path): error \(rc)") }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    // MARK: (b) Poll cost of many executions

    static func pollCost(_ setup: Setup, conn: PGConnection, url: String) async throws {
        let count = setup.executions
        print("\n(b) \(count) executions on one DIM, each a \(setup.sleepSeconds) s SleepApp (all sessions running at once):")
        try await insertProfile(setup, conn: conn)
        let text = String(decoding: try fixture(setup, "Sleep.graph"), as: UTF8.self)
        let graph = Array(text.replacingOccurrences(of: "\"value\": 120,", with: "\"value\": \(setup.sleepSeconds),")
            .replacingOccurrences(of: "\"defaultValue\": 120,", with: "\"defaultValue\": \(setup.sleepSeconds),").utf8)
        var config = RunnerConfiguration(useRealBackends: true)
        config.batchSize = count
        let runner = ExecutionRunner(conninfo: url, configuration: config)
        var loop = Task { await runner.run() }
        let ledger = ExecutionLedger(conn: conn)

        let t0 = now()
        for i in 0..<count {
            _ = try await ledger.create(ExecutionRequest(name: "nap-\(i)", projectModule: "bench", profileName: "dim",
                                                         graph: .content(graph, path: "Sleep.graph"), createdBy: "bench"))
        }
        func counts() async throws -> (deployed: Int, terminal: Int, failed: Int) {
            let row = try await conn.query("""
                SELECT count(*) FILTER (WHERE step = 'deployed') AS deployed,
                       count(*) FILTER (WHERE completed_at IS NOT NULL) AS terminal,
                       count(*) FILTER (WHERE status <> 'completed' AND completed_at IS NOT NULL) AS failed
                FROM executions
                """).single()
            return (try row.int("deployed"), try row.int("terminal"), try row.int("failed"))
        }
        while true {
            let c = try await counts()
            if c.failed > 0 {
                let error = try await conn.query("SELECT last_error FROM executions WHERE status = 'failed' LIMIT 1").first?.optionalString("last_error")
                throw BenchError("an execution failed while deploying: \(error ?? "?")")
            }
            if c.deployed + c.terminal == count { break }
            if now() - t0 > Double(setup.sleepSeconds) { throw BenchError("only \(c.deployed) of \(count) deployed after \(setup.sleepSeconds) s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let deployedAll = now() - t0
        print(line("create → all \(count) deployed (concurrency \(config.concurrency))", deployedAll,
                   String(format: "   (%.0f ms per execution)", deployedAll * 1000 / Double(count))))
        guard try await counts().terminal == 0 else { throw BenchError("sessions ended before the poll rounds; use a longer --sleep") }

        // Controlled rounds: the loop stops; each round makes every execution due and runs one pass.
        loop.cancel()
        await loop.value
        for width in [config.concurrency, 1] {
            var c = config
            c.concurrency = width
            let roundRunner = width == config.concurrency ? runner : ExecutionRunner(conninfo: url, configuration: c)
            var walls: [Double] = [], cpus: [Double] = [], calls: [Double] = [], requests: [Double] = []
            for _ in 0..<setup.rounds {
                try await conn.query("UPDATE executions SET next_poll_at = now() WHERE completed_at IS NULL")
                let (calls0, http0, cpu0, t) = (PGConnection.callsMade, roundRunner.httpRequestsSent, cpuSeconds(), now())
                let taken = await roundRunner.runOnce()
                let wall = now() - t
                let (calls1, http1, cpu1) = (PGConnection.callsMade, roundRunner.httpRequestsSent, cpuSeconds())
                guard taken == count else { throw BenchError("a round took \(taken) executions, not \(count)") }
                let running = try await conn.query("SELECT count(*) AS n FROM executions WHERE daliuge_state = 'RUNNING' AND step = 'deployed'")
                    .single().int("n")
                guard running == count else { throw BenchError("only \(running) of \(count) read RUNNING in a round; use a longer --sleep") }
                walls.append(wall)
                if verbose { print(String(format: "      round: %.3f s, %d PostgreSQL calls, %d HTTP requests", wall, calls1 - calls0, http1 - http0)) }
                cpus.append((cpu1 - cpu0) / Double(count))
                calls.append(Double(calls1 - calls0) / Double(count))
                requests.append(Double(http1 - http0) / Double(count))
            }
            if roundRunner !== runner { await roundRunner.close() }
            print(line("poll round over \(count), concurrency \(width), median of \(setup.rounds)", median(walls),
                       String(format: "   %.2f ms wall and %.2f ms runner CPU per poll; %.2f PostgreSQL calls, %.2f HTTP requests per poll",
                              median(walls) * 1000 / Double(count), median(cpus) * 1000, median(calls), median(requests))))
        }

        // Floor: the same status reads straight from this process (libcurl), nothing recorded.
        let sessions = try await conn.query("SELECT daliuge_session_id AS s FROM executions").rows.map { try $0.string("s") }
        for width in [config.callsPerHost, 1] {
            let http = HTTPClient(threads: width, name: "bench-floor")
            let dim = DIMClient(endpoint: DIMEndpoint(baseURL: "http://\(setup.dimHost):\(setup.dimPort)"), http: http)
            var walls: [Double] = []
            for _ in 0..<setup.rounds {
                let t = now()
                try await withThrowingTaskGroup(of: DIMSessionState.self) { group in
                    var next = sessions.makeIterator()
                    for _ in 0..<width { if let s = next.next() { group.addTask { try await dim.sessionStatus(s).state } } }
                    while let state = try await group.next() {
                        guard state == .running else { throw BenchError("a session reads \(state) during the floor rounds") }
                        if let s = next.next() { group.addTask { try await dim.sessionStatus(s).state } }
                    }
                }
                walls.append(now() - t)
            }
            print(line("  floor: \(count) status GETs, \(width) at a time, no ledger", median(walls),
                       String(format: "   %.2f ms per read", median(walls) * 1000 / Double(count))))
        }

        loop = Task { await runner.run() }
        while try await counts().terminal < count {
            if now() - t0 > Double(setup.sleepSeconds) * 4 + 120 { throw BenchError("executions still running long after their sleep") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let total = now() - t0
        loop.cancel()
        await loop.value
        await runner.close()
        let failed = try await counts().failed
        // How long after its session's sleep ended each execution was recorded completed.
        let lags = try await conn.query("""
            SELECT extract(epoch FROM e.completed_at - d.occurred_at) - $1 AS lag
            FROM executions e JOIN execution_events d ON d.execution_id = e.uuid AND d.step = 'deployed'
            """, [.double(Double(setup.sleepSeconds))]).rows.map { try $0.double("lag") }
        if verbose {
            print("      lags: " + lags.sorted().map { String(format: "%.1f", $0) }.joined(separator: " "))
            let worst = try await conn.query("""
                SELECT e.name, ev.step, ev.occurred_at, ev.detail->>'message' AS message
                FROM executions e JOIN execution_events ev ON ev.execution_id = e.uuid
                WHERE e.uuid = (SELECT uuid FROM executions ORDER BY completed_at DESC LIMIT 1) ORDER BY ev.id
                """)
            for row in worst.rows {
                print("      \(try row.string("name")) \(try row.string("step")) \(try row.date("occurred_at")) \(try row.optionalString("message") ?? "")")
            }
        }
        print(line("create → all \(count) completed", total, "   (\(failed) not completed)"))
        print(String(format: "    completed recorded after the session's %d s sleep: median %.2f s, max %.2f s later "
                     + "(poll delay: a tenth of the run time, 0.5–15 s)", setup.sleepSeconds, median(lags), lags.max() ?? .nan))
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
