import Foundation
import Testing
@testable import BeamsyncGit

/// Which commits `head` and `all` verify between the last applied revision and a new head.
@Suite("verification modes: head and all", .enabled(if: signingToolsEnabled, "needs ssh-keygen and gpg (scripts/test.sh installs them)"))
struct VerificationModeTests {
    @Test("head verifies only the new head; all finds the unsigned commit in between and names it")
    func headAndAll() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let allowed = try lab.allowedSigners(["alice@example.org \(alice.publicKeyText)"])
            let base = try await lab.commit("applied", .ssh(alice))
            let first = try await lab.commit("first", .ssh(alice))
            let sneaky = try await lab.commit("sneaky", .unsigned)
            let head = try await lab.commit("head", .ssh(alice))
            let mirror = try await lab.mirror()
            let verifier = try makeVerifier(ssh: allowed)

            let headOnly = try await verifier.verify(head: head, base: base, mode: .head, in: mirror)
            #expect(headOnly.verdict == .verified && headOnly.commits.map(\.commit) == [head] && headOnly.base == nil)
            try headOnly.requireVerified()

            let all = try await verifier.verify(head: head, base: base, mode: .all, in: mirror)
            #expect(all.commits.map(\.commit) == [head, sneaky, first])
            #expect(all.verdict == .failed && all.failures.map(\.commit) == [sneaky] && all.base == base)
            let error = try #require(await thrownError { try all.requireVerified() } as? CommitVerificationFailed)
            #expect(error.description == """
                commit signature verification (mode all) failed for 1 of 3 commits between the last applied revision \
                \(base.short) and \(head.short):
                  commit \(sneaky.short) (\(sneaky.hex)) is not signed
                """)
            let unsignedHead = try await verifier.verify(head: sneaky, base: first, mode: .head, in: mirror)
            #expect("\(CommitVerificationFailed(report: unsignedHead))" == """
                commit signature verification (mode head) failed for \(sneaky.short):
                  commit \(sneaky.short) (\(sneaky.hex)) is not signed
                """)
        }
    }

    @Test("all follows every parent of a merge: a signed merge does not vouch for an unsigned side-branch commit")
    func merges() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let allowed = try lab.allowedSigners(["alice@example.org \(alice.publicKeyText)"])
            let base = try await lab.commit("applied", .ssh(alice))
            try await lab.git(["checkout", "-q", "-b", "feature"])
            let featureSigned = try await lab.commit("feature signed", .ssh(alice))
            let featureUnsigned = try await lab.commit("feature unsigned", .unsigned)
            try await lab.git(["checkout", "-q", "main"])
            let mainline = try await lab.commit("mainline", .ssh(alice))
            try await lab.git(["-c", "gpg.format=ssh", "-c", "user.signingkey=\(alice.privateKey)",
                               "merge", "-q", "--no-ff", "-S", "-m", "merge feature", "feature"])
            let merge = try await lab.upstream.head()
            let mirror = try await lab.mirror()
            let verifier = try makeVerifier(ssh: allowed)

            #expect(try await verifier.verify(head: merge, base: base, mode: .head, in: mirror).verdict == .verified)
            let all = try await verifier.verify(head: merge, base: base, mode: .all, in: mirror)
            #expect(Set(all.commits.map(\.commit)) == [merge, mainline, featureSigned, featureUnsigned])
            #expect(all.commits.first?.commit == merge && all.commits.first?.isVerified == true)
            #expect(all.failures.map(\.commit) == [featureUnsigned] && all.failures.first?.reason == .unsigned)

            // Once the side branch is fixed (signed again) and merged, everything verifies.
            try await lab.git(["checkout", "-q", "feature"])
            try await lab.git(["reset", "-q", "--hard", featureSigned.hex])
            let fixed = try await lab.commit("feature signed again", .ssh(alice))
            try await lab.git(["checkout", "-q", "main"])
            try await lab.git(["reset", "-q", "--hard", mainline.hex])
            try await lab.git(["-c", "gpg.format=ssh", "-c", "user.signingkey=\(alice.privateKey)",
                               "merge", "-q", "--no-ff", "-S", "-m", "merge feature", "feature"])
            let goodMerge = try await lab.upstream.head()
            let again = try await verifier.verify(head: goodMerge, base: base, mode: .all,
                                                  in: try await lab.mirror())
            #expect(again.verdict == .verified)
            #expect(Set(again.commits.map(\.commit)) == [goodMerge, mainline, featureSigned, fixed])
        }
    }

    @Test("all verifies the head alone on a first apply, when the head is already applied, and after a rollback")
    func headAlwaysIncluded() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let allowed = try lab.allowedSigners(["alice@example.org \(alice.publicKeyText)"])
            try await lab.commit("old unsigned history", .unsigned)
            let older = try await lab.commit("older", .ssh(alice))
            let newer = try await lab.commit("newer", .ssh(alice))
            let mirror = try await lab.mirror()
            let verifier = try makeVerifier(ssh: allowed)

            let first = try await verifier.verify(head: newer, base: nil, mode: .all, in: mirror)
            #expect(first.commits.map(\.commit) == [newer] && first.verdict == .verified)
            let same = try await verifier.verify(head: newer, base: newer, mode: .all, in: mirror)
            #expect(same.commits.map(\.commit) == [newer])
            let rollback = try await verifier.verify(head: older, base: newer, mode: .all, in: mirror)
            #expect(rollback.commits.map(\.commit) == [older] && rollback.verdict == .verified)
            let none = try await verifier.verify(head: newer, base: nil, mode: .none, in: mirror)
            #expect(none.verdict == .notRequired && none.commits.isEmpty)
        }
    }

    @Test("all refuses a base that is not in the mirror and a range longer than the limit, saying what to do")
    func listingErrors() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let allowed = try lab.allowedSigners(["alice@example.org \(alice.publicKeyText)"])
            let base = try await lab.commit("applied", .ssh(alice))
            for index in 1...5 { try await lab.commit("change \(index)", .ssh(alice)) }
            let head = try await lab.upstream.head()
            let mirror = try await lab.mirror()
            var options = CommitSignatureVerifier.Options()
            options.maxCommits = 3
            let verifier = try makeVerifier(ssh: allowed, options: options)

            let missing = try #require(GitObjectID(hex: String(repeating: "ab", count: 20)))
            let gone = try #require(await thrownError { try await verifier.verify(head: head, base: missing, mode: .all, in: mirror) })
            #expect(gone as? CommitVerificationError == .baseNotFound(base: missing))
            #expect("\(gone)".contains("push that commit to a branch or tag"))

            let long = try #require(await thrownError { try await verifier.verify(head: head, base: base, mode: .all, in: mirror) })
            #expect(long as? CommitVerificationError == .tooManyCommits(limit: 3, head: head, base: base))
            #expect("\(long)".contains("more than 3 commits") && "\(long)".contains("--ref COMMIT"))
        }
    }

    @Test("verifying 100 commits in mode all (50 SSH, 50 OpenPGP) takes well under 30 seconds")
    func hundredCommits() async throws {
        try await withSigningLab { lab in
            let ssh = try await lab.sshKey("alice")
            let pgp = try await lab.gpgKey(name: "Alice Signer", email: "alice@example.org")
            let allowed = try lab.allowedSigners(["alice@example.org \(ssh.publicKeyText)"])
            let keyring = try await lab.exportKeyring([pgp], armored: true, named: "team.asc")
            let base = try await lab.commit("applied", .unsigned)
            for index in 0..<100 {
                try await lab.commit("change \(index)", index.isMultiple(of: 2) ? .ssh(ssh) : .openPGP(pgp))
            }
            let head = try await lab.upstream.head()
            let mirror = try await lab.mirror()

            var serial = CommitSignatureVerifier.Options()
            serial.parallelism = 1
            let oneAtATime = try await makeVerifier(ssh: allowed, openPGP: keyring, options: serial)
                .verify(head: head, base: base, mode: .all, in: mirror)
            let parallel = try await makeVerifier(ssh: allowed, openPGP: keyring)
                .verify(head: head, base: base, mode: .all, in: mirror)

            for report in [oneAtATime, parallel] {
                #expect(report.commits.count == 100 && report.verdict == .verified)
                #expect(report.commits.filter { $0.format == .ssh }.count == 50)
            }
            print("verified 100 commits (50 SSH, 50 OpenPGP) in mode all: \(parallel.duration) with 4 at once, "
                  + "\(oneAtATime.duration) one at a time")
            #expect(parallel.duration < .seconds(30))
        }
    }
}
