import Foundation

/// The fields of a `slurm_remote` profile that decide where and as whom beamsync connects.
public struct SSHProfileFields: Sendable, Hashable {
    public var loginNode: String
    public var sshPort: Int
    public var remoteUser: String?
    /// `deployment.ssh_credential`: a slot name, or nil for the process-wide credential.
    public var credentialSlot: String?

    public init(loginNode: String, sshPort: Int = 22, remoteUser: String? = nil, credentialSlot: String? = nil) {
        self.loginNode = loginNode
        self.sshPort = sshPort
        self.remoteUser = remoteUser
        self.credentialSlot = credentialSlot
    }
}

/// The outcome of the key policy for one profile: the target, the credential (only when no
/// finding is an error) and every finding.
public struct SSHCredentialResolution: Sendable {
    public let target: SSHTarget
    public let production: Bool
    public let credential: SSHCredential?
    public let findings: [SecurityFinding]

    public var errors: [SecurityFinding] { findings.errors }
    public var warnings: [SecurityFinding] { findings.warnings }

    /// The credential, or `SSHError.credentialsRejected` listing the errors.
    public func requireCredential() throws -> SSHCredential {
        if let credential { return credential }
        throw SSHError.credentialsRejected(endpoint: target.endpoint, findings: errors)
    }
}

/// beampipe's SSH key and known_hosts policy, as a pure function of the environment variables,
/// the file system (through `FileSystemFacts`) and the profile's fields.
///
/// Precedence (first match wins):
///   - With `ssh_credential: <slot>`: only the slot's sources, never the process-wide key.
///     Key: `SLURM_SSH_PRIVATE_KEY_<S>` (inline), `SLURM_SSH_PRIVATE_KEY_PATH_<S>`,
///     `SLURM_SSH_PRIVATE_KEY_FILE_<S>`, `<root>/<slot>/private_key`, `<root>/<slot>/slurm_key`.
///     Passphrase: `..._PASSPHRASE_FILE_<S>`, `..._PASSCODE_FILE_<S>`, `..._PASSPHRASE_<S>`,
///     `..._PASSCODE_<S>`, `<root>/<slot>/passphrase`, `<root>/<slot>/passcode`.
///     known_hosts: `SLURM_SSH_KNOWN_HOSTS_<S>`, `SLURM_SSH_KNOWN_HOSTS_SOURCE_<S>`,
///     `<root>/<slot>/known_hosts`, `<root>/known_hosts`, then the process-wide variables.
///     (`<S>` is the slot name uppercased with `-` and `.` as `_`.)
///   - Without a slot: key `SLURM_SSH_PRIVATE_KEY` (inline PEM), `SLURM_SSH_PRIVATE_KEY_PATH`,
///     `SLURM_SSH_PRIVATE_KEY_FILE`, then (development, BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK=true)
///     `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`. Passphrase `SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE`,
///     `..._PASSCODE_FILE`, then inline `SLURM_SSH_PRIVATE_KEY_PASSPHRASE`, `..._PASSCODE`,
///     `SSH_KEY_PASSPHRASE`. known_hosts `SLURM_SSH_KNOWN_HOSTS`, `SLURM_SSH_KNOWN_HOSTS_SOURCE`,
///     then (home fallback) `~/.ssh/known_hosts`.
///
/// Rules: see `SecretFileCheck` for key and passphrase files; inline secrets in production need
/// BEAMPIPE_ALLOW_INLINE_SECRETS=true; the home fallback is forbidden in production; host keys
/// are checked (BEAMPIPE_SLURM_SSH_STRICT_KNOWN_HOSTS, default true in production, false in
/// development) against a known_hosts file that exists, holds only plain unmarked entries and
/// has one for the login node and port; production turns checking off only with
/// BEAMPIPE_ALLOW_INSECURE_SSH_HOST_KEYS=true. Without a known_hosts file and not strict, any
/// host key is accepted (a warning). A configured known_hosts file is always enforced.
public struct SSHKeyPolicy: Sendable {
    public let environment: SSHPolicyEnvironment
    public let fileSystem: any FileSystemFacts

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                fileSystem: any FileSystemFacts = LocalFileSystem()) {
        self.environment = SSHPolicyEnvironment(environment)
        self.fileSystem = fileSystem
    }

    public var isProduction: Bool { environment.isProduction }

    /// The target for a profile: the remote user is the profile's `remote_user`, else
    /// SLURM_REMOTE_USER, else USER, else `root` (beampipe's order).
    public func target(for profile: SSHProfileFields) -> SSHTarget {
        let user = profile.remoteUser.map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? environment.value(SSHPolicyVariable.remoteUser) ?? environment.value("USER") ?? "root"
        let slot = profile.credentialSlot?.trimmingCharacters(in: .whitespaces)
        return SSHTarget(host: profile.loginNode, port: profile.sshPort, user: user,
                         credential: slot?.isEmpty == false ? slot : nil)
    }

    /// The credentials root (see `SSHCredentialSlot`).
    public var credentialsRoot: String? { SSHCredentialSlot.root(environment, fileSystem: fileSystem) }

    /// Slot directories under the root whose names are valid slot names.
    public func credentialSlots() -> [String] {
        guard let root = credentialsRoot, let names = fileSystem.directoryEntries(at: root) else { return [] }
        return names.filter { SSHCredentialSlot($0) != nil && fileSystem.facts(at: "\(root)/\($0)")?.kind == .directory }
    }

    public func resolve(_ profile: SSHProfileFields) -> SSHCredentialResolution {
        var resolver = SSHKeyResolver(policy: self, target: target(for: profile))
        return resolver.run()
    }
}
