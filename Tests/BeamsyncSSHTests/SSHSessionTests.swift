import Foundation
import Testing
@testable import BeamsyncSSH
import BeamsyncTestSupport

/// Against the private sshd of scripts/sshd.sh (see its header for the variables). Skipped when
/// it is not configured, unless BEAMSYNC_REQUIRE_SERVICES=1 turns a missing server into a failure.
@Suite("SSHSession against a real sshd", .requires(.sshd))
struct SSHSessionTests {
    @Test("connects with an ed25519 key, checks the host key and runs a command: exit status, stdout and stderr")
    func execBasics() async throws {
        let sshd = try TestServices.requireSSHServer()
        let session = try await sshd.connect()
        #expect(session.report.knownHostsLine == 1)
        #expect(session.report.hostKeyType == "ssh-ed25519")
        #expect(session.report.serverBanner.hasPrefix("SSH-2.0-OpenSSH_"))
        #expect(session.report.hostKeyFingerprint.hasPrefix("SHA256:"))
        for step in [SSHStep.resolve, .tcpConnect, .handshake, .hostKey, .authentication] {
            #expect(session.report.timings[step] != nil, "no timing for \(step)")
        }
        let result = try await session.exec("echo out; echo err >&2; exit 3", timeout: .seconds(10))
        #expect(result.exitStatus == 3)
        #expect(result.exitSignal == nil)
        #expect(result.stdoutText == "out\n")
        #expect(result.stderrText == "err\n")
        #expect(!result.stdoutTruncated && !result.stderrTruncated)
        let whoami = try await session.exec("id -un", timeout: .seconds(10))
        #expect(whoami.succeeded)
        #expect(whoami.stdoutText == sshd.user + "\n")
        await session.close()
        #expect(!session.isUsable)
        let closed = await thrownError { try await session.exec("true", timeout: .seconds(5)) }
        #expect(closed as? SSHError == .closed(endpoint: sshd.target.endpoint))
    }

    @Test("a command killed by a signal reports the signal instead of an exit status")
    func exitSignal() async throws {
        let sshd = try TestServices.requireSSHServer()
        let session = try await sshd.connect()
        defer { Task { await session.close() } }
        let result = try await session.exec("kill -KILL $$", timeout: .seconds(10))
        #expect(result.exitStatus == nil)
        #expect(result.exitSignal == "KILL")
        #expect(!result.succeeded)
    }

    @Test("stdin is closed, and output beyond the limit is drained and reported as truncated")
    func outputBounds() async throws {
        let sshd = try TestServices.requireSSHServer()
        let session = try await sshd.connect()
        defer { Task { await session.close() } }
        let cat = try await session.exec("cat", timeout: .seconds(10))
        #expect(cat.succeeded && cat.stdout.isEmpty)

        let big = try await session.exec("head -c 3000000 /dev/zero; head -c 5000 /dev/zero >&2", timeout: .seconds(30),
                                         limits: SSHOutputLimits(stdout: 1 << 20, stderr: 1000))
        #expect(big.succeeded)
        #expect(big.stdout.count == 1 << 20)
        #expect(big.stdoutTruncated)
        #expect(big.stderr.count == 1000)
        #expect(big.stderrTruncated)
    }

