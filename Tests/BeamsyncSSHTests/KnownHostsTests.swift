import Foundation
import Testing
@testable import BeamsyncSSH
import BeamsyncTestSupport

@Suite("known_hosts parsing and OpenSSH host matching")
struct KnownHostsTests {
    let key = Fixture.blob("ssh-ed25519", filler: 1)
    let other = Fixture.blob("ssh-ed25519", filler: 2)
    let ecdsa = Fixture.blob("ecdsa-sha2-nistp256", filler: 3)

    private func line(_ hosts: String, _ blob: [UInt8]) -> String {
        "\(hosts) \(KnownHosts.keyType(ofBlob: blob)!) \(Data(blob).base64EncodedString()) comment words"
    }

    @Test("a plain host matches port 22 only; [host]:port matches that port only; names are case-insensitive")
    func ports() {
        let file = KnownHosts(text: line("login.example", key) + "\n" + line("[login.example]:2222", other) + "\n")
        #expect(file.verdict(for: "login.example", key: key) == .match(line: 1))
        #expect(file.verdict(for: "[login.example]:2222", key: other) == .match(line: 2))
        #expect(file.verdict(for: "[login.example]:2222", key: key) == .mismatch(lines: [2]))
        #expect(file.verdict(for: "[login.example]:2200", key: key) == .notListed(hashedEntries: 0))
        #expect(SSHTarget(host: "Login.Example", port: 22, user: "u").knownHostsName == "login.example")
        #expect(SSHTarget(host: "Login.Example", port: 2222, user: "u").knownHostsName == "[login.example]:2222")
        #expect(file.verdict(for: "LOGIN.example", key: key) == .match(line: 1))
    }

    @Test("comma lists, * and ? wildcards and ! negation follow OpenSSH")
    func patterns() {
        let file = KnownHosts(text: line("a.example,*.hpc.example,!bad.hpc.example,node?.example", key))
        for name in ["a.example", "x.hpc.example", "node1.example"] { #expect(file.verdict(for: name, key: key) == .match(line: 1), "\(name)") }
        for name in ["bad.hpc.example", "node10.example", "hpc.example"] {
            #expect(file.verdict(for: name, key: key) == .notListed(hashedEntries: 0), "\(name)")
        }
        #expect(KnownHosts.glob(Array("*".utf8), Array("".utf8)))
        #expect(KnownHosts.glob(Array("a*b*c".utf8), Array("aXbYbZc".utf8)))
        #expect(!KnownHosts.glob(Array("a*b".utf8), Array("ac".utf8)))
    }

    @Test("a different key of the same type is a mismatch; only other types listed is its own verdict; @revoked wins")
    func verdicts() {
        let file = KnownHosts(text: [line("h", ecdsa), line("h", other), "@revoked * \(KnownHosts.keyType(ofBlob: key)!) \(Data(key).base64EncodedString())"]
            .joined(separator: "\n"))
        #expect(file.verdict(for: "h", key: key) == .revoked(line: 3))
        #expect(file.verdict(for: "h", key: Fixture.blob("ssh-ed25519", filler: 9)) == .mismatch(lines: [2]))
        let ecdsaOnly = KnownHosts(text: line("h", ecdsa))
        #expect(ecdsaOnly.verdict(for: "h", key: key) == .otherKeyTypes(["ecdsa-sha2-nistp256"]))
        #expect(ecdsaOnly.keyTypes(for: "h") == ["ecdsa-sha2-nistp256"])
    }

    @Test("hashed entries are kept but never matched; comments, blank lines and CRLF are fine; bad lines are reported")
    func parsing() {
        let text = "# comment\r\n\r\n|1|c2FsdA==|aGFzaA== \(KnownHosts.keyType(ofBlob: key)!) \(Data(key).base64EncodedString())\r\n"
            + "h ssh-ed25519 not*base64\nh ssh-rsa \(Data(key).base64EncodedString())\n@bogus h x y\nh\n"
        let file = KnownHosts(text: text)
        #expect(file.hashedEntries.map(\.line) == [3])
        #expect(file.verdict(for: "h", key: key) == .notListed(hashedEntries: 1))
        #expect(file.invalidLines == [
            KnownHosts.InvalidLine(line: 4, reason: "the key is not valid base64"),
            KnownHosts.InvalidLine(line: 5, reason: "the key data is not a ssh-rsa key"),
            KnownHosts.InvalidLine(line: 6, reason: "unknown marker @bogus"),
            KnownHosts.InvalidLine(line: 7, reason: "expected `hosts key-type base64-key`"),
        ])
    }

    @Test("the known_hosts file scripts/sshd.sh writes parses to one plain ed25519 entry for [127.0.0.1]:PORT",
          .requires(.sshd))
    func realFile() throws {
        let sshd = try TestServices.requireSSHServer()
        let file = KnownHosts(text: try String(contentsOfFile: sshd.knownHosts, encoding: .utf8))
        #expect(file.invalidLines.isEmpty)
        #expect(file.entries.count == 1)
        #expect(file.keyTypes(for: "[127.0.0.1]:\(sshd.port)") == ["ssh-ed25519"])
    }
}

