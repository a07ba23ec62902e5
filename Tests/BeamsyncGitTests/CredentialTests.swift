@testable import BeamsyncGit
import Foundation
import Testing

@Suite("Remote options, URLs and key files (no network)")
struct CredentialTests {
    @Test("URLs in messages never carry credentials")
    func redaction() {
        #expect(RemoteURL.redacted("https://x-access-token:s3cret@github.com/o/r.git") == "https://github.com/o/r.git")
        #expect(RemoteURL.redacted("https://s3cret@github.com/o/r.git") == "https://github.com/o/r.git")
        #expect(RemoteURL.redacted("ssh://git:pw@host:2222/r.git") == "ssh://git@host:2222/r.git")
        #expect(RemoteURL.redacted("ssh://git@host/r.git") == "ssh://git@host/r.git")
        #expect(RemoteURL.redacted("file:///srv/r.git") == "file:///srv/r.git")
    }

    @Test("host, port and known_hosts spelling come from the URL, including scp-like syntax")
    func remoteURL() {
        let ssh = RemoteURL("ssh://git@127.0.0.1:22022/srv/r.git")
        #expect(ssh.kind == .ssh && ssh.user == "git" && ssh.host == "127.0.0.1" && ssh.port == 22022)
        #expect(ssh.knownHostsName == "[127.0.0.1]:22022")
        let scp = RemoteURL("git@github.com:o/r.git")
        #expect(scp.kind == .ssh && scp.user == "git" && scp.host == "github.com" && scp.port == 22)
        #expect(scp.knownHostsName == "github.com")
        #expect(RemoteURL("https://h/r.git").port == 443)
        #expect(RemoteURL("/srv/r.git").kind == .local)
        #expect(RemoteURL("ssh://[::1]:2200/r").host == "::1")
    }

    @Test("key files are classified without their passphrase: type, encryption, RSA")
    func keyInspection() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        func keygen(_ name: String, _ arguments: [String]) async throws -> SSHPrivateKeyInfo {
            try await run("/usr/bin/ssh-keygen", ["-q", "-f", scratch.sub(name)] + arguments)
            return SSHPrivateKeyInfo.inspect(try String(contentsOfFile: scratch.sub(name), encoding: .utf8))
        }
        #expect(try await keygen("ed", ["-t", "ed25519", "-N", ""]) == SSHPrivateKeyInfo(type: "ssh-ed25519", isEncrypted: false))
        #expect(try await keygen("edp", ["-t", "ed25519", "-N", "password"]) == SSHPrivateKeyInfo(type: "ssh-ed25519", isEncrypted: true))
        #expect(try await keygen("ec", ["-t", "ecdsa", "-N", ""]).type == "ecdsa-sha2-nistp256")
        #expect(try await keygen("rsa", ["-t", "rsa", "-b", "2048", "-N", ""]).isRSA)
        #expect(try await keygen("pem", ["-t", "rsa", "-b", "2048", "-N", "password", "-m", "PEM"])
            == SSHPrivateKeyInfo(type: "ssh-rsa", isEncrypted: true))
    }

    @Test("options are checked before any network I/O: ssh needs a key and known_hosts, files must exist")
    func optionValidation() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let ssh = "ssh://git@127.0.0.1:1/r.git"

        let noKey = await thrownError { try await GitMirror.clone(url: ssh, to: scratch.sub("a")) }
        #expect((noKey as? GitError)?.description.contains("give an SSH private key and a known_hosts file") == true)

        try await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", scratch.sub("key")])
        let missingKnownHosts = await thrownError {
            try await GitMirror.clone(url: ssh, to: scratch.sub("b"),
                                      options: .ssh(privateKeyFile: scratch.sub("key"), knownHostsFile: scratch.sub("nope")))
        }
        #expect(missingKnownHosts as? GitError
            == .invalidOptions("known_hosts file \(scratch.sub("nope")) for \(ssh) is missing or unreadable"))

        let missingToken = await thrownError {
            try await GitMirror.clone(url: "https://example.invalid/r.git", to: scratch.sub("c"),
                                      options: .https(tokenFile: scratch.sub("token")))
        }
        #expect(missingToken as? GitError == .credentials(url: "https://example.invalid/r.git",
                                                          message: "token file \(scratch.sub("token")) is missing or unreadable"))
        #expect(!FileManager.default.fileExists(atPath: scratch.sub("a")))
    }

    @Test("a server certificate verifies against the configured CA file and host name, and only then",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func caFileVerification() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        func openssl(_ arguments: String...) async throws { try await run("/usr/bin/openssl", arguments, in: scratch.path) }
        for ca in ["ca", "other-ca"] {
            try await openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", "\(ca).key", "-out", "\(ca).pem", "-days", "2", "-subj", "/CN=\(ca)")
        }
        try await openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=git.example.org")
        _ = try scratch.write("ext.cnf", "subjectAltName=DNS:git.example.org\n")
        try await openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", "leaf.pem", "-days", "2", "-extfile", "ext.cnf")
        try await openssl("x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der")
        let der = try Data(contentsOf: URL(fileURLWithPath: scratch.sub("leaf.der")))

        func verify(_ caFile: String, _ host: String) -> String? {
            der.withUnsafeBytes { TLSVerifier.verify(der: $0, caFile: scratch.sub(caFile), host: host) }
        }
        #expect(verify("ca.pem", "git.example.org") == nil)
        #expect(verify("ca.pem", "evil.example.org")?.contains("CN") == true, "wrong host name")
        #expect(verify("other-ca.pem", "git.example.org")?.contains("not correctly signed") == true)
        #expect(verify("ext.cnf", "git.example.org")?.contains("CA file holds no readable") == true)
    }
}
