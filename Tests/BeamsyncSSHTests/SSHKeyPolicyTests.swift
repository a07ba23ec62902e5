import Foundation
import Testing
@testable import BeamsyncSSH

/// beampipe's SSH key policy as a pure function of environment, file facts and profile fields.
@Suite("SSH key policy")
struct SSHKeyPolicyTests {
    /// The single finding of `resolution` (recording an issue when there are others).
    private func only(_ resolution: SSHCredentialResolution, sourceLocation: SourceLocation = #_sourceLocation) -> SecurityFinding? {
        #expect(resolution.findings.count == 1, "findings: \(resolution.findings)", sourceLocation: sourceLocation)
        return resolution.findings.first
    }

    // MARK: production rules

    @Test("a correct production setup yields the credential and no findings")
    func productionHappyPath() throws {
        let setup = PolicySetup()
        let resolution = setup.resolve()
        #expect(resolution.findings.isEmpty)
        #expect(resolution.production)
        #expect(resolution.target == SSHTarget(host: "login.hpc.example", port: 2222, user: "operator"))
        let credential = try resolution.requireCredential()
        guard case .file(let path) = credential.privateKey else {
            Issue.record("expected a key file")
            return
        }
        #expect(path == "/run/secrets/key")
        #expect(credential.keySource == "SLURM_SSH_PRIVATE_KEY_FILE (/run/secrets/key)")
        #expect(credential.hostKeyCheck == .knownHosts(path: "/run/ssh/known_hosts"))
        #expect(credential.passphrase == nil)
    }

    @Test("a group- or world-readable private key is rejected, in production and in development")
    func keyPermissions() {
        for env in ["production", "development"] {
            var setup = PolicySetup()
            setup.env["BEAMPIPE_ENV"] = env
            setup.fs.files["/run/secrets/key"]?.mode = 0o640
            let resolution = setup.resolve()
            let finding = only(resolution)
            #expect(finding?.rule == .secretFilePermissions)
            #expect(finding?.severity == .error)
            #expect(finding?.message == "SLURM_SSH_PRIVATE_KEY_FILE (/run/secrets/key): the private key file is readable or writable by group or others (mode 0640)")
            #expect(finding?.fix == "chmod 600 /run/secrets/key")
            #expect(resolution.credential == nil)
        }
    }

    @Test("a symlinked key path is rejected in production and allowed in development")
    func symlinkedKey() {
        var setup = PolicySetup()
        setup.fs.files["/run/secrets/..data/key"] = setup.fs.files["/run/secrets/key"]
        setup.fs.link("/run/secrets/key", to: "/run/secrets/..data/key")
        let finding = only(setup.resolve())
        #expect(finding?.rule == .secretFileSymlink)
        #expect(finding?.message == "SLURM_SSH_PRIVATE_KEY_FILE (/run/secrets/key): the private key path is a symbolic link to "
            + "/run/secrets/..data/key, which production refuses because a link can be redirected")
        #expect(finding?.fix == "use the file's real path (/run/secrets/..data/key) instead of the link")

