import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// Runs scripts/postgres.sh (its own throwaway server, so restarting it disturbs no other test).
/// Output goes to a file, not a pipe: the server it starts may keep an inherited pipe open forever.
func postgresScript(_ args: [String]) throws -> String {
    let outFile = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-pgscript-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: outFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: outFile) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = ["-c", closeInheritedDescriptors + "exec bash \"$@\"", "bash", repositoryRoot.appendingPathComponent("scripts/postgres.sh").path] + args
    let errFile = outFile.appendingPathExtension("err")
    FileManager.default.createFile(atPath: errFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errFile) }
    p.standardOutput = try FileHandle(forWritingTo: outFile)
    p.standardError = try FileHandle(forWritingTo: errFile)
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw PostgresScriptFailed(arguments: args, stderr: (try? String(contentsOf: errFile, encoding: .utf8)) ?? "")
    }
    return (try String(contentsOf: outFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
}

struct PostgresScriptFailed: Error, CustomStringConvertible {
    var arguments: [String]
    var stderr: String
    var description: String { "scripts/postgres.sh \(arguments.joined(separator: " ")) failed: \(stderr.suffix(2000))" }
}

/// Starts a throwaway server in `dir` on a port the kernel just handed out (a random port in the
/// ephemeral range could be some client connection's); another try on another port if it is taken.
func startThrowawayPostgres(_ dir: String) throws -> String {
    var failure: Error?
    for _ in 0..<3 {
        do {
            return try postgresScript(["start", dir, String(try closedPort())]).split(separator: "\n").last.map(String.init) ?? ""
        } catch {
            failure = error
            _ = try? postgresScript(["stop", dir])
            try? FileManager.default.removeItem(atPath: dir)
        }
    }
    throw failure!
}

/// Foundation's Process waits until every copy of its internal descriptors is closed; a server
/// started underneath would inherit one and keep the wait open forever. Close them first.
let closeInheritedDescriptors = #"for fd in /proc/$$/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null; fi; done; "#

/// `pg_ctl stop|start` on that server, as the postgres user when root.
func pgCtl(_ dir: String, _ action: String) throws {
    let p = Process()
    let pgCtl = "/usr/lib/postgresql/15/bin/pg_ctl"
    let args = [action, "-D", dir + "/data", "-m", "fast", "-w", "-l", dir + "/server.log"]
    let command = (geteuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", pgCtl] : [pgCtl]) + args
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = ["-c", closeInheritedDescriptors + "exec \"$@\"", "bash"] + command
    p.currentDirectoryURL = URL(fileURLWithPath: "/")
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
}

@Suite("The controller and a restarting database", .enabled(if: TestServices.shouldRun(when: TestDatabase.isConfigured && TestServices.postgresServerProgramsInstalled)))
struct DatabaseRestartTests {
    @Test("PostgreSQL restarted under a running controller: it reconnects and catches up")
    func reconnects() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-pg-restart-\(UUID().uuidString)").path
        let url = try startThrowawayPostgres(dir)
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
