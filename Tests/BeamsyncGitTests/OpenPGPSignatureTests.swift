import Foundation
import Testing
@testable import BeamsyncGit

/// Commits really signed with gpg through `git commit -S` (a generated key without a
/// passphrase in a private GNUPGHOME), verified with gpgv against exported keyrings.
@Suite("OpenPGP-signed commits", .enabled(if: signingToolsEnabled, "needs gpg and gpgv (scripts/test.sh installs gnupg)"))
struct OpenPGPSignatureTests {
    @Test("a commit signed by a key in the keyring verifies with an armored and with a binary keyring")
    func good() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.gpgKey(name: "Alice Signer", email: "alice@example.org")
            let armored = try await lab.exportKeyring([alice], armored: true, named: "team.asc")
            let binary = try await lab.exportKeyring([alice], armored: false, named: "team.gpg")
            let commit = try await lab.commit("signed", .openPGP(alice))
            let mirror = try await lab.mirror()
            let signature = try #require(try mirror.signature(of: commit))
            #expect(signature.format == .openpgp && signature.armored.hasPrefix("-----BEGIN PGP SIGNATURE-----"))

            let expected = CommitVerification(commit: commit, format: .openpgp, signer: "Alice Signer <alice@example.org>",
                                              keyFingerprint: alice.fingerprint, outcome: .verified)
            #expect(await (try makeVerifier(openPGP: armored)).verify(signature, commit: commit) == expected)
            #expect(await (try makeVerifier(openPGP: binary)).verify(signature, commit: commit) == expected)
            // gpg's own keybox (pubring.kbx) is read as it is.
            #expect(await (try makeVerifier(openPGP: lab.gnupgHome + "/pubring.kbx")).verify(signature, commit: commit) == expected)
        }
    }

    @Test("a key missing from the keyring is an unknown key, named by its fingerprint")
    func unknownKey() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.gpgKey(name: "Alice Signer", email: "alice@example.org")
            let eve = try await lab.gpgKey(name: "Eve", email: "eve@example.org")
            let keyring = try await lab.exportKeyring([alice], armored: true, named: "team.asc")
            let commit = try await lab.commit("by eve", .openPGP(eve))
            let mirror = try await lab.mirror()

            let result = await (try makeVerifier(openPGP: keyring)).verify(try mirror.signature(of: commit), commit: commit)
            #expect(result.reason == .unknownKey && result.keyFingerprint == eve.fingerprint && result.signer == nil)
            #expect(result.summary.contains(commit.hex) && result.summary.contains(eve.fingerprint))
        }
    }

    @Test("a signature copied onto changed content is a bad signature naming the claimed signer")
    func tampered() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.gpgKey(name: "Alice Signer", email: "alice@example.org")
            let keyring = try await lab.exportKeyring([alice], armored: false, named: "team.gpg")
            let genuine = try await lab.commit("max_concurrent_executions: 1", .openPGP(alice))
            let raw = try await lab.rawCommit(genuine)
            let forged = try await lab.writeCommit(raw.replacingOccurrences(of: "executions: 1", with: "executions: 64"))
            let mirror = try await lab.mirror()

            let result = await (try makeVerifier(openPGP: keyring)).verify(try mirror.signature(of: forged), commit: forged)
            #expect(result.reason == .badSignature && result.signer == "Alice Signer <alice@example.org>")
            #expect(result.keyFingerprint == String(alice.fingerprint.suffix(16)))  // gpgv gives only the key id for a BADSIG
            #expect(result.detail?.contains("BAD signature") == true)
        }
    }

    @Test("a good signature by a key that has since expired fails as expired (gpgv itself exits 0)")
    func expiredKey() async throws {
        try await withSigningLab { lab in
            try await lab.commit("base", .unsigned)
            // A key made on 2020-01-01 that expired a day later, and a commit it signed that day.
            let old = try await lab.gpgKey(name: "Old Key", email: "old@example.org", expiry: "1d", fakedTime: "20200101T000000")
            let keyring = try await lab.exportKeyring([old], armored: true, named: "old.asc")
            let payload = try await lab.payload(message: "signed while the key was valid", time: 1_577_840_400)
            let signature = try await lab.gpg(["--faked-system-time", "20200101T010000!", "--armor", "--detach-sign",
                                               "--local-user", old.fingerprint], stdin: Data(payload.utf8))
            let commit = try await lab.writeCommit(SigningLab.withSignature(payload, signature))
            let mirror = try await lab.mirror()
            let extracted = try #require(try mirror.signature(of: commit))
            #expect(String(decoding: extracted.payload, as: UTF8.self) == payload)

            let result = await (try makeVerifier(openPGP: keyring)).verify(extracted, commit: commit)
            #expect(result.reason == .expired && result.keyFingerprint == old.fingerprint)
            #expect(result.signer == "Old Key <old@example.org>")
        }
    }

    @Test("X.509 and unrecognised signatures are refused as unsupported, saying which formats are")
    func unsupported() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.gpgKey(name: "Alice Signer", email: "alice@example.org")
            let keyring = try await lab.exportKeyring([alice], armored: true, named: "team.asc")
            try await lab.commit("base", .unsigned)
            let payload = try await lab.payload(message: "x509", time: 1_700_000_000)
            let x509 = try await lab.writeCommit(SigningLab.withSignature(
                payload, "-----BEGIN SIGNED MESSAGE-----\nMIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0B\n-----END SIGNED MESSAGE-----"),
                branch: "x509")
            let odd = try await lab.writeCommit(SigningLab.withSignature(payload, "-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----"),
                                                branch: "odd")
            let mirror = try await lab.mirror()
            let verifier = try makeVerifier(openPGP: keyring)

            let first = await verifier.verify(try mirror.signature(of: x509), commit: x509)
            #expect(first.reason == .unsupportedFormat(.x509) && first.format == .x509)
            #expect(first.summary.contains("X.509 (gpgsm), which beamsync does not verify (use SSH or OpenPGP)"))
            #expect(await verifier.verify(try mirror.signature(of: odd), commit: odd).reason == .unsupportedFormat(.unknown))
        }
    }

    @Test("an OpenPGP-signed commit fails clearly when only allowed_signers is configured")
    func noOpenPGPKeys() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.gpgKey(name: "Alice Signer", email: "alice@example.org")
            let ssh = try await lab.sshKey("alice")
            let allowed = try lab.allowedSigners(["alice@example.org \(ssh.publicKeyText)"])
            let commit = try await lab.commit("signed", .openPGP(alice))
            let mirror = try await lab.mirror()

            let result = await (try makeVerifier(ssh: allowed)).verify(try mirror.signature(of: commit), commit: commit)
            #expect(result.reason == .noKeysForFormat(.openpgp))
        }
    }
}
