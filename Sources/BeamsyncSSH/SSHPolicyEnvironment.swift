import Foundation

/// The variables beampipe's SSH key policy reads (and beamsync with it), and how it reads them.
public enum SSHPolicyVariable {
    public static let environment = "BEAMPIPE_ENV"
    public static let inlineKey = "SLURM_SSH_PRIVATE_KEY"
    public static let keyPath = "SLURM_SSH_PRIVATE_KEY_PATH"
    public static let keyFile = "SLURM_SSH_PRIVATE_KEY_FILE"
    public static let passphraseFile = "SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE"
    public static let passcodeFile = "SLURM_SSH_PRIVATE_KEY_PASSCODE_FILE"
    public static let passphrase = "SLURM_SSH_PRIVATE_KEY_PASSPHRASE"
    public static let passcode = "SLURM_SSH_PRIVATE_KEY_PASSCODE"
    public static let legacyPassphrase = "SSH_KEY_PASSPHRASE"
    public static let knownHosts = "SLURM_SSH_KNOWN_HOSTS"
    public static let knownHostsSource = "SLURM_SSH_KNOWN_HOSTS_SOURCE"
    public static let allowHomeFallback = "BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK"
    public static let allowInlineSecrets = "BEAMPIPE_ALLOW_INLINE_SECRETS"
    public static let allowInsecureHostKeys = "BEAMPIPE_ALLOW_INSECURE_SSH_HOST_KEYS"
    public static let strictKnownHosts = "BEAMPIPE_SLURM_SSH_STRICT_KNOWN_HOSTS"
    public static let credentialsDirectory = "BEAMSYNC_SSH_CREDENTIALS_DIR"
    public static let beampipeCredentialsDirectory = "BEAMPIPE_SSH_CREDENTIALS_DIR"
    public static let remoteUser = "SLURM_REMOTE_USER"
}

/// Reads settings the way beampipe does: values are trimmed, an empty value counts as unset,
/// booleans accept 1/true/yes/y/on and 0/false/no/n/off (any case), and production means
/// BEAMPIPE_ENV is `production` or `prod`.
public struct SSHPolicyEnvironment: Sendable {
    public let variables: [String: String]

    public init(_ variables: [String: String]) { self.variables = variables }

    /// The trimmed value, nil when unset or blank.
    public func value(_ name: String) -> String? {
        guard let raw = variables[name] else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A secret value exactly as given (an inline key keeps its line breaks); nil when blank.
    public func secret(_ name: String) -> String? {
        guard let raw = variables[name], !raw.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return raw
    }

    public var isProduction: Bool {
        guard let value = value(SSHPolicyVariable.environment)?.lowercased() else { return false }
        return value == "production" || value == "prod"
    }

    /// The boolean's value; nil when unset. A value that is not a boolean adds a finding and
    /// reads as unset.
    public func flag(_ name: String, findings: inout [SecurityFinding]) -> Bool? {
        guard let value = value(name) else { return nil }
        switch value.lowercased() {
        case "1", "true", "yes", "y", "on": return true
        case "0", "false", "no", "n", "off": return false
        default:
            findings.append(SecurityFinding(.invalidBoolean, subject: name, problem: "`\(value)` is not a boolean",
                                            fix: "use true or false (1/0, yes/no and on/off work too)"))
            return nil
        }
    }
}
