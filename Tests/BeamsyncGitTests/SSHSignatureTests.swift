import Foundation
import Testing
@testable import BeamsyncGit

/// Commits really signed with ssh-keygen through `git commit -S` (gpg.format=ssh), verified
/// against allowed_signers files as git does.
@Suite("SSH-signed commits", .enabled(if: signingToolsEnabled, "needs ssh-keygen and gpg (scripts/test.sh installs them)"))
struct SSHSignatureTests {
    @Test("the gpgsig header and the exact signed payload are extracted; unsigned commits have none")
    func extraction() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let signed = try await lab.commit("signed", .ssh(alice))
            let unsigned = try await lab.commit("unsigned", .unsigned)
            let mirror = try await lab.mirror()

            let signature = try #require(try mirror.signature(of: signed))
            #expect(signature.format == .ssh)
            #expect(signature.armored.hasPrefix("-----BEGIN SSH SIGNATURE-----\n"))
            // git's payload is the commit object without the gpgsig header and its continuation lines.
            let raw = try await lab.rawCommit(signed)
            let expected = raw.components(separatedBy: "\n").filter { !$0.hasPrefix("gpgsig ") && !$0.hasPrefix(" ") }
                .joined(separator: "\n")
            #expect(String(decoding: signature.payload, as: UTF8.self) == expected)
            #expect(try mirror.signature(of: unsigned) == nil)
        }
    }

    @Test("a commit signed by a key in allowed_signers verifies, naming the principal and the key fingerprint")
    func good() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let bob = try await lab.sshKey("bob", type: "ecdsa")
            let allowed = try lab.allowedSigners(["# the team", "alice@example.org \(alice.publicKeyText)",
                                                  "bob@example.org,robert@example.org \(bob.publicKeyText)"])
            let byAlice = try await lab.commit("by alice", .ssh(alice))
            let byBob = try await lab.commit("by bob", .ssh(bob))
            let mirror = try await lab.mirror()
            let verifier = try makeVerifier(ssh: allowed)

            let first = await verifier.verify(try mirror.signature(of: byAlice), commit: byAlice)
            #expect(first == CommitVerification(commit: byAlice, format: .ssh, signer: "alice@example.org",
                                                keyFingerprint: alice.fingerprint, outcome: .verified))
            let second = await verifier.verify(try mirror.signature(of: byBob), commit: byBob)
            #expect(second.isVerified && second.keyFingerprint == bob.fingerprint)
            #expect(second.signer == "bob@example.org")  // find-principals lists each principal of the entry
            #expect(second.summary.contains("has a good SSH signature"))
        }
    }

    @Test("unsigned and unknown-key commits fail with the reason, both commit ids and the key fingerprint")
    func unsignedAndUnknown() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let mallory = try await lab.sshKey("mallory")
            let allowed = try lab.allowedSigners(["alice@example.org \(alice.publicKeyText)"])
            let unsigned = try await lab.commit("unsigned", .unsigned)
            let byMallory = try await lab.commit("by mallory", .ssh(mallory))
            let mirror = try await lab.mirror()
            let verifier = try makeVerifier(ssh: allowed)

            let none = await verifier.verify(try mirror.signature(of: unsigned), commit: unsigned)
            #expect(none.reason == .unsigned && none.format == nil && none.keyFingerprint == nil)
            #expect(none.summary == "commit \(unsigned.short) (\(unsigned.hex)) is not signed")

            let unknown = await verifier.verify(try mirror.signature(of: byMallory), commit: byMallory)
            #expect(unknown.reason == .unknownKey && unknown.keyFingerprint == mallory.fingerprint && unknown.signer == nil)
            #expect(unknown.summary.contains(byMallory.hex) && unknown.summary.contains(mallory.fingerprint))
            #expect(unknown.detail == "no entry of \(allowed) lists this key")
        }
    }

    @Test("valid-before and valid-after are checked against the committer time, as git does")
    func validityWindow() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let in2020 = try await lab.commit("made in 2020", .ssh(alice), date: "2020-06-01T12:00:00Z")
            let recent = try await lab.commit("made now", .ssh(alice))
            let mirror = try await lab.mirror()
            let expired = try lab.allowedSigners(["alice@example.org valid-before=\"20210101\" \(alice.publicKeyText)"],
                                                 named: "expired")
            let future = try lab.allowedSigners(["alice@example.org valid-after=\"20990101\" \(alice.publicKeyText)"],
                                                named: "future")
            let verifier = try makeVerifier(ssh: expired)

            // The entry expired in 2021: the 2020 commit verifies, the recent one does not.
            #expect(await verifier.verify(try mirror.signature(of: in2020), commit: in2020).isVerified)
            let late = await verifier.verify(try mirror.signature(of: recent), commit: recent)
            #expect(late.reason == .expired && late.keyFingerprint == alice.fingerprint)
            #expect(late.detail?.contains("key has expired") == true && late.detail?.contains(expired) == true)
            #expect(late.summary.contains("expired"))

            let notYet = await (try CommitSignatureVerifier(trust: CommitTrust(sshAllowedSigners: future)))
                .verify(try mirror.signature(of: recent), commit: recent)
            #expect(notYet.reason == .expired && notYet.detail?.contains("not yet valid") == true)
        }
    }

    @Test("an allowed_signers entry restricted to other namespaces does not allow git signatures")
    func namespaces() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let commit = try await lab.commit("signed", .ssh(alice))
            let mirror = try await lab.mirror()
            let fileOnly = try lab.allowedSigners(["alice@example.org namespaces=\"file\" \(alice.publicKeyText)"], named: "file-only")
            let gitToo = try lab.allowedSigners(["alice@example.org namespaces=\"file,git\" \(alice.publicKeyText)"], named: "git-too")

            let refused = await (try makeVerifier(ssh: fileOnly)).verify(try mirror.signature(of: commit), commit: commit)
            #expect(refused.reason == .namespaceNotAllowed && refused.signer == "alice@example.org")
            #expect(refused.detail?.contains("namespace") == true)
            #expect(await (try makeVerifier(ssh: gitToo)).verify(try mirror.signature(of: commit), commit: commit).isVerified)
        }
    }

    @Test("a signature copied onto changed content, or with damaged bytes, is a bad signature")
    func tampered() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let allowed = try lab.allowedSigners(["alice@example.org \(alice.publicKeyText)"])
            let genuine = try await lab.commit("deploy 4 nodes", .ssh(alice))
            let raw = try await lab.rawCommit(genuine)
            let forged = try await lab.writeCommit(raw.replacingOccurrences(of: "deploy 4 nodes", with: "deploy 400 nodes"),
                                                   branch: "forged")
            // Flip one base64 character near the end of the signature blob (inside the signature bytes).
            var lines = raw.components(separatedBy: "\n")
            let last = try #require(lines.lastIndex { $0.hasPrefix(" ") && !$0.contains("-----") })
            var chars = Array(lines[last])
            chars[5] = chars[5] == "A" ? "B" : "A"
            lines[last] = String(chars)
            let damaged = try await lab.writeCommit(lines.joined(separator: "\n"), branch: "damaged")
            let mirror = try await lab.mirror()
            let verifier = try makeVerifier(ssh: allowed)

            #expect(await verifier.verify(try mirror.signature(of: genuine), commit: genuine).isVerified)
            let wrong = await verifier.verify(try mirror.signature(of: forged), commit: forged)
            #expect(wrong.reason == .badSignature && wrong.keyFingerprint == alice.fingerprint)
            #expect(wrong.signer == "alice@example.org" && wrong.summary.contains("claimed signer alice@example.org"))
            #expect(wrong.detail?.contains("incorrect signature") == true)
            let broken = await verifier.verify(try mirror.signature(of: damaged), commit: damaged)
            #expect(broken.reason == .badSignature)
        }
    }

    @Test("an SSH-signed commit fails clearly when only an OpenPGP keyring is configured")
    func noSSHKeys() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let pgp = try await lab.gpgKey(name: "Alice Signer", email: "alice@example.org")
            let keyring = try await lab.exportKeyring([pgp], armored: false, named: "keyring.gpg")
            let commit = try await lab.commit("signed", .ssh(alice))
            let mirror = try await lab.mirror()

            let result = await (try makeVerifier(openPGP: keyring)).verify(try mirror.signature(of: commit), commit: commit)
            #expect(result.reason == .noKeysForFormat(.ssh) && result.keyFingerprint == alice.fingerprint)
            #expect(result.summary.contains("is signed with SSH, but no trusted SSH keys are configured"))
        }
    }
}