        setup.env["BEAMPIPE_ENV"] = "dev"
        setup.env["SLURM_SSH_KNOWN_HOSTS_SOURCE"] = "/run/ssh/known_hosts"
        let development = setup.resolve()
        #expect(development.findings.isEmpty)
        #expect(development.credential != nil)
    }

    @Test("production rejects a key owned by another user; a missing key file names the variable")
    func ownerAndMissing() {
        var setup = PolicySetup()
        setup.fs.files["/run/secrets/key"]?.owner = 4242
        let owner = only(setup.resolve())
        #expect(owner?.message == "SLURM_SSH_PRIVATE_KEY_FILE (/run/secrets/key): the private key file belongs to uid 4242, not to this process's uid 1000 or root")
        #expect(owner?.fix == "chown 1000 /run/secrets/key")
        setup.fs.files["/run/secrets/key"]?.owner = 0
        #expect(setup.resolve().findings.isEmpty, "root-owned keys are fine")

        setup.fs.files["/run/secrets/key"] = nil
        let missing = only(setup.resolve())
        #expect(missing?.rule == .secretFileMissing)
        #expect(missing?.message == "SLURM_SSH_PRIVATE_KEY_FILE (/run/secrets/key): the private key file does not exist")
        #expect(missing?.fix == "set SLURM_SSH_PRIVATE_KEY_FILE to the path of an existing private key file")
    }

    @Test("a passphrase file obeys the same rules as the key")
    func passphraseFileRules() {
        var setup = PolicySetup()
        setup.env["SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE"] = "/run/secrets/passphrase"
        setup.fs.add("/run/secrets/passphrase", "secret words\n", mode: 0o644)
        let finding = only(setup.resolve())
        #expect(finding?.message == "SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE (/run/secrets/passphrase): the passphrase file is readable or writable by group or others (mode 0644)")
        #expect(finding?.fix == "chmod 600 /run/secrets/passphrase")
        #expect(!(finding?.description.contains("secret words") ?? true))
    }

    @Test("known_hosts: missing, empty, hashed, marked, malformed, or without the login node's entry are each rejected")
    func knownHostsRules() {
        var setup = PolicySetup()
        let subject = "SLURM_SSH_KNOWN_HOSTS_SOURCE (/run/ssh/known_hosts)"
        let entry = Fixture.knownHostsLine("[login.hpc.example]:2222")

        setup.fs.files["/run/ssh/known_hosts"] = nil
        var finding = only(setup.resolve())
        #expect(finding?.rule == .knownHostsMissing)
        #expect(finding?.message == "\(subject): the known_hosts file does not exist")
        #expect(finding?.fix == "create it with a plain entry for [login.hpc.example]:2222 (`ssh-keyscan -p 2222 login.hpc.example`, after checking the fingerprint)")

        setup.fs.add("/run/ssh/known_hosts", "# nothing yet\n\n", mode: 0o644)
        finding = only(setup.resolve())
        #expect(finding?.rule == .knownHostsEmpty)
        #expect(finding?.message == "\(subject): the known_hosts file has no host keys")

        setup.fs.add("/run/ssh/known_hosts", entry + "\n" + Fixture.knownHostsLine("|1|c2FsdA==|aGFzaA==") + "\n", mode: 0o644)
        finding = only(setup.resolve())
        #expect(finding?.rule == .knownHostsHashed)
        #expect(finding?.message == "\(subject): hashed entries (|1|…) are not accepted (line 2)")
        #expect(finding?.fix == "write plain entries (ssh-keyscan without -H) so the trusted hosts can be reviewed")

        setup.fs.add("/run/ssh/known_hosts", entry + "\n@cert-authority *.hpc.example " + Fixture.knownHostsLine("").dropFirst() + "\n", mode: 0o644)
        finding = only(setup.resolve())
        #expect(finding?.rule == .knownHostsMarker)
        #expect(finding?.message == "\(subject): @cert-authority and @revoked markers are not supported (line 2)")

        setup.fs.add("/run/ssh/known_hosts", entry + "\nlogin.hpc.example ssh-ed25519\n", mode: 0o644)
        finding = only(setup.resolve())
        #expect(finding?.rule == .knownHostsInvalidLine)
        #expect(finding?.message == "\(subject): line 2 is not a known_hosts entry (expected `hosts key-type base64-key`)")
        #expect(finding?.fix == "correct or remove line 2")

        // The key for port 22 does not vouch for port 2222.
        setup.fs.add("/run/ssh/known_hosts", Fixture.knownHostsLine("login.hpc.example") + "\n", mode: 0o644)
        finding = only(setup.resolve())
        #expect(finding?.rule == .knownHostsNoEntry)
        #expect(finding?.message == "\(subject): no plain entry matches [login.hpc.example]:2222 (login_node login.hpc.example, ssh_port 2222)")
        #expect(finding?.fix == "add one (`ssh-keyscan -p 2222 login.hpc.example`, after checking the fingerprint with the cluster's administrators)")

        // ... but it does for a profile on port 22 (and so does a wildcard).
        setup.profile.sshPort = 22
        #expect(setup.resolve().findings.isEmpty)
        setup.fs.add("/run/ssh/known_hosts", Fixture.knownHostsLine("*.hpc.example,!bastion.hpc.example") + "\n", mode: 0o644)
        #expect(setup.resolve().findings.isEmpty)
        setup.profile.loginNode = "bastion.hpc.example"
        #expect(only(setup.resolve())?.rule == .knownHostsNoEntry)
    }

    @Test("production without a known_hosts file is rejected; development accepts any host key with a warning")
    func knownHostsNotConfigured() throws {
        var setup = PolicySetup()
        setup.env["SLURM_SSH_KNOWN_HOSTS_SOURCE"] = nil
        let finding = only(setup.resolve())
        #expect(finding?.rule == .knownHostsNotConfigured)
        #expect(finding?.message == "SLURM_SSH_KNOWN_HOSTS_SOURCE: no known_hosts file is configured, so the host key of login.hpc.example:2222 cannot be checked")
        #expect(finding?.fix == "set SLURM_SSH_KNOWN_HOSTS_SOURCE to a file with a plain entry for [login.hpc.example]:2222 "
            + "(`ssh-keyscan -p 2222 login.hpc.example`, after checking the fingerprint with the cluster's administrators)")

        setup.env["BEAMPIPE_ENV"] = nil
        let development = setup.resolve()
        let warning = only(development)
        #expect(warning?.rule == .anyHostKeyAccepted && warning?.severity == .warning)
        #expect(warning?.message == "SLURM_SSH_KNOWN_HOSTS_SOURCE: no known_hosts file is configured: any host key is accepted")
        #expect(try development.requireCredential().hostKeyCheck == .acceptAny)

        setup.env["BEAMPIPE_SLURM_SSH_STRICT_KNOWN_HOSTS"] = "yes"
        #expect(only(setup.resolve())?.rule == .knownHostsNotConfigured)
    }

    @Test("turning host-key checking off in production needs BEAMPIPE_ALLOW_INSECURE_SSH_HOST_KEYS=true")
    func insecureHostKeys() throws {
        var setup = PolicySetup()
        setup.env["SLURM_SSH_KNOWN_HOSTS_SOURCE"] = nil
        setup.env["BEAMPIPE_SLURM_SSH_STRICT_KNOWN_HOSTS"] = "false"
        let refused = setup.resolve()
        #expect(refused.findings.map(\.rule) == [.hostKeyCheckOffInProduction, .knownHostsNotConfigured])
        #expect(refused.findings.first?.message == "BEAMPIPE_SLURM_SSH_STRICT_KNOWN_HOSTS: host-key checking cannot be turned off in production")
        #expect(refused.findings.first?.fix == "set BEAMPIPE_SLURM_SSH_STRICT_KNOWN_HOSTS=true (BEAMPIPE_ALLOW_INSECURE_SSH_HOST_KEYS=true overrides this as a break-glass)")

        setup.env["BEAMPIPE_ALLOW_INSECURE_SSH_HOST_KEYS"] = "true"
        let allowed = setup.resolve()
        #expect(allowed.findings.map(\.rule) == [.insecureHostKeysAllowed, .anyHostKeyAccepted])
        #expect(allowed.findings.first?.message == "BEAMPIPE_ALLOW_INSECURE_SSH_HOST_KEYS: host-key checking is off in production (break-glass)")
        #expect(allowed.errors.isEmpty)
        #expect(try allowed.requireCredential().hostKeyCheck == .acceptAny)
    }

    // MARK: inline secrets

    @Test("inline PEM in production needs BEAMPIPE_ALLOW_INLINE_SECRETS=true; development accepts it, escaped newlines too")
    func inlineKey() throws {
        var setup = PolicySetup()
        setup.env["SLURM_SSH_PRIVATE_KEY_FILE"] = nil
        setup.env["SLURM_SSH_PRIVATE_KEY"] = Fixture.opensshKey()
        let refused = only(setup.resolve())
        #expect(refused?.rule == .inlineSecretInProduction)
        #expect(refused?.message == "SLURM_SSH_PRIVATE_KEY: inline secrets are refused in production")
        #expect(refused?.fix == "put the secret in a file (mode 0600) and set SLURM_SSH_PRIVATE_KEY_FILE instead; "
            + "BEAMPIPE_ALLOW_INLINE_SECRETS=true allows it as a break-glass")
        #expect(!(refused?.description.contains("BEGIN OPENSSH") ?? true))

        setup.env["BEAMPIPE_ALLOW_INLINE_SECRETS"] = "on"
        let allowed = setup.resolve()
        #expect(allowed.findings.map(\.rule) == [.inlineSecretAllowed])
        #expect(allowed.findings.first?.severity == .warning)
        guard case .inline(let secret, let source) = try allowed.requireCredential().privateKey else {
            Issue.record("expected an inline key")
            return
        }
        #expect(source == "inline SLURM_SSH_PRIVATE_KEY")
        #expect("\(secret)" == "<redacted>")

        setup.env["BEAMPIPE_ENV"] = "development"
        setup.env["BEAMPIPE_ALLOW_INLINE_SECRETS"] = nil
        setup.env["SLURM_SSH_PRIVATE_KEY"] = Fixture.opensshKey().replacingOccurrences(of: "\n", with: "\\n")
        let development = setup.resolve()
        #expect(development.findings.isEmpty)
        guard case .inline(let unescaped, _) = try development.requireCredential().privateKey else {
            Issue.record("expected an inline key")
            return
        }
        #expect(unescaped.bytes == Array(Fixture.opensshKey().utf8))

        setup.env["SLURM_SSH_PRIVATE_KEY"] = "ssh-ed25519 AAAA… this is a public key"
        let notKey = only(setup.resolve())
        #expect(notKey?.rule == .notAPrivateKey)
        #expect(notKey?.message == "inline SLURM_SSH_PRIVATE_KEY: this is not a PEM or OpenSSH private key")
        #expect(!(notKey?.description.contains("AAAA") ?? true))
    }

    @Test("an inline passphrase in production is an inline secret too")
    func inlinePassphrase() {
        var setup = PolicySetup()
        setup.env["SLURM_SSH_PRIVATE_KEY_PASSPHRASE"] = "hunter2"
        let finding = only(setup.resolve())
        #expect(finding?.message == "SLURM_SSH_PRIVATE_KEY_PASSPHRASE: inline secrets are refused in production")
        #expect(finding?.fix == "put the secret in a file (mode 0600) and set SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE instead; "
            + "BEAMPIPE_ALLOW_INLINE_SECRETS=true allows it as a break-glass")
        #expect(!(finding?.description.contains("hunter2") ?? true))
    }

    // MARK: home fallback

    @Test("development may fall back to ~/.ssh when allowed; production forbids the fallback outright")
    func homeFallback() throws {
        var setup = PolicySetup()
        setup.env = ["BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK": "1"]
        setup.fs.add("/home/op/.ssh/id_ecdsa", Fixture.opensshKey("ecdsa-sha2-nistp256"))
        setup.fs.add("/home/op/.ssh/known_hosts", Fixture.knownHostsLine("[login.hpc.example]:2222") + "\n", mode: 0o644)
        let development = setup.resolve()
        #expect(development.findings.map(\.rule) == [.homeFallbackUsed])
        #expect(development.findings.first?.message == "/home/op/.ssh/id_ecdsa: the key comes from the home directory (development fallback)")
        let credential = try development.requireCredential()
        guard case .file(let path) = credential.privateKey else {
            Issue.record("expected a key file")
            return
        }
        #expect(path == "/home/op/.ssh/id_ecdsa")
        #expect(credential.hostKeyCheck == .knownHosts(path: "/home/op/.ssh/known_hosts"))

        // id_ed25519 comes first.
        setup.fs.add("/home/op/.ssh/id_ed25519", Fixture.opensshKey())
        guard case .file(let first) = try setup.resolve().requireCredential().privateKey else { return }
        #expect(first == "/home/op/.ssh/id_ed25519")

        setup.env["BEAMPIPE_ENV"] = "prod"
        let production = setup.resolve()
        #expect(production.findings.map(\.rule) == [.homeFallbackInProduction, .noPrivateKey, .knownHostsNotConfigured])
        #expect(production.findings.first?.message == "BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK: the home-directory key fallback is forbidden in production")
        #expect(production.findings.first?.fix == "unset BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK and set SLURM_SSH_PRIVATE_KEY_FILE")
    }

    @Test("without any key the finding lists the variables; an allowed but empty home fallback says where it looked")
    func noKey() {
        var setup = PolicySetup()
        setup.env = ["BEAMPIPE_ENV": "production", "SLURM_SSH_KNOWN_HOSTS_SOURCE": "/run/ssh/known_hosts"]
        let production = only(setup.resolve())
        #expect(production?.rule == .noPrivateKey)
        #expect(production?.message == "SLURM_SSH_PRIVATE_KEY_FILE: no SSH private key is configured "
            + "(SLURM_SSH_PRIVATE_KEY, SLURM_SSH_PRIVATE_KEY_PATH and SLURM_SSH_PRIVATE_KEY_FILE are unset)")
        #expect(production?.fix == "set SLURM_SSH_PRIVATE_KEY_FILE to the key file")

        setup.env["BEAMPIPE_ENV"] = nil
        #expect(only(setup.resolve())?.fix == "set SLURM_SSH_PRIVATE_KEY_FILE to the key file "
            + "(in development, BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK=true uses ~/.ssh/id_ed25519)")

        setup.env["BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK"] = "true"
        let home = only(setup.resolve())
        #expect(home?.rule == .homeFallbackKeyMissing)
        #expect(home?.message == "BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK: no key in /home/op/.ssh (looked for id_ed25519, id_ecdsa and id_rsa)")
        #expect(home?.fix == "create one with `ssh-keygen -t ed25519` or set SLURM_SSH_PRIVATE_KEY_FILE")
    }

    // MARK: precedence

    @Test("without a slot: inline PEM before SLURM_SSH_PRIVATE_KEY_PATH before SLURM_SSH_PRIVATE_KEY_FILE")
    func globalPrecedence() throws {
        var setup = PolicySetup()
        setup.env["BEAMPIPE_ENV"] = "development"
        setup.fs.add("/keys/path", Fixture.opensshKey())
        setup.env["SLURM_SSH_PRIVATE_KEY_PATH"] = "/keys/path"
        guard case .file(let path) = try setup.resolve().requireCredential().privateKey else { return }
        #expect(path == "/keys/path")

        setup.env["SLURM_SSH_PRIVATE_KEY"] = Fixture.opensshKey()
        guard case .inline = try setup.resolve().requireCredential().privateKey else {
            Issue.record("inline PEM should win")
            return
        }
        // known_hosts: SLURM_SSH_KNOWN_HOSTS before SLURM_SSH_KNOWN_HOSTS_SOURCE.
        setup.fs.add("/other/known_hosts", Fixture.knownHostsLine("[login.hpc.example]:2222") + "\n")
        setup.env["SLURM_SSH_KNOWN_HOSTS"] = "/other/known_hosts"
        #expect(try setup.resolve().requireCredential().hostKeyCheck == .knownHosts(path: "/other/known_hosts"))
    }

    @Test("with a slot: the slot's variables, then its directory; never the process-wide key")
    func slotPrecedence() throws {
        var setup = PolicySetup()
        setup.env["BEAMSYNC_SSH_CREDENTIALS_DIR"] = "/creds"
        setup.profile.credentialSlot = "setonix-prod.v2"

        // The process-wide SLURM_SSH_PRIVATE_KEY_FILE is set, but the slot has no key.
        let missing = only(setup.resolve())
        #expect(missing?.rule == .noPrivateKey)
        #expect(missing?.message == "credential slot setonix-prod.v2: no private key: SLURM_SSH_PRIVATE_KEY_SETONIX_PROD_V2, "
            + "SLURM_SSH_PRIVATE_KEY_PATH_SETONIX_PROD_V2 and SLURM_SSH_PRIVATE_KEY_FILE_SETONIX_PROD_V2 are unset "
            + "and /creds/setonix-prod.v2/private_key does not exist")
        #expect(missing?.fix == "install the key as /creds/setonix-prod.v2/private_key with mode 0600")

        // The slot directory: slurm_key is the second name; the shared known_hosts under the root
        // comes before the process-wide variable.
        setup.fs.directory("/creds/setonix-prod.v2")
        setup.fs.add("/creds/setonix-prod.v2/slurm_key", Fixture.opensshKey())
        setup.fs.add("/creds/known_hosts", Fixture.knownHostsLine("[login.hpc.example]:2222") + "\n")
        var resolution = setup.resolve()
        #expect(resolution.findings.isEmpty)
        var credential = try resolution.requireCredential()
        #expect(credential.keySource == "/creds/setonix-prod.v2/slurm_key")
        #expect(credential.hostKeyCheck == .knownHosts(path: "/creds/known_hosts"))
        #expect(resolution.target.credential == "setonix-prod.v2")

        setup.fs.add("/creds/setonix-prod.v2/private_key", Fixture.opensshKey())
        setup.fs.add("/creds/setonix-prod.v2/known_hosts", Fixture.knownHostsLine("[login.hpc.example]:2222") + "\n")
        credential = try setup.resolve().requireCredential()
        #expect(credential.keySource == "/creds/setonix-prod.v2/private_key")
        #expect(credential.hostKeyCheck == .knownHosts(path: "/creds/setonix-prod.v2/known_hosts"))

        // Slot variables come before the directory.
        setup.fs.add("/elsewhere/key", Fixture.opensshKey())
        setup.env["SLURM_SSH_PRIVATE_KEY_FILE_SETONIX_PROD_V2"] = "/elsewhere/key"
        resolution = setup.resolve()
        #expect(try resolution.requireCredential().keySource == "SLURM_SSH_PRIVATE_KEY_FILE_SETONIX_PROD_V2 (/elsewhere/key)")

        setup.profile.credentialSlot = "../etc"
        let invalid = only(setup.resolve())
        #expect(invalid?.rule == .invalidCredentialSlot)
        #expect(invalid?.message == "ssh_credential: `../etc` is not a valid credential slot name")
    }

    @Test("the credentials root: BEAMSYNC_SSH_CREDENTIALS_DIR, BEAMPIPE_SSH_CREDENTIALS_DIR, /run/beampipe/ssh, ~/.config/beampipe/credentials")
    func credentialsRoot() {
        var setup = PolicySetup()
        #expect(setup.policy.credentialsRoot == "/home/op/.config/beampipe/credentials")
        setup.fs.directory("/run/beampipe/ssh")
        #expect(setup.policy.credentialsRoot == "/run/beampipe/ssh")
        setup.env["BEAMPIPE_SSH_CREDENTIALS_DIR"] = "/beampipe/creds"
        #expect(setup.policy.credentialsRoot == "/beampipe/creds")
        setup.env["BEAMSYNC_SSH_CREDENTIALS_DIR"] = "/beamsync/creds"
        #expect(setup.policy.credentialsRoot == "/beamsync/creds")

        setup.fs.directory("/beamsync/creds")
        setup.fs.directory("/beamsync/creds/setonix")
        setup.fs.directory("/beamsync/creds/bad name")
        setup.fs.add("/beamsync/creds/known_hosts", "")
        #expect(setup.policy.credentialSlots() == ["setonix"])
    }

    // MARK: passphrases and key contents

    @Test("passphrase file: trailing CR/LF trimmed, inner spaces kept, and it wins over an inline passphrase")
    func passphraseHandling() throws {
        var setup = PolicySetup()
        setup.fs.add("/run/secrets/key", Fixture.opensshKey(encrypted: true))
        setup.fs.add("/run/secrets/passphrase", " two words \r\n")
        setup.env["SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE"] = "/run/secrets/passphrase"
        setup.env["SLURM_SSH_PRIVATE_KEY_PASSPHRASE"] = "ignored"
        let credential = try setup.resolve().requireCredential()
        #expect(credential.passphrase?.bytes == Array(" two words ".utf8))
        #expect(credential.passphraseSource == "SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE (/run/secrets/passphrase)")

        setup.env["SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE"] = nil
        setup.env["SLURM_SSH_PRIVATE_KEY_PASSPHRASE"] = nil
        let missing = only(setup.resolve())
        #expect(missing?.rule == .passphraseRequired)
        #expect(missing?.message == "SLURM_SSH_PRIVATE_KEY_FILE (/run/secrets/key): the private key is protected by a passphrase but no passphrase is configured")
        #expect(missing?.fix == "set SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE to a file holding the passphrase")

        // Development reads the inline (and legacy) passphrase variables.
        setup.env["BEAMPIPE_ENV"] = nil
        setup.env["SSH_KEY_PASSPHRASE"] = "legacy"
        #expect(try setup.resolve().requireCredential().passphrase?.bytes == Array("legacy".utf8))
    }

    @Test("an RSA key is a warning (OpenSSH 8.8+ refuses libssh2 1.10's signatures); a public key is not a private key")
    func keyContents() throws {
        var setup = PolicySetup()
        setup.fs.add("/run/secrets/key", Fixture.opensshKey("ssh-rsa"))
        let rsa = setup.resolve()
        let warning = only(rsa)
        #expect(warning?.rule == .rsaKey && warning?.severity == .warning)
        #expect(warning?.message == "SLURM_SSH_PRIVATE_KEY_FILE (/run/secrets/key): the private key is RSA: libssh2 1.10 signs only with ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse")
        #expect(rsa.credential != nil)

        setup.fs.add("/run/secrets/key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host\n")
        let notKey = only(setup.resolve())
        #expect(notKey?.rule == .notAPrivateKey)
        #expect(notKey?.fix == "use the private key itself (not the .pub file or a certificate)")
    }

    // MARK: environment reading

    @Test("booleans accept 1/true/yes/y/on and 0/false/no/n/off; anything else is a finding; BEAMPIPE_ENV prod counts as production")
    func booleansAndProduction() {
        var setup = PolicySetup()
        setup.env["BEAMPIPE_ENV"] = "  PROD "
        #expect(setup.policy.isProduction)
        setup.env["BEAMPIPE_ENV"] = "staging"
        #expect(!setup.policy.isProduction)
        for value in ["1", "TRUE", "Yes", "y", "on", "0", "false", "NO", "n", "Off"] {
            setup.env["BEAMPIPE_ALLOW_INLINE_SECRETS"] = value
            #expect(!setup.resolve().findings.contains { $0.rule == .invalidBoolean }, "\(value)")
        }
        setup.env["BEAMPIPE_ALLOW_INLINE_SECRETS"] = "maybe"
        let finding = only(setup.resolve())
        #expect(finding?.rule == .invalidBoolean)
        #expect(finding?.message == "BEAMPIPE_ALLOW_INLINE_SECRETS: `maybe` is not a boolean")
        #expect(finding?.fix == "use true or false (1/0, yes/no and on/off work too)")
    }

    @Test("the remote user is remote_user, else SLURM_REMOTE_USER, else USER, else root")
    func remoteUser() {
        var setup = PolicySetup()
        setup.env["SLURM_REMOTE_USER"] = "slurm-user"
        setup.env["USER"] = "local-user"
        #expect(setup.policy.target(for: setup.profile).user == "operator")
        setup.profile.remoteUser = nil
        #expect(setup.policy.target(for: setup.profile).user == "slurm-user")
        setup.env["SLURM_REMOTE_USER"] = " "
        #expect(setup.policy.target(for: setup.profile).user == "local-user")
        setup.env["USER"] = nil
        #expect(setup.policy.target(for: setup.profile).user == "root")
    }
}
