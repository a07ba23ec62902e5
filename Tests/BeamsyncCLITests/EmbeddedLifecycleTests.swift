import BeamsyncPostgres
import Foundation
import Testing

/// A private `BEAMSYNC_HOME` under /tmp that the `postgres` user can enter (tests may run as root).
private struct EmbeddedHome {
    let path: String

    init() throws {
        path = "/tmp/beamsync-life-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o755)
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = nil
        env["BEAMSYNC_HOME"] = path
        env["NO_COLOR"] = "1"
        return env
    }

    /// The postmaster's PID from its pid file, if the file exists.
    var postmasterPID: pid_t? {
        guard let text = try? String(contentsOfFile: path + "/postgres/data/postmaster.pid", encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return pid_t(first)
    }

    /// Starts `beamsync ARGS` in the background with its output in a file.
    func start(_ arguments: [String], extra: [String: String] = [:]) throws -> (Process, URL) {
        let p = Process()
        p.executableURL = repositoryRoot.appendingPathComponent(".build/debug/beamsync")
        p.arguments = arguments
        var env = environment
        for (k, v) in extra { env[k] = v }
        p.environment = env
        let log = URL(fileURLWithPath: path + "/out-\(UUID().uuidString.prefix(6)).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return (p, log)
    }

    /// Stops a postmaster a failed test left behind, then removes the directory.
    func remove() {
        if let pid = postmasterPID, isRunning(pid) { kill(pid, SIGQUIT) }
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Whether `pid` runs (a zombie has ended).
private func isRunning(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return true }
    let state = stat[stat.index(after: close)...].split(separator: " ").first
    return state != "Z" && state != "X"
}

private func text(_ log: URL) -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

@Suite("The embedded PostgreSQL is never orphaned", .serialized,
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/pg_ctl")))
struct EmbeddedLifecycleTests {
    @Test("SIGTERM or SIGINT during apply ends the command and stops the embedded PostgreSQL it started", arguments: [SIGTERM, SIGINT])
    func signalDuringApply(signal: Int32) async throws {
        let home = try EmbeddedHome()
        defer { home.remove() }
        let dir = try temporaryRepository(profiles(count: 5, port: 8001))
        defer { try? FileManager.default.removeItem(at: dir) }
        let (apply, log) = try home.start(["apply", "--dir", dir.path, "--auto-approve"],
                                          extra: ["BEAMSYNC_FAULT_PAUSE_BEFORE_COMMIT_MS": "60000"])
        var postmaster: pid_t?
        let started = try await eventually(60) {
            postmaster = home.postmasterPID
            return postmaster != nil && text(log).contains("using embedded PostgreSQL")
        }
        guard started, let pid = postmaster else {
            apply.terminate()
            Issue.record("apply did not start its embedded PostgreSQL: \(text(log))")
            return
        }
        try await Task.sleep(for: .seconds(2))  // inside the apply's transaction by now
        kill(apply.processIdentifier, signal)
        let exited = try await eventually(30) { !apply.isRunning }
        #expect(exited, "apply did not exit within 30 s of the signal")
        if !exited { kill(apply.processIdentifier, SIGKILL) }
        apply.waitUntilExit()
        #expect(apply.terminationStatus != 0, "an interrupted apply does not report success")
        #expect(!isRunning(pid), "the embedded postmaster \(pid) still runs after apply exited: \(text(log))")
        #expect(home.postmasterPID == nil, "postmaster.pid is left behind")
    }

    @Test("a postmaster left by a SIGKILLed command is found, reported, used and stopped by the next command")
    func orphanIsAdoptedAndStopped() async throws {
        let home = try EmbeddedHome()
        defer { home.remove() }
        let dir = try temporaryRepository(profiles(count: 2, port: 8001))
        defer { try? FileManager.default.removeItem(at: dir) }
        let (apply, log) = try home.start(["apply", "--dir", dir.path, "--auto-approve"],
                                          extra: ["BEAMSYNC_FAULT_PAUSE_BEFORE_COMMIT_MS": "60000"])
        var postmaster: pid_t?
        let started = try await eventually(60) {
            postmaster = home.postmasterPID
            return postmaster != nil && text(log).contains("using embedded PostgreSQL")
        }
        try #require(started, "\(text(log))")
        let orphan = try #require(postmaster)
        kill(apply.processIdentifier, SIGKILL)
        apply.waitUntilExit()
        #expect(isRunning(orphan), "SIGKILL cannot be caught: the postmaster is left running")

        let status = try runBeamsync(["status"], environment: home.environment)
        #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
        #expect(status.stderr.contains("left running"), "the next command says what it found: \(status.stderr)")
        #expect(!isRunning(orphan), "and stops it when it ends")
        #expect(home.postmasterPID == nil)
    }

    @Test("a command that ends while another still uses the embedded PostgreSQL leaves it running; the last one stops it")
    func sharedServerOutlivesItsStarter() async throws {
        let home = try EmbeddedHome()
        defer { home.remove() }
        let dir = try temporaryRepository(profiles(count: 2, port: 8001))
        defer { try? FileManager.default.removeItem(at: dir) }
        // The first command starts the server and ends about 6 s after its writes.
        let (first, firstLog) = try home.start(["apply", "--dir", dir.path, "--auto-approve"],
                                               extra: ["BEAMSYNC_FAULT_PAUSE_BEFORE_COMMIT_MS": "6000"])
        let up = try await eventually(60) { home.postmasterPID != nil && text(firstLog).contains("using embedded PostgreSQL") }
        try #require(up, "\(text(firstLog))")
        // Wait until the first has written everything and pauses before COMMIT, so it ends first.
        let watcher = try await PGConnection.connect(conninfo: "host=\(home.path)/postgres port=5432 dbname=beamsync user=beamsync")
        let writing = try await eventually(60) {
            try await watcher.query("""
                SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON l.relation = c.oid
                WHERE c.relname = 'beamsync_plan_serial' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()
                """).single().int("n") > 0
        }
        await watcher.close()
        try #require(writing, "the first apply reached its last write: \(text(firstLog))")
        // The second joins it and is still inside its transaction when the first ends (it changes
        // what the first wrote, so it has something to write and pause on).
        let changed = try temporaryRepository(profiles(count: 2, port: 9001))
        defer { try? FileManager.default.removeItem(at: changed) }
        let (second, secondLog) = try home.start(["apply", "--dir", changed.path, "--auto-approve"],
                                                 extra: ["BEAMSYNC_FAULT_PAUSE_BEFORE_COMMIT_MS": "8000"])
        let pid = try #require(home.postmasterPID)
        first.waitUntilExit()
        #expect(first.terminationStatus == 0, "\(text(firstLog))")
        #expect(isRunning(pid), "the server the first command started still serves the second")
        second.waitUntilExit()
        #expect(second.terminationStatus == 0, "the second command was not cut off: \(text(secondLog))")
        #expect(!isRunning(pid), "the last command using the server stopped it")
        #expect(home.postmasterPID == nil)
    }
}