    @Test("a known_hosts entry with another key for [host]:port is a host key mismatch naming the file and line")
    func wrongHostKey() async throws {
        let sshd = try TestServices.requireSSHServer()
        let scratch = try Scratch()
        defer { scratch.remove() }
        try run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", scratch.sub("other")])
        let otherKey = try String(contentsOfFile: scratch.sub("other.pub"), encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let knownHosts = try scratch.write("known_hosts", "# a comment\n[\(sshd.host)]:\(sshd.port) \(otherKey)\n")

        let error = await thrownError { try await sshd.connect(sshd.credential(knownHosts: knownHosts)) }
        let sshError = try #require(error as? SSHError)
        guard case .hostKeyMismatch(let endpoint, let path, let fingerprint, let lines) = sshError else {
            Issue.record("expected a host key mismatch, got \(sshError)")
            return
        }
        #expect(endpoint == "\(sshd.host):\(sshd.port)")
        #expect(path == knownHosts)
        #expect(lines == [2])
        #expect(fingerprint.hasPrefix("SHA256:"))
        #expect(sshError.step == .hostKey)
        #expect(sshError.description.contains("HOST KEY MISMATCH"))
    }

    @Test("a known_hosts without an entry for the port, or with only hashed entries, is refused as not listed")
    func missingEntry() async throws {
        let sshd = try TestServices.requireSSHServer()
        let scratch = try Scratch()
        defer { scratch.remove() }
        let line = try String(contentsOfFile: sshd.knownHosts, encoding: .utf8)
        // The same key, but for port 22 (a plain `host` entry): the port must match.
        let otherPort = try scratch.write("known_hosts", line.replacingOccurrences(of: "[\(sshd.host)]:\(sshd.port)", with: sshd.host))
        let error = await thrownError { try await sshd.connect(sshd.credential(knownHosts: otherPort)) }
        let pattern = "[\(sshd.host)]:\(sshd.port)"
        #expect(error as? SSHError == .hostKeyNotListed(endpoint: "\(sshd.host):\(sshd.port)", knownHosts: otherPort,
                                                          hostPattern: pattern, fingerprint: try fingerprint(sshd),
                                                          hashedEntries: 0))
        #expect((error as? SSHError)?.description.contains("ssh-keyscan -p \(sshd.port) \(sshd.host)") == true)

