import Testing
@testable import BeamsyncGit

/// The trust rule: operator settings are a floor; a repository can only make verification
/// stricter; an unverified commit never weakens it or supplies keys over trusted ones.
@Suite("which verification applies to a revision")
struct VerificationRequirementTests {
    let operatorKeys = CommitTrust(sshAllowedSigners: "/etc/beamsync/allowed_signers")

    @Test("the operator's mode and keys apply when no repository says anything")
    func operatorOnly() throws {
        let r = try CommitVerificationRequirement.resolve(operator: .init(mode: .head, trust: operatorKeys),
                                                          applied: nil, incoming: nil)
        #expect(r.mode == .head && r.modeOrigin == .operatorSettings)
        #expect(r.trust == operatorKeys && r.trustOrigin == .operatorSettings && r.ignored.isEmpty)
    }

    @Test("a repository can raise the mode, never lower it below the operator's")
    func repositoryOnlyStricter() throws {
        let raised = try CommitVerificationRequirement.resolve(operator: .init(mode: .head, trust: operatorKeys),
                                                               applied: nil, incoming: .init(mode: .all))
        #expect(raised.mode == .all && raised.modeOrigin == .incomingPolicy)
        let lowered = try CommitVerificationRequirement.resolve(operator: .init(mode: .all, trust: operatorKeys),
                                                                applied: .init(mode: .none), incoming: .init(mode: .none))
        #expect(lowered.mode == .all && lowered.modeOrigin == .operatorSettings)
    }

    @Test("a commit that turns verification down is itself verified at the level of the last applied policy")
    func unverifiedCommitCannotWeaken() throws {
        let r = try CommitVerificationRequirement.resolve(operator: .init(trust: operatorKeys),
                                                          applied: .init(mode: .all), incoming: .init(mode: .none))
        #expect(r.mode == .all && r.modeOrigin == .appliedPolicy)
        // Once that commit is applied (verified), its policy is the applied one: the next revision is free.
        let next = try CommitVerificationRequirement.resolve(operator: .init(trust: operatorKeys),
                                                             applied: .init(mode: .none), incoming: .init(mode: .none))
        #expect(next.mode == .none)
    }

    @Test("the keys of the last applied policy are used, not the ones the incoming commit names")
    func incomingCannotSwapKeys() throws {
        let trusted = RepositoryVerificationSettings(mode: .head, sshAllowedSigners: "/etc/beamsync/team_signers")
        let swapped = RepositoryVerificationSettings(mode: .head, sshAllowedSigners: "/tmp/attacker_signers")
        let r = try CommitVerificationRequirement.resolve(operator: .init(), applied: trusted, incoming: swapped)
        #expect(r.trust == CommitTrust(sshAllowedSigners: "/etc/beamsync/team_signers") && r.trustOrigin == .appliedPolicy)
        #expect(r.ignored.count == 1 && r.ignored[0].contains("used from the next revision on"))
    }

    @Test("when the operator gives key files, a repository's key files are ignored and the fact is reported")
    func operatorKeysWin() throws {
        let r = try CommitVerificationRequirement.resolve(
            operator: .init(mode: .head, trust: operatorKeys), applied: nil,
            incoming: .init(mode: .head, openPGPKeyring: "/srv/other/keys.gpg"))
        #expect(r.trust == operatorKeys)
        #expect(r.ignored == ["beamsync.yaml in the commit being applied names the key file /srv/other/keys.gpg; "
            + "it is not used because the operator's key files are"])
    }

    @Test("a repository may switch verification on with host key files when the operator gave none")
    func firstEnablement() throws {
        let r = try CommitVerificationRequirement.resolve(
            operator: .init(), applied: nil, incoming: .init(mode: .head, openPGPKeyring: "/etc/beamsync/keys.gpg"))
        #expect(r.mode == .head && r.trust == CommitTrust(openPGPKeyring: "/etc/beamsync/keys.gpg"))
        #expect(r.trustOrigin == .incomingPolicy)
    }

    @Test("required verification without keys, and relative repository key paths, are errors that say what to give")
    func errors() throws {
        #expect(throws: CommitVerificationError.noKeysConfigured(mode: .all, modeOrigin: "beamsync.yaml at the last applied revision")) {
            try CommitVerificationRequirement.resolve(operator: .init(), applied: .init(mode: .all), incoming: nil)
        }
        let message = "\(CommitVerificationError.noKeysConfigured(mode: .head, modeOrigin: "x"))"
        #expect(message.contains("--allowed-signers FILE") && message.contains("--openpgp-keyring FILE"))
        #expect(throws: CommitVerificationError.keyPathNotAbsolute(path: "keys/allowed_signers",
                                                                    origin: "beamsync.yaml in the commit being applied")) {
            try CommitVerificationRequirement.resolve(operator: .init(), applied: nil,
                                                      incoming: .init(mode: .head, sshAllowedSigners: "keys/allowed_signers"))
        }
    }

    @Test("nothing is required when every setting is none, even without keys")
    func nothingRequired() throws {
        let r = try CommitVerificationRequirement.resolve(operator: .init(), applied: .init(), incoming: .init())
        #expect(r.mode == .none && r.modeOrigin == .defaultSetting)
        #expect(try r.makeVerifier() == nil)
    }

    @Test("modes order none < head < all")
    func ordering() {
        #expect(CommitVerificationMode.none < .head && CommitVerificationMode.head < .all)
        #expect(CommitVerificationMode.allCases.max() == .all)
    }
}
