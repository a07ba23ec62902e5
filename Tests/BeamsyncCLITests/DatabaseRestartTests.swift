import BeamsyncStore
import Foundation
import Testing

private let requireServices = ProcessInfo.processInfo.environment["BEAMSYNC_REQUIRE_SERVICES"] == "1"
private let serverAvailable = FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/pg_ctl")

/// Runs scripts/postgres.sh (its own throwaway server, so restarting it disturbs no other test).
func postgresScript(_ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = [repositoryRoot.appendingPathComponent("scripts/postgres.sh").path] + args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw CancellationError() }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// `pg_ctl stop|start` on that server, as the postgres user when root.
func pgCtl(_ dir: String, _ action: String) throws {
    let p = Process()
    let pgCtl = "/usr/lib/postgresql/15/bin/pg_ctl"
    let args = [action, "-D", dir + "/data", "-m", "fast", "-w", "-l", dir + "/server.log"]
    if geteuid() == 0 {
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        p.arguments = ["-u", "postgres", "--", pgCtl] + args
    } else {
        p.executableURL = URL(fileURLWithPath: pgCtl)
        p.arguments = args
    }
    p.currentDirectoryURL = URL(fileURLWithPath: "/")
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
}

@Suite("The controller and a restarting database", .enabled(if: (testDatabaseAvailable && serverAvailable) || requireServices))
struct DatabaseRestartTests {
    @Test("PostgreSQL restarted under a running controller: it reconnects and catches up")
    func reconnects() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-pg-restart-\(UUID().uuidString)").path
        let port = Int.random(in: 41_000...45_000)
        let url = try postgresScript(["start", dir, String(port)]).split(separator: "\n").last.map(String.init) ?? ""
        defer { _ = try? postgresScript(["stop", dir]) }
        let repo = try TestRepository()
        defer { repo.remove() }
        try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
        let controller = try ControllerProcess(repo: repo.url, databaseURL: url, interval: "500ms")
        defer { controller.terminate() }
        #expect(try await eventually(20) { try await profilePort(url, "a") == 8001 })

        try pgCtl(dir, "stop")
        let next = try repo.commit(["profiles/a.yaml": restProfile("a", port: 8005)])
        try await Task.sleep(for: .seconds(2))   // the controller meets a dead database meanwhile
        try pgCtl(dir, "start")
        #expect(try await eventually(40) { (try? await profilePort(url, "a")) == 8005 }, "\(controller.logText)")
        #expect(try await eventually(10) { try await sourceStatus(url)?.lastAppliedRevision == next })
        #expect(controller.process.isRunning, "the controller survived the outage")
    }
}

let testDatabaseAvailable = ProcessInfo.processInfo.environment["BEAMSYNC_TEST_DATABASE_URL"] != nil
