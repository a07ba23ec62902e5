import Foundation

/// One run of `SSHKeyPolicy.resolve`: walks the sources in precedence order, applies the rules
/// and collects findings.
struct SSHKeyResolver {
    let policy: SSHKeyPolicy
    let target: SSHTarget
    var findings: [SecurityFinding] = []
    let env: SSHPolicyEnvironment
    let production: Bool
    private let secretFiles: SecretFileCheck

    init(policy: SSHKeyPolicy, target: SSHTarget) {
        self.policy = policy
        self.target = target
        self.env = policy.environment
        self.production = policy.environment.isProduction
        self.secretFiles = SecretFileCheck(production: policy.environment.isProduction, fileSystem: policy.fileSystem)
    }

    /// Where a secret comes from.
    enum Source {
        case inline(variable: String, value: String)
        case file(path: String, variable: String?)

        var description: String {
            switch self {
            case .inline(let variable, _): "inline \(variable)"
            case .file(let path, let variable): SecretFileCheck.subject(path: path, variable: variable)
            }
        }
    }

    /// A place a secret may come from, in precedence order.
    private enum Candidate {
        case inlineVariable(String)
        case fileVariable(String)
        /// A fixed path, taken only when something exists there.
        case fixedFile(String)
    }

    private var allowInline = false

    mutating func run() -> SSHCredentialResolution {
        var flagFindings: [SecurityFinding] = []
        allowInline = env.flag(SSHPolicyVariable.allowInlineSecrets, findings: &flagFindings) ?? false
        let allowHome = env.flag(SSHPolicyVariable.allowHomeFallback, findings: &flagFindings) ?? false
        let allowInsecure = env.flag(SSHPolicyVariable.allowInsecureHostKeys, findings: &flagFindings) ?? false
        let strict = env.flag(SSHPolicyVariable.strictKnownHosts, findings: &flagFindings) ?? production
        findings += flagFindings

        if production && allowHome {
            findings.append(SecurityFinding(.homeFallbackInProduction, subject: SSHPolicyVariable.allowHomeFallback,
                                            problem: "the home-directory key fallback is forbidden in production",
                                            fix: "unset \(SSHPolicyVariable.allowHomeFallback) and set \(SSHPolicyVariable.keyFile)"))
        }
        var checkHostKeys = strict
        if production && !strict {
            if allowInsecure {
                findings.append(SecurityFinding(.insecureHostKeysAllowed, .warning, subject: SSHPolicyVariable.allowInsecureHostKeys,
                                                problem: "host-key checking is off in production (break-glass)",
                                                fix: "set \(SSHPolicyVariable.strictKnownHosts)=true and unset \(SSHPolicyVariable.allowInsecureHostKeys)"))
            } else {
                findings.append(SecurityFinding(.hostKeyCheckOffInProduction, subject: SSHPolicyVariable.strictKnownHosts,
                                                problem: "host-key checking cannot be turned off in production",
                                                fix: "set \(SSHPolicyVariable.strictKnownHosts)=true (\(SSHPolicyVariable.allowInsecureHostKeys)=true overrides this as a break-glass)"))
                checkHostKeys = true
            }
        }
        let homeFallback = allowHome && !production

        var slot: SSHCredentialSlot?
        if let name = target.credential {
            guard let valid = SSHCredentialSlot(name) else {
                findings.append(SecurityFinding(.invalidCredentialSlot, subject: "ssh_credential",
                                                problem: "`\(name)` is not a valid credential slot name",
                                                fix: "use 1-50 ASCII letters, digits, '.', '_' or '-' without '..'"))
                return finish(nil)
            }
            slot = valid
        }
        let root = policy.credentialsRoot

        // The key.
        let keyCandidates: [Candidate]
        if let slot {
            keyCandidates = [.inlineVariable(slot.variable(SSHPolicyVariable.inlineKey)),
                             .fileVariable(slot.variable(SSHPolicyVariable.keyPath)),
                             .fileVariable(slot.variable(SSHPolicyVariable.keyFile))]
                + (root.map { root in SSHCredentialSlot.keyFiles.map { .fixedFile("\(root)/\(slot.name)/\($0)") } } ?? [])
        } else {
            keyCandidates = [.inlineVariable(SSHPolicyVariable.inlineKey), .fileVariable(SSHPolicyVariable.keyPath),
                             .fileVariable(SSHPolicyVariable.keyFile)]
                + (homeFallback ? homeFiles(["id_ed25519", "id_ecdsa", "id_rsa"]) : [])
        }
        let keySource = pick(keyCandidates)
        if keySource == nil { reportMissingKey(slot: slot, root: root, homeFallback: homeFallback) }
        if case .file(let path, nil)? = keySource, slot == nil {
            findings.append(SecurityFinding(.homeFallbackUsed, .warning, subject: path,
                                            problem: "the key comes from the home directory (development fallback)",
                                            fix: "set \(SSHPolicyVariable.keyFile) to a dedicated key"))
        }

        // The passphrase.
        let passphraseCandidates: [Candidate]
        if let slot {
            passphraseCandidates = [.fileVariable(slot.variable(SSHPolicyVariable.passphraseFile)),
                                    .fileVariable(slot.variable(SSHPolicyVariable.passcodeFile)),
                                    .inlineVariable(slot.variable(SSHPolicyVariable.passphrase)),
                                    .inlineVariable(slot.variable(SSHPolicyVariable.passcode))]
                + (root.map { root in SSHCredentialSlot.passphraseFiles.map { .fixedFile("\(root)/\(slot.name)/\($0)") } } ?? [])
        } else {
            passphraseCandidates = [.fileVariable(SSHPolicyVariable.passphraseFile), .fileVariable(SSHPolicyVariable.passcodeFile),
                                    .inlineVariable(SSHPolicyVariable.passphrase), .inlineVariable(SSHPolicyVariable.passcode),
                                    .inlineVariable(SSHPolicyVariable.legacyPassphrase)]
        }
        let passphraseSource = pick(passphraseCandidates)
        var passphrase: SSHSecret?
        if let passphraseSource { passphrase = loadPassphrase(passphraseSource) }

        // The private key's content (after the passphrase, to tell whether one is missing).
        var privateKey: SSHCredential.PrivateKey?
        if let keySource { privateKey = loadKey(keySource, hasPassphrase: passphrase != nil, slot: slot, root: root) }

        // Host keys.
        var knownHostsCandidates: [Candidate] = []
        if let slot {
            knownHostsCandidates = [.fileVariable(slot.variable(SSHPolicyVariable.knownHosts)),
                                    .fileVariable(slot.variable(SSHPolicyVariable.knownHostsSource))]
            if let root {
                knownHostsCandidates += [.fixedFile("\(root)/\(slot.name)/\(SSHCredentialSlot.knownHostsFile)"),
                                         .fixedFile("\(root)/\(SSHCredentialSlot.knownHostsFile)")]
            }
        }
        knownHostsCandidates += [.fileVariable(SSHPolicyVariable.knownHosts), .fileVariable(SSHPolicyVariable.knownHostsSource)]
        if homeFallback { knownHostsCandidates += homeFiles(["known_hosts"]) }
        let hostKeyCheck = resolveHostKeys(pick(knownHostsCandidates), strict: checkHostKeys, slot: slot, root: root)

        guard let privateKey, let hostKeyCheck else { return finish(nil) }
        let credential = SSHCredential(privateKey: privateKey, passphrase: passphrase, hostKeyCheck: hostKeyCheck,
                                       keySource: keySource?.description, passphraseSource: passphraseSource?.description)
        return finish(credential)
    }

