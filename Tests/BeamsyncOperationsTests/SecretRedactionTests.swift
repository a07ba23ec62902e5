import BeamsyncOperations
import BeamsyncSSH
import Foundation
import Testing

@Suite("Secrets never leave in messages")
struct SecretRedactionTests {
    @Test("URL user-info, PEM blocks and values of secret-named keys are removed; the rest of the message stays")
    func redaction() {
        let cases: [(String, String)] = [
            ("translation.tm_url: http://admin:SECRET@tm.example:8084 has credentials", "SECRET"),
            ("fetching https://x-access-token:SECRET@github.com/o/r.git failed", "SECRET"),
            ("fetching https://SECRET@github.com/o/r.git failed", "SECRET"),
            ("ssh://git:SECRET@host:2222/r.git refused", "SECRET"),
            ("key -----BEGIN OPENSSH PRIVATE KEY-----\nSECRET\n-----END OPENSSH PRIVATE KEY----- found", "SECRET"),
            ("truncated -----BEGIN RSA PRIVATE KEY-----\nSECRET", "SECRET"),
            ("deployment.password: SECRET is not allowed", "SECRET"),
            ("{\"api_token\": \"SECRET\", \"name\": \"a\"}", "SECRET"),
            ("GITLAB_TOKEN=SECRET", "SECRET"),
        ]
        for (text, secret) in cases {
            let out = SecretRedaction.redact(text)
            #expect(!out.contains(secret), "\(out)")
        }
        #expect(SecretRedaction.redact("fetching https://x-access-token:SECRET@github.com/o/r.git failed")
            == "fetching https://[REDACTED]@github.com/o/r.git failed")
        #expect(SecretRedaction.redact("ssh://git:pw@host/r.git") == "ssh://git:[REDACTED]@host/r.git")
        #expect(SecretRedaction.redact("ssh://git@host/r.git refused") == "ssh://git@host/r.git refused")
        let plain = "profiles/a.yaml:3:5: error: deploy_port must be at most 65535, found 70000"
        #expect(SecretRedaction.redact(plain) == plain)
        let named = "profiles/a.yaml:3:68: error: deployment.password: 'password' looks like a secret; secrets are not allowed"
        #expect(SecretRedaction.redact(named) == named, "a diagnostic naming a field keeps its message")
    }
}

@Suite("Secret files in production")
struct CredentialFileCheckTests {
    @Test("with BEAMPIPE_ENV=production, group- or world-readable files and symbolic links are refused, by the rule every secret file follows; elsewhere they pass")
    func production() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cred-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("token").path
        try "t0ken-value".write(toFile: file, atomically: true, encoding: .utf8)
        let production = ["BEAMPIPE_ENV": " Production "]
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: file)
        try CredentialFileCheck.check(file, what: "--token-file", environment: [:])
        let open = #expect(throws: CredentialFileRefused.self) { try CredentialFileCheck.check(file, what: "--token-file", environment: production) }
        #expect(open?.message == "--token-file (\(file)): the secret file is readable or writable by group or others (mode 0640); chmod 600 \(file)")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        try CredentialFileCheck.check(file, what: "--token-file", environment: production)
        let link = dir.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        let linked = #expect(throws: CredentialFileRefused.self) { try CredentialFileCheck.check(link, what: "--token-file", environment: production) }
        #expect(linked?.message.contains("is a symbolic link") == true)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        let both = #expect(throws: CredentialFileRefused.self) { try CredentialFileCheck.check(link, what: "--token-file", environment: production) }
        #expect(both?.message.contains("is a symbolic link") == true && both?.message.contains("; also --token-file (\(link)): the secret file is readable or writable by group or others (mode 0644); chmod 600") == true,
                "every problem is named with its fix: \(both?.message ?? "")")
        #expect(linked?.message.contains("t0ken-value") == false)
        let missing = #expect(throws: CredentialFileRefused.self) {
            try CredentialFileCheck.check(dir.appendingPathComponent("absent").path, what: "--webhook-secret-file", environment: production)
        }
        #expect(missing?.message.contains("--webhook-secret-file") == true && missing?.message.contains("does not exist") == true)
    }

    @Test("in production a secret file must belong to this process's user or root, as for SSH keys")
    func ownerInProduction() throws {
        struct OtherOwner: FileSystemFacts {
            var effectiveUserID: UInt32 { 1000 }
            var homeDirectory: String? { nil }
            func facts(at path: String) -> FileFacts? { FileFacts(kind: .regular, mode: 0o600, owner: 1001) }
            func read(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] { [] }
            func directoryEntries(at path: String) -> [String]? { nil }
        }
        let refused = #expect(throws: CredentialFileRefused.self) {
            try CredentialFileCheck.check("/etc/beamsync/token", what: "--token-file", environment: ["BEAMPIPE_ENV": "prod"], fileSystem: OtherOwner())
        }
        #expect(refused?.message == "--token-file (/etc/beamsync/token): the secret file belongs to uid 1001, not to this process's uid 1000 or root; chown 1000 /etc/beamsync/token")
    }
}
