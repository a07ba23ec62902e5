@testable import BeamsyncGit
import Foundation
import Testing

@Suite("Watchdog: transfers that stall time out")
struct TimeoutTests {
    @Test("a server that accepts and never answers makes clone fail with timedOut within the deadline + 1 s, and again on the next fetch")
    func stalledHTTPServer() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try StalledListener()
        defer { server.close() }  // also releases the transfer threads still blocked on it
        let url = "http://127.0.0.1:\(server.port)/fleet.git"
        let clock = ContinuousClock()

        let start = clock.now
        let error = await thrownError {
            try await GitMirror.clone(url: url, to: scratch.sub("mirror"), timeout: .seconds(1))
        }
        #expect(error as? GitError == .timedOut(url: url, seconds: 1))
        #expect(clock.now - start < .seconds(2))
        #expect(server.connections >= 1, "the transfer did reach the server")

        // The first thread is still blocked; a new fetch uses its own handles and is not held up.
        let mirror = try GitMirror.open(at: scratch.sub("mirror"))
        let again = clock.now
        let second = await thrownError { try await mirror.fetch(timeout: .milliseconds(1500)) }
        #expect(second as? GitError == .timedOut(url: url, seconds: 1.5))
        #expect(clock.now - again < .milliseconds(2500))
        #expect(second?.localizedDescription == "git transfer from \(url) timed out after 1.5 s")
    }

    @Test("an ssh server that never sends its banner times out the same way")
    func stalledSSHServer() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try StalledListener()
        defer { server.close() }
        try await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", scratch.sub("key")])
        let knownHosts = try scratch.write("known_hosts", "[127.0.0.1]:\(server.port) ssh-ed25519 "
            + "AAAAC3NzaC1lZDI1NTE5AAAAIOEOgcWonhgz/Tbu1qh0tvlR5K5HgqXMgdeMEascrpnP\n")
        let url = "ssh://git@127.0.0.1:\(server.port)/fleet.git"
        let options = GitRemoteOptions.ssh(privateKeyFile: scratch.sub("key"), knownHostsFile: knownHosts)
        let clock = ContinuousClock()

        let start = clock.now
        let error = await thrownError {
            try await GitMirror.clone(url: url, to: scratch.sub("mirror"), options: options, timeout: .seconds(1))
        }
        #expect(error as? GitError == .timedOut(url: url, seconds: 1))
        #expect(clock.now - start < .seconds(2))
    }

    @Test("cancelling the waiting task ends the wait at once")
    func cancellation() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try StalledListener()
        defer { server.close() }
        let url = "http://127.0.0.1:\(server.port)/fleet.git"
        let clock = ContinuousClock()

        let task = Task { try await GitMirror.clone(url: url, to: scratch.sub("mirror"), timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(200))
        let start = clock.now
        task.cancel()
        let result = await task.result
        #expect(clock.now - start < .seconds(1))
        guard case .failure(let error) = result else {
            Issue.record("expected the clone to fail")
            return
        }
        #expect(error as? GitError == .cancelled(url: url))
    }
}