        let hashed = try scratch.write("hashed", line)
        try run("/usr/bin/ssh-keygen", ["-q", "-H", "-f", hashed])
        let hashedError = await thrownError { try await sshd.connect(sshd.credential(knownHosts: hashed)) }
        guard case .hostKeyNotListed(_, _, _, _, let count)? = hashedError as? SSHError else {
            Issue.record("expected not listed, got \(String(describing: hashedError))")
            return
        }
        #expect(count == 1)
        #expect((hashedError as? SSHError)?.description.contains("1 hashed entry was not consulted") == true)
    }

    @Test("an RSA key is refused with the explanation that libssh2 1.10 signs only with SHA-1")
    func rsaRefused() async throws {
        let sshd = try TestServices.requireSSHServer()
        let error = await thrownError { try await sshd.connect(sshd.credential(key: sshd.rsaKey)) }
        let sshError = try #require(error as? SSHError)
        guard case .rsaKeyRefused(let endpoint, let user, let key, let server) = sshError else {
            Issue.record("expected an RSA refusal, got \(sshError)")
            return
        }
        #expect(endpoint == "\(sshd.host):\(sshd.port)" && user == sshd.user && key == sshd.rsaKey)
        #expect(server.hasPrefix("OpenSSH_"))
        #expect(sshError.description == "ssh \(sshd.user)@\(sshd.host):\(sshd.port) refused the RSA key \(sshd.rsaKey): "
            + "libssh2 1.10 signs only with ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse (the server is \(server)); "
            + "use an ed25519 or ECDSA key")
        #expect(sshError.step == .authentication)
    }

    @Test("a passphrase-protected key works with its passphrase and is refused with a wrong or missing one")
    func passphraseKey() async throws {
        let sshd = try TestServices.requireSSHServer()
        let passphrase = try sshd.passphrase()
        let session = try await sshd.connect(sshd.credential(key: sshd.passphraseKey, passphrase: passphrase))
        #expect(try await session.exec("echo ok", timeout: .seconds(10)).stdoutText == "ok\n")
        await session.close()

        let wrong = await thrownError { try await sshd.connect(sshd.credential(key: sshd.passphraseKey, passphrase: "not it")) }
        #expect(wrong as? SSHError == .wrongPassphrase(key: sshd.passphraseKey, passphrase: "the test passphrase"))
        #expect(!"\(String(describing: wrong))".contains("not it"))

        let missing = await thrownError { try await sshd.connect(sshd.credential(key: sshd.passphraseKey)) }
        #expect(missing as? SSHError == .passphraseRequired(key: sshd.passphraseKey))
    }

    @Test("an inline PEM key (with and without a passphrase) authenticates from memory")
    func inlineKey() async throws {
        let sshd = try TestServices.requireSSHServer()
        for (file, passphrase) in [(sshd.key, nil), (sshd.passphraseKey, try sshd.passphrase())] {
            let pem = try String(contentsOfFile: file, encoding: .utf8)
            let credential = SSHCredential(privateKey: .inline(SSHSecret(pem), source: "inline SLURM_SSH_PRIVATE_KEY"),
                                           passphrase: passphrase.map(SSHSecret.init),
                                           hostKeyCheck: .knownHosts(path: sshd.knownHosts))
            #expect(credential.keySource == "inline SLURM_SSH_PRIVATE_KEY")
            let session = try await sshd.connect(credential)
            #expect(try await session.exec("echo inline", timeout: .seconds(10)).stdoutText == "inline\n")
            await session.close()
        }
    }

    @Test("a command past its deadline fails quickly with commandTimedOut and the session stays usable")
    func execDeadline() async throws {
        let sshd = try TestServices.requireSSHServer()
        let session = try await sshd.connect()
        defer { Task { await session.close() } }
        let started = ContinuousClock.now
        let error = await thrownError { try await session.exec("sleep 30", timeout: .seconds(1)) }
        let elapsed = started.duration(to: .now)
        #expect(error as? SSHError == .commandTimedOut(endpoint: "\(sshd.host):\(sshd.port)", command: "sleep", seconds: 1))
        #expect(elapsed < .seconds(3), "took \(elapsed)")
        #expect(session.isUsable)
        let after = try await session.exec("echo still here", timeout: .seconds(10))
        #expect(after.stdoutText == "still here\n")
    }

    @Test("cancelling the calling task ends a running command at once")
    func cancellation() async throws {
        let sshd = try TestServices.requireSSHServer()
        let session = try await sshd.connect()
        defer { Task { await session.close() } }
        let task = Task { try await session.exec("sleep 30", timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        task.cancel()
        let error = await thrownError { try await task.value }
        #expect(error as? SSHError == .cancelled(endpoint: "\(sshd.host):\(sshd.port)"))
        #expect(started.duration(to: .now) < .seconds(2))
        #expect(try await session.exec("echo ok", timeout: .seconds(10)).succeeded)
    }

    @Test("commands on one session run concurrently over separate channels, beyond the channel limit too")
    func concurrentChannels() async throws {
        let sshd = try TestServices.requireSSHServer()
        let session = try await sshd.connect()
        defer { Task { await session.close() } }
        let started = ContinuousClock.now
        let outputs = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<20 {
                group.addTask { (i, try await session.exec("sleep 0.5; echo \(i)", timeout: .seconds(30)).stdoutText) }
            }
            var all: [Int: String] = [:]
            for try await (i, text) in group { all[i] = text }
            return all
        }
        #expect(outputs.count == 20)
        for (i, text) in outputs { #expect(text == "\(i)\n") }
        // One after another this takes 10 s; with 8 channels at a time, three rounds of 0.5 s.
        #expect(started.duration(to: .now) < .seconds(6))
    }

    @Test("SFTP upload writes a temporary file, renames it into place with mode 0600, and replaces an existing file")
    func upload() async throws {
        let sshd = try TestServices.requireSSHServer()
        let session = try await sshd.connect()
        defer { Task { await session.close() } }
        let home = try await session.exec("printf %s \"$HOME\"", timeout: .seconds(10)).stdoutText
        let directory = "\(home)/uploads-\(UUID().uuidString.prefix(8))"
        defer { Task { _ = try? await session.exec("rm -rf \(ShellQuote.quote(directory))", timeout: .seconds(10)) } }
        let path = "\(directory)/staging/run.graph"
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        let bytes = [UInt8](random.readData(ofLength: 200_000))
        try random.close()

        try await session.upload(Data(bytes), to: path, createDirectory: true, timeout: .seconds(30))
        let check = try await session.exec("stat -c '%a %s' \(ShellQuote.quote(path)); ls -A \(ShellQuote.quote(directory + "/staging")); "
                                               + "stat -c %a \(ShellQuote.quote(directory))", timeout: .seconds(10))
        #expect(check.stdoutText == "600 200000\nrun.graph\n700\n")
        let remote = try await session.exec("cat \(ShellQuote.quote(path))", timeout: .seconds(10), limits: SSHOutputLimits(stdout: 1 << 20))
        #expect([UInt8](remote.stdout) == bytes)

        // The file exists now: SFTP v3 cannot rename over it, so the rename happens with mv.
        try await session.upload(Data("second\n".utf8), to: path, timeout: .seconds(30))
        let second = try await session.exec("cat \(ShellQuote.quote(path)); stat -c %a \(ShellQuote.quote(path)); ls -A \(ShellQuote.quote(directory + "/staging"))",
                                            timeout: .seconds(10))
        #expect(second.stdoutText == "second\n600\nrun.graph\n")

        let missing = await thrownError {
            try await session.upload(Data("x".utf8), to: "\(directory)/absent/file", timeout: .seconds(10))
        }
        guard case .sftp(_, let operation, let failedPath, let reason)? = missing as? SSHError else {
            Issue.record("expected an SFTP error, got \(String(describing: missing))")
            return
        }
        #expect(operation == "open" && failedPath.hasPrefix("\(directory)/absent/file.tmp-") && reason == "no such file or directory")
        #expect(session.isUsable)
    }

    @Test("large uploads and large outputs interleave on one connection without corrupting each other")
    func mixedTraffic() async throws {
        let sshd = try TestServices.requireSSHServer()
        let session = try await sshd.connect()
        defer { Task { await session.close() } }
        let home = try await session.exec("printf %s \"$HOME\"", timeout: .seconds(10)).stdoutText
        let directory = "\(home)/mixed-\(UUID().uuidString.prefix(8))"
        defer { Task { _ = try? await session.exec("rm -rf \(ShellQuote.quote(directory))", timeout: .seconds(10)) } }
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        let payloads = (0..<6).map { _ in random.readData(ofLength: 2_000_000) }
        try random.close()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, payload) in payloads.enumerated() {
                group.addTask {
                    try await session.upload(payload, to: "\(directory)/file\(n)", createDirectory: true, timeout: .seconds(60))
                }
                group.addTask {
                    let result = try await session.exec("head -c 1500000 /dev/zero | tr '\\0' '\(n)'", timeout: .seconds(60),
                                                        limits: SSHOutputLimits(stdout: 2 << 20))
                    #expect(result.stdout.count == 1_500_000)
                    #expect(result.stdout.allSatisfy { $0 == UInt8(ascii: "0") + UInt8(n) })
                }
            }
            try await group.waitForAll()
        }
        let sums = try await session.exec("cd \(ShellQuote.quote(directory)) && cksum file0 file1 file2 file3 file4 file5",
                                          timeout: .seconds(30))
        let remote = sums.stdoutText.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        let scratch = try Scratch()
        defer { scratch.remove() }
        for (n, payload) in payloads.enumerated() { try payload.write(to: URL(fileURLWithPath: scratch.sub("file\(n)"))) }
        let local = try run("/usr/bin/cksum", (0..<6).map { scratch.sub("file\($0)") })
            .split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        #expect(remote == local)
    }

    @Test("connecting to a closed port is refused, and a server that never answers times out in the handshake")
    func connectFailures() async throws {
        let sshd = try TestServices.requireSSHServer()
        let port = try unusedPort()
        let refused = await thrownError {
            try await SSHSession.connect(to: SSHTarget(host: "127.0.0.1", port: port, user: sshd.user),
                                         credential: sshd.credential(), timeout: .seconds(5))
        }
        #expect(refused as? SSHError == .connectionRefused(endpoint: "127.0.0.1:\(port)"))
        #expect((refused as? SSHError)?.step == .tcpConnect)

        let silent = try SilentListener()
        let started = ContinuousClock.now
        let timedOut = await thrownError {
            try await SSHSession.connect(to: SSHTarget(host: "127.0.0.1", port: silent.port, user: sshd.user),
                                         credential: sshd.credential(), timeout: .seconds(1))
        }
        #expect(timedOut as? SSHError == .timedOut(endpoint: "127.0.0.1:\(silent.port)", step: .handshake, seconds: 1))
        #expect(started.duration(to: .now) < .seconds(3))
    }

    private func fingerprint(_ sshd: TestServices.SSHServer) throws -> String {
        let hostKey = sshd.directory + "/ssh_host_ed25519_key.pub"
        let output = try run("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", hostKey])
        return String(output.split(separator: " ")[1])
    }
}