@Suite("Private key inspection")
struct PrivateKeyInfoTests {
    @Test("ssh-keygen's keys: algorithm and encryption read from OpenSSH, PEM and PKCS#8 files")
    func realKeys() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let cases: [(String, [String], PrivateKeyInfo)] = [
            ("ed25519", ["-t", "ed25519", "-N", ""], PrivateKeyInfo(algorithm: .ed25519, encrypted: false, format: .openssh)),
            ("ed25519-pass", ["-t", "ed25519", "-N", "pass phrase"], PrivateKeyInfo(algorithm: .ed25519, encrypted: true, format: .openssh)),
            ("ecdsa", ["-t", "ecdsa", "-N", ""], PrivateKeyInfo(algorithm: .ecdsa, encrypted: false, format: .openssh)),
            ("rsa", ["-t", "rsa", "-b", "2048", "-N", ""], PrivateKeyInfo(algorithm: .rsa, encrypted: false, format: .openssh)),
            ("rsa-pem", ["-t", "rsa", "-b", "2048", "-N", "pass phrase", "-m", "PEM"], PrivateKeyInfo(algorithm: .rsa, encrypted: true, format: .pem)),
            ("ecdsa-pem", ["-t", "ecdsa", "-N", "", "-m", "PEM"], PrivateKeyInfo(algorithm: .ecdsa, encrypted: false, format: .pem)),
            ("ecdsa-pkcs8", ["-t", "ecdsa", "-N", "", "-m", "PKCS8"], PrivateKeyInfo(algorithm: .ecdsa, encrypted: false, format: .pkcs8)),
            ("rsa-pkcs8", ["-t", "rsa", "-b", "2048", "-N", "", "-m", "PKCS8"], PrivateKeyInfo(algorithm: .rsa, encrypted: false, format: .pkcs8)),
            ("rsa-pkcs8-pass", ["-t", "rsa", "-b", "2048", "-N", "pass phrase", "-m", "PKCS8"], PrivateKeyInfo(algorithm: .unknown, encrypted: true, format: .pkcs8)),
        ]
        for (name, arguments, expected) in cases {
            try run("/usr/bin/ssh-keygen", ["-q"] + arguments + ["-C", "test", "-f", scratch.sub(name)])
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch.sub(name))))
            #expect(PrivateKeyInfo.inspect(bytes) == expected, "\(name)")
            let publicKey = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch.sub(name + ".pub"))))
            #expect(PrivateKeyInfo.inspect(publicKey) == nil, "\(name).pub")
        }
    }
}

@Suite("Small SSH helpers")
struct SSHHelperTests {
    @Test("shell quoting keeps every byte one word")
    func quoting() throws {
        let nasty = "it's a $(dangerous) `word` \"here\"\n"
        #expect(ShellQuote.quote(nasty) == "'it'\\''s a $(dangerous) `word` \"here\"\n'")
        let echoed = try run("/bin/sh", ["-c", "printf %s \(ShellQuote.quote(nasty))"])
        #expect(echoed == nasty)
    }

    @Test("remote paths: parent, name and the prefixes mkdir -p walks")
    func remotePaths() {
        #expect(RemotePath.parent(of: "/a/b/c") == "/a/b")
        #expect(RemotePath.parent(of: "/c") == "/")
        #expect(RemotePath.parent(of: "c") == ".")
        #expect(RemotePath.name(of: "/a/b/c.ini") == "c.ini")
        #expect(RemotePath.prefixes(of: "/a/b/c") == ["/a", "/a/b", "/a/b/c"])
        #expect(RemotePath.prefixes(of: "rel/dir") == ["rel", "rel/dir"])
    }

    @Test("OpenSSH versions are read from the server banner")
    func bannerVersion() {
        #expect(SSHConnection.openSSHVersion("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")! == (9, 2))
        #expect(SSHConnection.openSSHVersion("SSH-2.0-OpenSSH_8.8")! == (8, 8))
        #expect(SSHConnection.openSSHVersion("SSH-2.0-dropbear_2022.83") == nil)
    }

    @Test("secrets print as <redacted> in every form")
    func redaction() {
        let secret = SSHSecret("correct horse")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("horse"))
        let credential = SSHCredential(privateKey: .inline(SSHSecret("-----BEGIN"), source: "inline X"), passphrase: secret,
                                       hostKeyCheck: .acceptAny)
        var all = ""
        dump(credential, to: &all)
        #expect(!all.contains("horse") && !all.contains("BEGIN"))
    }
}
