@testable import BeamsyncGit
import BeamsyncTestSupport
import Foundation
import Testing

/// Against the private sshd of scripts/sshd.sh (see its header for the variables). Skipped when
/// it is not configured, unless BEAMSYNC_REQUIRE_SERVICES=1, which turns a missing server into
/// a failure.
@Suite("ssh:// through a private sshd", .requires(.sshd))
struct SSHTests {
    /// An upstream repository the server can read, with one commit.
    private func served(_ server: TestServices.SSHServer) async throws -> (Upstream, Scratch) {
        let scratch = try Scratch(in: server.repos)
        let upstream = try await Upstream(at: scratch.sub("fleet"))
        try upstream.write("profiles/a.yaml", "name: a\n")
        try await upstream.commit("first")
        return (upstream, scratch)
    }

    private func options(_ server: TestServices.SSHServer, key: String? = nil, passphraseFile: String? = nil,
                         knownHosts: String? = nil) -> GitRemoteOptions {
        .ssh(privateKeyFile: key ?? server.key, passphraseFile: passphraseFile,
             knownHostsFile: knownHosts ?? server.knownHosts)
    }

    @Test("clone and fetch over ssh:// with an ed25519 key and the known_hosts file")
    func cloneAndFetch() async throws {
        let server = try TestServices.requireSSHServer()
        let (upstream, scratch) = try await served(server)
        defer { scratch.remove() }
        let mirrorDir = try Scratch()
        defer { mirrorDir.remove() }
        let url = server.url(upstream.path)

        let mirror = try await GitMirror.clone(url: url, to: mirrorDir.sub("mirror"), options: options(server),
                                               timeout: .seconds(30))
        #expect(try mirror.resolve("main") == (try await upstream.head()))
        #expect(try mirror.files(at: try mirror.resolve("main")).map(\.path) == ["profiles/a.yaml"])

        try upstream.write("profiles/b.yaml", "name: b\n")
        let second = try await upstream.commit("second")
        try await mirror.fetch(options: options(server), timeout: .seconds(30))
        #expect(try mirror.resolve("main") == second)
    }

    @Test("a known_hosts entry with another key for [host]:port is refused, naming the host and the file")
    func wrongHostKey() async throws {
        let server = try TestServices.requireSSHServer()
        let (upstream, scratch) = try await served(server)
        defer { scratch.remove() }
        let work = try Scratch()
        defer { work.remove() }
        try await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", work.sub("other")])
        let otherKey = try String(contentsOfFile: work.sub("other.pub"), encoding: .utf8)
            .split(separator: " ").prefix(2).joined(separator: " ")
        let knownHosts = try work.write("known_hosts", "[\(server.host)]:\(server.port) \(otherKey)\n")

        let error = await thrownError {
            try await GitMirror.clone(url: server.url(upstream.path), to: work.sub("mirror"),
                                      options: options(server, knownHosts: knownHosts), timeout: .seconds(30))
        }

        guard case let .hostKeyRejected(host, file, reason)? = error as? GitError else {
            Issue.record("expected hostKeyRejected, got \(String(describing: error))")
            return
        }
        #expect(host == "[\(server.host)]:\(server.port)")
        #expect(file == knownHosts)
        #expect(reason.contains("does not match"))
        #expect(!FileManager.default.fileExists(atPath: work.sub("mirror")))
    }

    @Test("a known_hosts file without an entry for [host]:port is refused (an entry for another port does not count)")
    func missingHostEntry() async throws {
        let server = try TestServices.requireSSHServer()
        let (upstream, scratch) = try await served(server)
        defer { scratch.remove() }
        let work = try Scratch()
        defer { work.remove() }
        let right = try String(contentsOfFile: server.knownHosts, encoding: .utf8)
        let knownHosts = try work.write("known_hosts",
            right.replacingOccurrences(of: "]:\(server.port) ", with: "]:\(server.port + 1) "))

        let error = await thrownError {
            try await GitMirror.clone(url: server.url(upstream.path), to: work.sub("mirror"),
                                      options: options(server, knownHosts: knownHosts), timeout: .seconds(30))
        }
        let message = (error as? GitError)?.description ?? "\(String(describing: error))"
        #expect(message.contains("SSH host key of [\(server.host)]:\(server.port) refused: no entry"))
        #expect(message.contains(knownHosts))
    }

    @Test("a passphrase-protected key works with its passphrase file and fails clearly without it")
    func passphraseKey() async throws {
        let server = try TestServices.requireSSHServer()
        let (upstream, scratch) = try await served(server)
        defer { scratch.remove() }
        let work = try Scratch()
        defer { work.remove() }
        let url = server.url(upstream.path)

        let mirror = try await GitMirror.clone(url: url, to: work.sub("with"),
                                               options: options(server, key: server.passphraseKey,
                                                                passphraseFile: server.passphraseFile),
                                               timeout: .seconds(30))
        #expect(try mirror.resolve("main") == (try await upstream.head()))

        let without = await thrownError {
            try await GitMirror.clone(url: url, to: work.sub("without"), options: options(server, key: server.passphraseKey),
                                      timeout: .seconds(30))
        }
        #expect(without as? GitError == .credentials(url: url, message:
            "the private key \(server.passphraseKey) is protected by a passphrase, but no passphrase file was given"))

        let wrongFile = try work.write("wrong-passphrase", "not the passphrase\n")
        let wrong = await thrownError {
            try await GitMirror.clone(url: url, to: work.sub("wrong"),
                                      options: options(server, key: server.passphraseKey, passphraseFile: wrongFile),
                                      timeout: .seconds(30))
        }
        let message = (wrong as? GitError)?.description ?? "\(String(describing: wrong))"
        #expect(message.contains("the private key \(server.passphraseKey) cannot be read with the passphrase from \(wrongFile)"),
                "got: \(message)")
    }

    @Test("an RSA key is refused with the libssh2 explanation and the advice to use ed25519 or ECDSA")
    func rsaKey() async throws {
        let server = try TestServices.requireSSHServer()
        let (upstream, scratch) = try await served(server)
        defer { scratch.remove() }
        let work = try Scratch()
        defer { work.remove() }

        let error = await thrownError {
            try await GitMirror.clone(url: server.url(upstream.path), to: work.sub("mirror"),
                                      options: options(server, key: server.rsaKey), timeout: .seconds(30))
        }
        let message = (error as? GitError)?.description ?? "\(String(describing: error))"
        #expect(message.contains("the key is RSA: libssh2 1.10"), "got: \(message)")
        #expect(message.contains("use an ed25519 or ECDSA key"))
        #expect(message.contains(server.rsaKey))
    }
}