    private func finish(_ credential: SSHCredential?) -> SSHCredentialResolution {
        SSHCredentialResolution(target: target, production: production,
                                credential: findings.errors.isEmpty ? credential : nil, findings: findings)
    }

    private func homeFiles(_ names: [String]) -> [Candidate] {
        guard let home = policy.fileSystem.homeDirectory else { return [] }
        return names.map { .fixedFile("\(home)/.ssh/\($0)") }
    }

    /// The first candidate that is set (a variable) or present (a fixed file).
    private func pick(_ candidates: [Candidate]) -> Source? {
        for candidate in candidates {
            switch candidate {
            case .inlineVariable(let name):
                if let value = env.secret(name) { return .inline(variable: name, value: value) }
            case .fileVariable(let name):
                if let path = env.value(name) { return .file(path: path, variable: name) }
            case .fixedFile(let path):
                if policy.fileSystem.facts(at: path) != nil { return .file(path: path, variable: nil) }
            }
        }
        return nil
    }

    private mutating func reportMissingKey(slot: SSHCredentialSlot?, root: String?, homeFallback: Bool) {
        if let slot {
            let directory = root.map { "\($0)/\(slot.name)" } ?? "<credentials root>/\(slot.name)"
            findings.append(SecurityFinding(
                .noPrivateKey, subject: "credential slot \(slot.name)",
                problem: "no private key: \(slot.variable(SSHPolicyVariable.inlineKey)), \(slot.variable(SSHPolicyVariable.keyPath)) "
                    + "and \(slot.variable(SSHPolicyVariable.keyFile)) are unset and \(directory)/private_key does not exist",
                fix: "install the key as \(directory)/private_key with mode 0600"))
        } else if homeFallback {
            let home = policy.fileSystem.homeDirectory ?? "~"
            findings.append(SecurityFinding(
                .homeFallbackKeyMissing, subject: SSHPolicyVariable.allowHomeFallback,
                problem: "no key in \(home)/.ssh (looked for id_ed25519, id_ecdsa and id_rsa)",
                fix: "create one with `ssh-keygen -t ed25519` or set \(SSHPolicyVariable.keyFile)"))
        } else {
            findings.append(SecurityFinding(
                .noPrivateKey, subject: SSHPolicyVariable.keyFile,
                problem: "no SSH private key is configured (\(SSHPolicyVariable.inlineKey), \(SSHPolicyVariable.keyPath) and \(SSHPolicyVariable.keyFile) are unset)",
                fix: "set \(SSHPolicyVariable.keyFile) to the key file"
                    + (production ? "" : " (in development, \(SSHPolicyVariable.allowHomeFallback)=true uses ~/.ssh/id_ed25519)")))
        }
    }

