import BeamsyncOperations
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
    @Test("with BEAMPIPE_ENV=production, group- or world-readable files and symbolic links are refused; elsewhere they pass")
    func production() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cred-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("token").path
        try "t0ken-value".write(toFile: file, atomically: true, encoding: .utf8)
        let production = ["BEAMPIPE_ENV": "production"]
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: file)
        try CredentialFileCheck.check(file, what: "--token-file", environment: [:])
        let open = #expect(throws: CredentialFileRefused.self) { try CredentialFileCheck.check(file, what: "--token-file", environment: production) }
        #expect(open?.message == "--token-file \(file) must not be readable by group or others (mode 0640); run chmod 600 \(file)")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        try CredentialFileCheck.check(file, what: "--token-file", environment: production)
        let link = dir.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        let linked = #expect(throws: CredentialFileRefused.self) { try CredentialFileCheck.check(link, what: "--token-file", environment: production) }
        #expect(linked?.message.contains("is a symbolic link") == true)
        #expect(linked?.message.contains("t0ken-value") == false)
    }
}
