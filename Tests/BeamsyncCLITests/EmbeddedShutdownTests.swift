import BeamsyncTestSupport
import Foundation
import Testing

/// The postmaster's PID from its pid file, if the file exists.
private func postmasterPID(home: String) -> pid_t? {
    guard let text = try? String(contentsOfFile: home + "/postgres/data/postmaster.pid", encoding: .utf8),
          let first = text.split(separator: "\n").first, let pid = pid_t(first) else { return nil }
    return pid
}

/// Whether `pid` runs. A process that exited but was not reaped yet (a zombie, state Z in
/// /proc/PID/stat) has ended: a test runner can inherit the postmaster and reap it late.
private func isAlive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return true }
    let state = stat[stat.index(after: close)...].split(separator: " ").first
    return state != "Z" && state != "X"
}

@Suite("beamsync run and the embedded PostgreSQL it starts", .serialized,
       .enabled(if: TestServices.postgresServerProgramsInstalled))
struct EmbeddedShutdownTests {
    @Test("SIGTERM or SIGINT ends the command and stops the embedded PostgreSQL it started; nothing is left running",
          arguments: [SIGTERM, SIGINT])
    func signalStopsEmbeddedServer(signal: Int32) async throws {
        let home = "/tmp/beamsync-shutdown-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        chmod(home, 0o755)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let repo = try TestRepository()
        defer { repo.remove() }
        try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)])

        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent(".build/debug/beamsync")
        let port = try closedPort()
        process.arguments = ["run", "--repo", repo.url, "--interval", "60s", "--listen", "127.0.0.1:\(port)",
                             "--cache-dir", home + "/cache"]
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = nil
        env["BEAMSYNC_HOME"] = home
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var pid: pid_t?
        let started = try await eventually(60) {
            pid = postmasterPID(home: home)
            return pid != nil && FileManager.default.fileExists(atPath: home + "/cache/git")
        }
        guard started, let postmaster = pid else {
            process.terminate()
            process.waitUntilExit()
            Issue.record("beamsync run did not start its embedded PostgreSQL and fetch within 60 s")
            return
        }
        // Let the first reconcile begin, so the signal arrives while the services run.
        try await Task.sleep(for: .seconds(1))
        kill(process.processIdentifier, signal)
        let exited = try await eventually(30) { !process.isRunning }
        #expect(exited, "beamsync run did not exit within 30 s of the signal")
        if !exited { process.interrupt() }
        process.waitUntilExit()
        #expect(!isAlive(postmaster), "the embedded postmaster \(postmaster) still runs after beamsync exited")
        #expect(postmasterPID(home: home) == nil, "postmaster.pid is left behind")
        if isAlive(postmaster) { kill(postmaster, SIGQUIT) }
    }
}
