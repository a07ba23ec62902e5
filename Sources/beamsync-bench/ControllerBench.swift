import BeamsyncController
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncServer
import BeamsyncStore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging

/// Controller workloads: a 10,000-profile git repository served over file://.
enum ControllerBench {
    static func git(_ dir: URL, _ args: String...) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        p.arguments = ["-C", dir.path] + args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        precondition(p.terminationStatus == 0, "git \(args) failed")
    }

    static func walPosition(_ conn: PGConnection) async throws -> String {
        try await conn.query("SELECT pg_current_wal_insert_lsn()::text AS lsn").single().string("lsn")
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    static func run(adminURL: String, profilesDir: URL) async throws {
        print("\nController workloads (a 10,000-profile repository over file://):")
        let repo = profilesDir.deletingLastPathComponent().appendingPathComponent("repo")
        try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: profilesDir, to: repo.appendingPathComponent("profiles"))
        try git(repo, "init", "-q", "-b", "main")
        try git(repo, "-c", "user.email=b@e", "-c", "user.name=bench", "add", "-A")
        try git(repo, "-c", "user.email=b@e", "-c", "user.name=bench", "commit", "-q", "-m", "10k profiles")
        let cacheDir = profilesDir.deletingLastPathComponent().appendingPathComponent("cache").path

        try await withBenchDatabase(adminURL) { conn, url in
            let source = GitSource(url: "file://" + repo.path, ref: "main", cacheDirectory: cacheDir, cache: ParsedFileCache())
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            let controller = Controller(source: source, conninfo: url, logger: logger, cache: source.cache!)
            let (first, tFirst) = await timed { await controller.reconcile() }
            guard case .applied = first else { fatalError("first reconcile: \(first)") }
            report("first reconcile: clone + parse + apply 10,000", tFirst, goal: nil)

            var noOps: [Double] = []
            let walBefore = try await walPosition(conn)
            for _ in 0..<20 {
                let (outcome, t) = await timed { await controller.reconcile() }
                guard case .upToDate = outcome else { fatalError("expected a no-op: \(outcome)") }
                noOps.append(t)
            }
            let walAfter = try await walPosition(conn)
            report("no-op reconcile of an unchanged commit (p50 of 20)", percentile(noOps, 0.5), goal: 0.020)
            let walBytes = try await conn.query("SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint AS n", [.text(walAfter), .text(walBefore)])
                .single().int64("n")
            // Each pass records the source's and the replica's heartbeat (two small rows) and nothing else.
            print("    WAL written by 20 no-op reconciles: \(walBytes) bytes (\(walBytes / 20) per pass: the heartbeat)")

            var oneFile: [Double] = []
            for i in 0..<5 {
                let file = repo.appendingPathComponent("profiles/p00000.yaml")
                let text = try String(contentsOf: file, encoding: .utf8)
                    .replacingOccurrences(of: #"description: [^\n]*"#, with: "description: edit \(i)", options: .regularExpression)
                try text.write(to: file, atomically: true, encoding: .utf8)
                try git(repo, "-c", "user.email=b@e", "-c", "user.name=bench", "commit", "-q", "-am", "edit \(i)")
                let (outcome, t) = await timed { await controller.reconcile() }
                guard case .applied(_, let changes, _) = outcome, changes == 1 else { fatalError("expected one change: \(outcome)") }
                oneFile.append(t)
            }
            report("one-file change: fetch + plan + apply (p50 of 5)", percentile(oneFile, 0.5), goal: 0.5)
        }
        try await webhookLatency(adminURL: adminURL, repo: repo, cacheDir: cacheDir + "-process")
    }

    /// A `beamsync run` process: commit → signed webhook → applied, 50 times; and its memory.
    static func webhookLatency(adminURL: String, repo: URL, cacheDir: String) async throws {
        guard let binary = ProcessInfo.processInfo.environment["BEAMSYNC_BENCH_BINARY"] else {
            print("(webhook latency skipped: BEAMSYNC_BENCH_BINARY is not set)")
            return
        }
        try await withBenchDatabase(adminURL) { conn, url in
            let secret = Array("bench-secret".utf8)
            let secretFile = repo.deletingLastPathComponent().appendingPathComponent("webhook-secret")
            try Data(secret).write(to: secretFile)
            let port = 28_000 + Int.random(in: 0..<1000)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["run", "--repo", "file://" + repo.path, "--interval", "10m", "--listen", "127.0.0.1:\(port)",
                           "--cache-dir", cacheDir, "--github-secret-file", secretFile.path]
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = url
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            defer { p.terminate(); p.waitUntilExit() }
            func applied() async throws -> String? {
                try? await conn.query("SELECT last_applied_revision FROM gitops_sources").first?.optionalString("last_applied_revision")
            }
            let deadline = Date().addingTimeInterval(120)
            while try await applied() == nil, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
            try await Task.sleep(for: .seconds(1))
            let rss = residentMemory(of: p.processIdentifier, goalMB: 64)
            var latencies: [Double] = []
            for i in 0..<50 {
                let file = repo.appendingPathComponent("profiles/p00001.yaml")
                let text = try String(contentsOf: file, encoding: .utf8)
                    .replacingOccurrences(of: #"description: [^\n]*"#, with: "description: webhook \(i)", options: .regularExpression)
                try text.write(to: file, atomically: true, encoding: .utf8)
                try git(repo, "-c", "user.email=b@e", "-c", "user.name=bench", "commit", "-q", "-am", "webhook \(i)")
                let body = Array(#"{"ref":"refs/heads/main"}"#.utf8)
                var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/hooks/github")!)
                request.httpMethod = "POST"
                request.httpBody = Data(body)
                request.setValue(WebhookAuthenticator.signature(body: body, secret: secret), forHTTPHeaderField: "X-Hub-Signature-256")
                let start = Date()
                _ = try await URLSession.shared.data(for: request)
                while true {
                    let d = try await conn.query("SELECT description FROM daliuge_deployment_profile WHERE name = 'slurm-1'").first?.optionalString("description")
                    if d == "webhook \(i)" { break }
                    if Date().timeIntervalSince(start) > 30 { fatalError("commit \(i) not applied within 30 s") }
                    try await Task.sleep(for: .milliseconds(5))
                }
                latencies.append(Date().timeIntervalSince(start))
            }
            report("commit → applied via webhook, p50 of 50", percentile(latencies, 0.5), goal: nil)
            report("commit → applied via webhook, p99 of 50", percentile(latencies, 0.99), goal: 1.0)
            try await Task.sleep(for: .seconds(1))
            let rssAfter = residentMemory(of: p.processIdentifier, goalMB: 64)
            print("    controller resident memory with 10,000 profiles (goal <= 64 MB):")
            print("      after the first apply \(rss)")
            print("      after 50 more commits \(rssAfter)")
        }
    }

    /// VmRSS, and how much of it is the process's own memory (RssAnon) versus mapped files
    /// (RssFile: the binary and shared libraries, the same for any beamsync process).
    static func residentMemory(of pid: Int32, goalMB: Double) -> String {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func kB(_ key: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(key + ":") }
                .flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) } } ?? 0
        }
        let total = Double(kB("VmRSS")) / 1024
        return String(format: "%.1f MB (own %.1f MB + mapped files %.1f MB)  ",
                      total, Double(kB("RssAnon")) / 1024, Double(kB("RssFile")) / 1024) + (total <= goalMB ? "ok" : "ABOVE GOAL")
    }

    /// A `beamsync run` process applying a `count`-profile repository for the first time: its
    /// resident memory once the apply is recorded.
    static func firstApplyMemory(adminURL: String, profilesDir: URL, count: Int, goalMB: Double) async throws {
        guard let binary = ProcessInfo.processInfo.environment["BEAMSYNC_BENCH_BINARY"] else {
            print("(controller memory skipped: BEAMSYNC_BENCH_BINARY is not set)")
            return
        }
        let repo = profilesDir.deletingLastPathComponent().appendingPathComponent("repo")
        try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: profilesDir, to: repo.appendingPathComponent("profiles"))
        try git(repo, "init", "-q", "-b", "main")
        try git(repo, "-c", "user.email=b@e", "-c", "user.name=bench", "add", "-A")
        try git(repo, "-c", "user.email=b@e", "-c", "user.name=bench", "commit", "-q", "-m", "\(count) profiles")
        try await withBenchDatabase(adminURL) { conn, url in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["run", "--repo", "file://" + repo.path, "--interval", "10m", "--listen", "127.0.0.1:\(29_000 + Int.random(in: 0..<1000))",
                           "--cache-dir", repo.deletingLastPathComponent().appendingPathComponent("cache-\(count)").path]
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = url
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            let start = Date()
            try p.run()
            defer { p.terminate(); p.waitUntilExit() }
            while try await conn.query("SELECT last_applied_revision FROM gitops_sources").first?.optionalString("last_applied_revision") == nil {
                if Date().timeIntervalSince(start) > 600 { fatalError("the first apply of \(count) profiles did not finish in 10 minutes") }
                try await Task.sleep(for: .milliseconds(200))
            }
            let seconds = Date().timeIntervalSince(start)
            try await Task.sleep(for: .seconds(1))
            print(String(format: "controller: first apply of %d profiles took %.1f s; resident memory (goal <= %.0f MB): ", count, seconds, goalMB)
                  + residentMemory(of: p.processIdentifier, goalMB: goalMB))
        }
    }
}
