import BeamsyncEngine
import BeamsyncModel
import BeamsyncPostgres
import BeamsyncSSH
import BeamsyncStore
import Foundation

/// `beamsync-bench slurm`: the slurm_remote backend against the local Slurm cluster (run by
/// `scripts/bench-slurm.sh`, which starts the cluster, a Translator Manager and PostgreSQL).
///
/// (a) submission: HelloWorld through the ExecutionRunner against `scripts/slurm-submit-by-hand.sh`
///     (the same steps from a shell), interleaved; the submission part (everything up to the job
///     id) and the whole run (to the end state), medians; goal for the submission <= 1.2x.
/// (b) polling: `--jobs` held jobs on one target, followed by one poller with every job asked for
///     at once each cycle (as concurrent executions ask): SSH sessions, remote commands per cycle
///     and the cycle's time against one bare squeue of the same jobs over the open session; goal
///     one session, <= 2 commands and <= 1.5x.
enum SlurmBench {
    struct Setup {
        var adminURL = ""
        var runs = 3
        var jobs = 50
        var cycles = 20
        var only: String?
        var fixtures = URL(fileURLWithPath: "Tests/BeamsyncEngineTests/Fixtures")
        var byHand = URL(fileURLWithPath: "scripts/slurm-submit-by-hand.sh")
    }

    static func main(arguments: [String]) async throws {
        var setup = Setup()
        let env = ProcessInfo.processInfo.environment
        guard let url = env["BEAMSYNC_BENCH_DATABASE_URL"], !url.isEmpty, let cluster = SlurmCluster.current, cluster.tmURL != nil else {
            FileHandle.standardError.write(Data("beamsync-bench slurm: BEAMSYNC_BENCH_DATABASE_URL, BEAMSYNC_TEST_SLURM_* and BEAMSYNC_TEST_TM_URL must be set; run scripts/bench-slurm.sh\n".utf8))
            exit(2)
        }
        setup.adminURL = url
        var rest = arguments[...]
        while let option = rest.popFirst() {
            guard let value = rest.popFirst() else { usage("\(option) needs a value") }
            switch option {
            case "--runs": setup.runs = Int(value) ?? 0
            case "--jobs": setup.jobs = Int(value) ?? 0
            case "--cycles": setup.cycles = Int(value) ?? 0
            case "--only": setup.only = value
            default: usage("unknown option \(option)")
            }
        }
        guard setup.runs > 0, (1...500).contains(setup.jobs), setup.cycles > 0,
              setup.only == nil || ["submit", "poll"].contains(setup.only!) else { usage("values must be positive (jobs at most 500)") }
        print("beamsync bench slurm — \(ProcessInfo.processInfo.activeProcessorCount) cores, login node \(cluster.user)@\(cluster.host):\(cluster.port), "
              + "TM \(cluster.tmURL!)")
        if setup.only != "poll" {
            try await withBenchDatabase(setup.adminURL) { conn, url in try await submission(setup, cluster, conn: conn, url: url) }
        }
        if setup.only != "submit" { try await polling(setup, cluster) }
    }

    static func usage(_ problem: String) -> Never {
        FileHandle.standardError.write(Data("""
            beamsync-bench slurm: \(problem)
            usage: beamsync-bench slurm [--runs 3] [--jobs 50] [--cycles 20] [--only submit|poll]

            """.utf8))
        exit(64)
    }

    // MARK: (a) Submission against the by-hand script

    struct Times {
        var submit = 0.0, total = 0.0
    }

    static func submission(_ setup: Setup, _ cluster: SlurmCluster, conn: PGConnection, url: String) async throws {
        print("\n(a) HelloWorld, \(setup.runs) runs of each, interleaved (medians; both poll the job every second):")
        try await conn.query("""
            INSERT INTO daliuge_deployment_profile (name, is_default, translation, deployment, spec_sha256)
            VALUES ('slurm', true, $1, $2, 'bench')
            """, [.json(cluster.translationJSON), .json(cluster.deploymentJSON)])
        var config = RunnerConfiguration(useRealBackends: true, environment: cluster.environment)
        config.poll = PollPolicy(initialDelay: .seconds(1), maxDelay: .seconds(1), multiplier: 1, jitter: 0,
                                 maxDuration: .seconds(600), maxUnknownReadings: 3, maxUnreachableReadings: 10)
        let runner = ExecutionRunner(conninfo: url, configuration: config)
        let loop = Task { await runner.run() }
        let ledger = ExecutionLedger(conn: conn)
        let graph = Array(try Data(contentsOf: setup.fixtures.appendingPathComponent("HelloWorld.graph")))
        var hand: [Times] = [], ours: [Times] = []
        for run in 0...setup.runs {  // run 0 warms both paths up and is not counted
            let h = try byHand(setup)
            let o = try await runnerExecution(ledger: ledger, graph: graph, name: "bench-slurm-\(run)")
            if EngineBench.verbose { print("    run \(run): by hand \(ms(h.submit))/\(ms(h.total)) ms, beamsync \(ms(o.submit))/\(ms(o.total)) ms") }
            if run > 0 {
                hand.append(h)
                ours.append(o)
            }
        }
        loop.cancel()
        await loop.value
        await runner.close()
        let handSubmit = EngineBench.median(hand.map(\.submit)), oursSubmit = EngineBench.median(ours.map(\.submit))
        let handTotal = EngineBench.median(hand.map(\.total)), oursTotal = EngineBench.median(ours.map(\.total))
        print(EngineBench.line("by hand: connect..sbatch", handSubmit, "   (scripts/slurm-submit-by-hand.sh)"))
        print(EngineBench.line("ExecutionRunner: created..submitted recorded", oursSubmit))
        let ratio = oursSubmit / handSubmit
        print(String(format: "    submission: beamsync / by hand = %.2fx   goal <= 1.2x  %@", ratio, ratio <= 1.2 ? "ok" : "ABOVE GOAL"))
        print(EngineBench.line("by hand: connect..end state in sacct", handTotal))
        print(EngineBench.line("ExecutionRunner: created..completed recorded", oursTotal))
        print(String(format: "    whole run: beamsync / by hand = %.2fx", oursTotal / handTotal))
        print("    spread (min–max): submission by hand \(ms(hand.map(\.submit).min()!))–\(ms(hand.map(\.submit).max()!)) ms, "
              + "beamsync \(ms(ours.map(\.submit).min()!))–\(ms(ours.map(\.submit).max()!)) ms")
    }

