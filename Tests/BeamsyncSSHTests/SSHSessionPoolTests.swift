import Foundation
import Testing
@testable import BeamsyncSSH
import BeamsyncTestSupport

/// The pool against the private sshd of scripts/sshd.sh. Serialized: two of these tests drop or
/// restart the server's connections, which would disturb the others.
@Suite("SSHSessionPool against a real sshd", .serialized, .requires(.sshd))
struct SSHSessionPoolTests {
    private func pool(_ sshd: TestServices.SSHServer) -> SSHSessionPool {
        SSHSessionPool { _ in sshd.credential() }
    }

    /// The client side of the connection as the server sees it: `127.0.0.1 <port> 127.0.0.1 <sshd port>`.
    private func clientPort(_ pool: SSHSessionPool, _ target: SSHTarget) async throws -> Int {
        let result = try await pool.exec("printf %s \"$SSH_CONNECTION\"", on: target, timeout: .seconds(10))
        return try #require(Int(result.stdoutText.split(separator: " ")[1]))
    }

    @Test("many commands, one after another and concurrently, share one TCP connection")
    func reuse() async throws {
        let sshd = try TestServices.requireSSHServer()
        let pool = pool(sshd)
        defer { Task { await pool.closeAll() } }
        let target = sshd.target
        // The log accumulates over the whole run; look only at what this test adds (an earlier
        // connection may have used the same ephemeral port).
        let logBefore = try sshd.log().utf8.count

        let first = try await clientPort(pool, target)
        for _ in 0..<10 { #expect(try await clientPort(pool, target) == first) }
        let ports = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<30 { group.addTask { try await self.clientPort(pool, target) } }
            return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
        }
        #expect(ports == [first])
        let session = try await pool.session(for: target, deadline: .now + .seconds(5))
        #expect(session.report.localPort == first)
        let stats = await pool.statistics
        #expect(stats.connectionsOpened == 1)
        #expect(stats.commands == 41)
        // The server saw exactly one connection from that port, and one login on it.
        let log = String(decoding: try sshd.log().utf8.dropFirst(logBefore), as: UTF8.self)
        #expect(log.components(separatedBy: "Connection from 127.0.0.1 port \(first) ").count - 1 == 1)
        #expect(log.components(separatedBy: "Accepted publickey for \(sshd.user) from 127.0.0.1 port \(first) ").count - 1 == 1)
    }

    @Test("a hundred concurrent commands through the pool all succeed on one connection")
    func manyConcurrent() async throws {
        let sshd = try TestServices.requireSSHServer()
        let pool = pool(sshd)
        defer { Task { await pool.closeAll() } }
        let target = sshd.target
        let results = try await withThrowingTaskGroup(of: (Int, SSHCommandResult).self) { group in
            for i in 0..<100 {
                group.addTask { (i, try await pool.exec("echo \(i); echo e\(i) >&2", on: target, timeout: .seconds(60))) }
            }
            return try await group.reduce(into: [Int: SSHCommandResult]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 100)
        for (i, result) in results {
            #expect(result.succeeded && result.stdoutText == "\(i)\n" && result.stderrText == "e\(i)\n")
        }
        #expect(await pool.statistics.connectionsOpened == 1)
    }

    @Test("after the server side of the pooled connection dies, the next command reconnects transparently")
    func reconnectAfterDrop() async throws {
        let sshd = try TestServices.requireSSHServer()
        let pool = pool(sshd)
        defer { Task { await pool.closeAll() } }
        let target = sshd.target
        let before = try await clientPort(pool, target)
        let killed = try sshd.killServerSide(ofClientPort: before)
        #expect(!killed.isEmpty)
        try await Task.sleep(for: .milliseconds(200))

        let after = try await clientPort(pool, target)
        #expect(after != before)
        let stats = await pool.statistics
        #expect(stats.connectionsOpened == 2)
        #expect(stats.reconnects == 1)
    }

    @Test("a command whose connection drops while it runs fails as possibly sent and is not repeated")
    func noRetryOnceSent() async throws {
        let sshd = try TestServices.requireSSHServer()
        let pool = pool(sshd)
        defer { Task { await pool.closeAll() } }
        let target = sshd.target
        let port = try await clientPort(pool, target)
        let running = Task { try await pool.exec("sleep 20", on: target, timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(500))
        _ = try sshd.killServerSide(ofClientPort: port)

        let error = await thrownError { try await running.value }
        guard case .connectionLost(_, _, let requestSent)? = error as? SSHError else {
            Issue.record("expected connectionLost, got \(String(describing: error))")
            return
        }
        #expect(requestSent)
        #expect((error as? SSHError)?.isSafeToRetryOnNewConnection == false)
        #expect(await pool.statistics.retries == 0)
        // The pool noticed and opens a new connection for the next command.
        #expect(try await clientPort(pool, target) != port)
    }

    @Test("after sshd restarts (same host key), the pool reconnects and the host key still matches")
    func reconnectAfterRestart() async throws {
        let sshd = try TestServices.requireSSHServer()
        let pool = pool(sshd)
        defer { Task { await pool.closeAll() } }
        let target = sshd.target
        let before = try await clientPort(pool, target)
        let fingerprint = try await pool.session(for: target, deadline: .now + .seconds(5)).report.hostKeyFingerprint

        try sshd.restart()

        let after = try await clientPort(pool, target)
        #expect(after != before)
        let session = try await pool.session(for: target, deadline: .now + .seconds(5))
        #expect(session.report.hostKeyFingerprint == fingerprint)
        #expect(await pool.statistics.reconnects == 1)
    }

    @Test("uploads through the pool land in place; a credential the policy rejects fails before connecting")
    func uploadAndRejectedCredential() async throws {
        let sshd = try TestServices.requireSSHServer()
        let pool = pool(sshd)
        defer { Task { await pool.closeAll() } }
        let target = sshd.target
        let home = try await pool.exec("printf %s \"$HOME\"", on: target, timeout: .seconds(10)).stdoutText
        let path = "\(home)/pool-\(UUID().uuidString.prefix(8))/file.ini"
        try await pool.upload(Data("[ENGINE]\n".utf8), to: path, on: target, createDirectory: true, deadline: .now + .seconds(20))
        let check = try await pool.exec("cat \(ShellQuote.quote(path)) && rm -rf \(ShellQuote.quote(RemotePath.parent(of: path)))",
                                        on: target, timeout: .seconds(10))
        #expect(check.stdoutText == "[ENGINE]\n")

        let finding = SecurityFinding(.noPrivateKey, subject: "SLURM_SSH_PRIVATE_KEY_FILE", problem: "none", fix: "set it")
        let rejecting = SSHSessionPool { target in throw SSHError.credentialsRejected(endpoint: target.endpoint, findings: [finding]) }
        let error = await thrownError { try await rejecting.exec("true", on: target, timeout: .seconds(5)) }
        #expect(error as? SSHError == .credentialsRejected(endpoint: target.endpoint, findings: [finding]))
        #expect(await rejecting.statistics.connectionsOpened == 0)
    }
}