    /// Inline values in production need BEAMPIPE_ALLOW_INLINE_SECRETS=true. Returns whether the
    /// inline value may be used.
    private mutating func admitInline(_ variable: String, fileVariable: String) -> Bool {
        guard production else { return true }
        if allowInline {
            findings.append(SecurityFinding(.inlineSecretAllowed, .warning, subject: variable,
                                            problem: "an inline secret is used in production because \(SSHPolicyVariable.allowInlineSecrets)=true",
                                            fix: "move it to a file named by \(fileVariable) and unset \(SSHPolicyVariable.allowInlineSecrets)"))
            return true
        }
        findings.append(SecurityFinding(.inlineSecretInProduction, subject: variable,
                                        problem: "inline secrets are refused in production",
                                        fix: "put the secret in a file (mode 0600) and set \(fileVariable) instead; "
                                            + "\(SSHPolicyVariable.allowInlineSecrets)=true allows it as a break-glass"))
        return false
    }

    private mutating func loadPassphrase(_ source: Source) -> SSHSecret? {
        switch source {
        case .inline(let variable, let value):
            guard admitInline(variable, fileVariable: fileVariable(for: variable, base: SSHPolicyVariable.passphraseFile)) else { return nil }
            return SSHSecret(value)
        case .file(let path, let variable):
            let problems = secretFiles.check(path: path, variable: variable, kind: "passphrase")
            findings += problems
            guard problems.errors.isEmpty else { return nil }
            switch secretFiles.read(path: path, variable: variable, kind: "passphrase") {
            case .failure(let finding):
                findings.append(finding)
                return nil
            case .success(var bytes):
                defer { for i in bytes.indices { bytes[i] = 0 } }
                // Trailing line breaks are the file's, not the passphrase's; other spaces are kept.
                var end = bytes.count
                while end > 0 && (bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D) { end -= 1 }
                return SSHSecret(Array(bytes[0..<end]))
            }
        }
    }

    private mutating func loadKey(_ source: Source, hasPassphrase: Bool, slot: SSHCredentialSlot?,
                                  root: String?) -> SSHCredential.PrivateKey? {
        var bytes: [UInt8]
        let result: SSHCredential.PrivateKey
        switch source {
        case .inline(let variable, let value):
            guard admitInline(variable, fileVariable: fileVariable(for: variable, base: SSHPolicyVariable.keyFile)) else { return nil }
            // A PEM squeezed onto one line with literal `\n` sequences (common in .env files).
            let text = value.contains("\n") ? value : value.replacingOccurrences(of: "\\n", with: "\n")
            bytes = Array(text.utf8)
            result = .inline(SSHSecret(bytes), source: "inline \(variable)")
        case .file(let path, let variable):
            let problems = secretFiles.check(path: path, variable: variable, kind: "private key")
            findings += problems
            guard problems.errors.isEmpty else { return nil }
            switch secretFiles.read(path: path, variable: variable, kind: "private key") {
            case .failure(let finding):
                findings.append(finding)
                return nil
            case .success(let content):
                bytes = content
            }
            result = .file(path: path)
        }
        defer { for i in bytes.indices { bytes[i] = 0 } }
        guard let info = PrivateKeyInfo.inspect(bytes) else {
            findings.append(SecurityFinding(.notAPrivateKey, subject: source.description,
                                            problem: "this is not a PEM or OpenSSH private key",
                                            fix: "use the private key itself (not the .pub file or a certificate)"))
            return nil
        }
        if info.encrypted && !hasPassphrase {
            let fix: String
            if let slot {
                let directory = root.map { "\($0)/\(slot.name)" } ?? "<credentials root>/\(slot.name)"
                fix = "put the passphrase in \(directory)/passphrase (mode 0600)"
            } else {
                fix = "set \(SSHPolicyVariable.passphraseFile) to a file holding the passphrase"
            }
            findings.append(SecurityFinding(.passphraseRequired, subject: source.description,
                                            problem: "the private key is protected by a passphrase but no passphrase is configured", fix: fix))
            return nil
        }
        if info.algorithm == .rsa {
            findings.append(SecurityFinding(.rsaKey, .warning, subject: source.description,
                                            problem: "the private key is RSA: libssh2 1.10 signs only with ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse",
                                            fix: "use an ed25519 or ECDSA key (ssh-keygen -t ed25519)"))
        }
        return result
    }

    /// The file variable that replaces an inline one: `SLURM_SSH_PRIVATE_KEY_FOO` → `SLURM_SSH_PRIVATE_KEY_FILE_FOO`.
    private func fileVariable(for inline: String, base: String) -> String {
        if let suffix = target.credential.flatMap(SSHCredentialSlot.init)?.variableSuffix, inline.hasSuffix("_\(suffix)") {
            return "\(base)_\(suffix)"
        }
        return base
    }
}