    /// One run of the by-hand script: its step times (stderr `  step NAME: S s`).
    static func byHand(_ setup: Setup) throws -> Times {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [setup.byHand.path, "--poll", "1"]
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchFailure(description: "slurm-submit-by-hand.sh exited with \(process.terminationStatus):\n\(text)")
        }
        var steps: [String: Double] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("  step ") {
            let parts = line.dropFirst(7).split(separator: ":")
            if parts.count == 2, let seconds = Double(parts[1].trimmingCharacters(in: .whitespaces).dropLast(2)) {
                steps[String(parts[0])] = seconds
            }
        }
        let submit = ["connect", "translate", "upload", "create", "sbatch"].compactMap { steps[$0] }.reduce(0, +)
        return Times(submit: submit, total: steps.values.reduce(0, +))
    }

    /// One execution through the runner: created → first `submitted` event, and → completed.
    static func runnerExecution(ledger: ExecutionLedger, graph: [UInt8], name: String) async throws -> Times {
        let e = try await ledger.create(ExecutionRequest(name: name, projectModule: "bench", graph: .content(graph, path: "HelloWorld.graph"),
                                                         createdBy: "bench"))
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            if let current = try await ledger.get(id: e.id), current.isTerminal {
                guard current.status == .completed else { throw BenchFailure(description: "\(name) ended \(current.status): \(current.lastError ?? "")") }
                let events = try await ledger.events(of: e.id)
                let created = events.first!.occurredAt
                let submitted = events.first { $0.step == "submitted" }?.occurredAt ?? created
                return Times(submit: submitted.timeIntervalSince(created), total: current.completedAt!.timeIntervalSince(created))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchFailure(description: "\(name) did not end within 300 s")
    }

    // MARK: (b) Polling many jobs on one target

    static func polling(_ setup: Setup, _ cluster: SlurmCluster) async throws {
        print("\n(b) \(setup.jobs) jobs in flight on one target (held, so they stay queued), \(setup.cycles) poll cycles (medians), "
              + "each job with a session directory whose DALiuGE log the cycle reads:")
        let backend = SlurmBackend(environment: cluster.environment)
        let target = backend.policy.target(for: SSHProfileFields(loginNode: cluster.host, sshPort: cluster.port, remoteUser: cluster.user))
        let name = "beamsync-bench-poll-\(getpid())"
        var jobs: [String] = []
        // One sbatch per job, in batches over the one session.
        let script = (0..<setup.jobs).map { _ in
            "sbatch --parsable --hold --job-name=\(name) --account=\(cluster.account) --wrap 'sleep 600'"
        }.joined(separator: "; ")
        let submitted = try await backend.pool.exec(script, on: target, timeout: .seconds(300))
        jobs = submitted.stdoutText.split(separator: "\n").map(String.init).filter { $0.allSatisfy(\.isNumber) && !$0.isEmpty }
        guard jobs.count == setup.jobs else { throw BenchFailure(description: "submitted \(jobs.count) of \(setup.jobs) jobs: \(submitted.stderrText)") }
        defer { Task { _ = try? await backend.pool.exec("scancel --name=\(name)", on: target, timeout: .seconds(60)) } }
        let ids = jobs.joined(separator: ",")

        // Bare squeue over the open session: the same jobs, and one job.
        var bare: [Double] = [], single: [Double] = []
        for _ in 0..<setup.cycles {
            var t = EngineBench.now()
            _ = try await backend.pool.exec("squeue -h -t all -j \(ids) -o '%i|%T|%r'", on: target, timeout: .seconds(30))
            bare.append(EngineBench.now() - t)
            t = EngineBench.now()
            _ = try await backend.pool.exec("squeue -h -t all -j \(jobs[0]) -o '%i|%T|%r'", on: target, timeout: .seconds(30))
            single.append(EngineBench.now() - t)
        }

        let poller = SlurmJobPoller(target: target, pool: backend.pool, freshness: .zero)
        let sessionsBefore = await backend.pool.statistics.connectionsOpened
        var cycleTimes: [Double] = [], commands: [Int] = []
        for _ in 0..<setup.cycles {
            let before = await poller.statistics
            let t = EngineBench.now()
            let readings = try await withThrowingTaskGroup(of: SlurmJobReading.self) { group in
                // Each with a session directory, as submitted executions have: the cycle also reads
                // their DALiuGE status logs (none exist yet for queued jobs).
                for job in jobs { group.addTask { try await poller.reading(of: job, sessionDir: "\(cluster.homeDir)/dlg/workspace/bench-\(job)") } }
                return try await group.reduce(into: [SlurmJobReading]()) { $0.append($1) }
            }
            let after = await poller.statistics
            guard readings.count == jobs.count, readings.allSatisfy({ $0.state == .pending }) else {
                throw BenchFailure(description: "unexpected readings: \(readings.filter { $0.state != .pending }.prefix(3))")
            }
            // Every reading of this round came from one cycle; its time is the wall time of the round.
            cycleTimes.append(EngineBench.now() - t)
            commands.append((after.remoteCommands - before.remoteCommands) / max(1, after.cycles - before.cycles))
            if after.cycles - before.cycles != 1 {
                print("    note: a round took \(after.cycles - before.cycles) cycles")
            }
        }
        let opened = await backend.pool.statistics.connectionsOpened
        let sessions = opened - sessionsBefore
        let bareMedian = EngineBench.median(bare), cycle = EngineBench.median(cycleTimes)
        print(EngineBench.line("bare squeue of one job over the open session", EngineBench.median(single)))
        print(EngineBench.line("bare squeue of the \(setup.jobs) jobs over the open session", bareMedian))
        print(EngineBench.line("poller cycle answering all \(setup.jobs) jobs", cycle,
                               "   (\(commands.max() ?? 0) remote command(s) per cycle, \(sessions) new SSH session(s), "
                               + "\(opened) opened in all)"))
        let ratio = cycle / bareMedian
        let ok = ratio <= 1.5 && (commands.max() ?? 0) <= 2 && sessions == 0
        print(String(format: "    cycle / bare squeue = %.2fx   goal <= 1.5x, <= 2 commands, one session  %@", ratio, ok ? "ok" : "ABOVE GOAL"))
        _ = try? await backend.pool.exec("scancel --name=\(name)", on: target, timeout: .seconds(60))
        await backend.close()
    }

    static func ms(_ seconds: Double) -> String { EngineBench.ms(seconds) }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
}

