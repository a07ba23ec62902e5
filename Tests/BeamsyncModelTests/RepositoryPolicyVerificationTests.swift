import Testing
@testable import BeamsyncModel

@Suite("beamsync.yaml verification section")
struct RepositoryPolicyVerificationTests {
    static let header = "apiVersion: beamsync.dev/v1\nkind: RepositoryPolicy\n"

    @Test("the verification section sets the mode and absolute key paths")
    func decodes() throws {
        let r = loadRepository(["beamsync.yaml": Self.header + """
            verification:
              mode: all
              ssh_allowed_signers: /etc/beamsync/allowed_signers
              openpgp_keyring: /etc/beamsync/trusted-keys.gpg
            """])
        let verification = try #require(r.state?.policy.verification, "\(r.diagnostics)")
        #expect(verification == .init(mode: .all, sshAllowedSigners: "/etc/beamsync/allowed_signers",
                                      openPGPKeyring: "/etc/beamsync/trusted-keys.gpg"))
    }

    @Test("without a verification section the mode is none and no keys are named")
    func defaults() throws {
        let r = loadRepository(["beamsync.yaml": Self.header + "prune: true\n"])
        #expect(try #require(r.state?.policy.verification) == .init(mode: .none))
    }

    @Test("a key path inside the repository is refused with the field and a hint")
    func relativeKeyPath() throws {
        let r = loadRepository(["beamsync.yaml": Self.header + "verification:\n  mode: head\n  ssh_allowed_signers: keys/allowed_signers\n"])
        let error = try #require(r.diagnostics.errors.first)
        #expect(error.path == "verification.ssh_allowed_signers")
        #expect(error.message.contains("absolute path") && error.message.contains("keys/allowed_signers"))
        #expect(error.hint?.contains("never come from the repository") == true)
        let dotted = loadRepository(["beamsync.yaml": Self.header + "verification:\n  openpgp_keyring: /etc/../tmp/k.gpg\n"])
        #expect(dotted.diagnostics.errors.first?.path == "verification.openpgp_keyring")
    }

    @Test("an unknown mode and an unknown field are reported with suggestions")
    func badValues() {
        let r = loadRepository(["beamsync.yaml": Self.header + "verification:\n  mode: strict\n  ssh_allowed_signer: /etc/x\n  keys: /etc/y\n"])
        let errors = r.diagnostics.errors
        #expect(errors.contains { $0.path == "verification.mode" && $0.message.contains("none, head, all") })
        #expect(errors.contains { $0.path == "verification.ssh_allowed_signer" && $0.hint == "did you mean 'ssh_allowed_signers'?" })
        #expect(errors.contains { $0.path == "verification.keys" && $0.hint == "allowed fields here: mode, openpgp_keyring, ssh_allowed_signers" })
    }

    @Test("verification must be a mapping")
    func notAMapping() {
        let r = loadRepository(["beamsync.yaml": Self.header + "verification: all\n"])
        #expect(r.diagnostics.errors.first?.path == "verification")
        #expect(r.diagnostics.errors.first?.message.contains("expected a verification mapping") == true)
    }
}
