import Foundation
import Testing
@testable import BeamsyncSSH

@Suite("Secret files (any secret: keys, passphrases, webhook secrets, token files)")
struct SecretFileCheckTests {
    @Test("the same rules and messages apply to any secret file, named by path when no variable points at it")
    func genericSecret() {
        var fs = TableFileSystem()
        fs.add("/etc/beamsync/webhook", "s3cr3t", mode: 0o604)
        let check = SecretFileCheck(production: true, fileSystem: fs)
        let findings = check.check(path: "/etc/beamsync/webhook", kind: "webhook secret")
        #expect(findings.map(\.message) == ["/etc/beamsync/webhook: the webhook secret file is readable or writable by group or others (mode 0604)"])
        #expect(findings.map(\.fix) == ["chmod 600 /etc/beamsync/webhook"])

        let missing = check.check(path: "/etc/beamsync/token", kind: "token")
        #expect(missing.map(\.message) == ["/etc/beamsync/token: the token file does not exist"])
        #expect(missing.map(\.fix) == ["create /etc/beamsync/token with mode 0600"])

        fs.directory("/etc/beamsync/dir")
        let directory = SecretFileCheck(production: false, fileSystem: fs).check(path: "/etc/beamsync/dir", variable: "TOKEN_FILE", kind: "token")
        #expect(directory.map(\.message) == ["TOKEN_FILE (/etc/beamsync/dir): the token path is a directory"])
        #expect(directory.map(\.rule) == [.secretFileNotRegular])
    }

    @Test("against the real file system: mode, symlink (production only) and a dangling link")
    func localFileSystem() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let secret = try scratch.write("secret", "value\n", mode: 0o640)
        try FileManager.default.createSymbolicLink(atPath: scratch.sub("link"), withDestinationPath: secret)
        try FileManager.default.createSymbolicLink(atPath: scratch.sub("dangling"), withDestinationPath: scratch.sub("gone"))
        let local = LocalFileSystem()

        let facts = try #require(local.facts(at: scratch.sub("link")))
        #expect(facts.isSymlink && facts.kind == .regular && facts.mode == 0o640)
        #expect(facts.linkTarget == (secret as NSString).resolvingSymlinksInPath)
        #expect(local.facts(at: scratch.sub("dangling"))?.kind == .missing)
        #expect(local.facts(at: scratch.sub("absent")) == nil)
        #expect(try local.read(secret, limit: 3) == Array("val".utf8))

        let production = SecretFileCheck(production: true).check(path: scratch.sub("link"), variable: "SECRET_FILE", kind: "secret")
        #expect(production.map(\.rule) == [.secretFileSymlink, .secretFilePermissions])
        let development = SecretFileCheck(production: false).check(path: scratch.sub("link"), variable: "SECRET_FILE", kind: "secret")
        #expect(development.map(\.rule) == [.secretFilePermissions])

        chmod(secret, 0o600)
        #expect(SecretFileCheck(production: false).check(path: scratch.sub("link"), kind: "secret").isEmpty)
        #expect(SecretFileCheck(production: true).check(path: scratch.sub("dangling"), kind: "secret").map(\.rule) == [.secretFileMissing])
    }
}