/// The local cluster, from the variables `scripts/slurm.sh start` prints, and the TM of `scripts/dlg.sh`.
struct SlurmCluster {
    let host: String, port: Int, user: String, key: String, knownHosts: String, account: String, partition: String
    let homeDir: String, venv: String, tmURL: String?

    static var current: SlurmCluster? {
        let env = ProcessInfo.processInfo.environment
        func value(_ name: String) -> String? { env["BEAMSYNC_TEST_SLURM_" + name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let port = value("PORT").flatMap(Int.init), let key = value("KEY"), let knownHosts = value("KNOWN_HOSTS"),
              let home = value("HOME_DIR") else { return nil }
        return SlurmCluster(host: value("HOST") ?? "127.0.0.1", port: port, user: value("USER") ?? "hpcuser", key: key,
                            knownHosts: knownHosts, account: value("ACCOUNT") ?? "testacct", partition: value("PARTITION") ?? "work",
                            homeDir: home, venv: value("VENV") ?? "/var/cache/beamsync/slurm-dlg-venv", tmURL: env["BEAMSYNC_TEST_TM_URL"])
    }

    var environment: [String: String] {
        ["BEAMPIPE_ENV": "production", "SLURM_SSH_PRIVATE_KEY_FILE": key, "SLURM_SSH_KNOWN_HOSTS_SOURCE": knownHosts]
    }

    var translationJSON: String {
        JSONValue.object(["algo": .string("metis"), "num_par": .int(1), "num_islands": .int(1), "tm_url": .string(tmURL ?? "")]).canonicalString
    }

    var deploymentJSON: String {
        JSONValue.object([
            "kind": .string("slurm_remote"), "login_node": .string(host), "ssh_port": .int(Int64(port)), "remote_user": .string(user),
            "account": .string(account), "home_dir": .string(homeDir), "log_dir": .string(homeDir + "/dlg/log"),
            "dlg_root": .string(homeDir + "/dlg"), "venv": .string("source \(venv)/bin/activate"), "job_duration_minutes": .int(5),
            "resources": .object(["partition": .string(partition)]),
        ]).canonicalString
    }
}
