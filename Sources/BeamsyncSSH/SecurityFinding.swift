/// One problem with how secrets are configured: which variable or file, which rule, and how to
/// fix it. The messages are stable (tests and operators match on them) and never contain a
/// secret: files are named by path, inline values by their variable.
public struct SecurityFinding: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public enum Rule: String, Sendable, CaseIterable {
        // any secret file
        case secretFileMissing = "secret_file_missing"
        case secretFileNotRegular = "secret_file_not_regular"
        case secretFilePermissions = "secret_file_permissions"
        case secretFileSymlink = "secret_file_symlink"
        case secretFileOwner = "secret_file_owner"
        case secretFileUnreadable = "secret_file_unreadable"
        // environment
        case invalidBoolean = "invalid_boolean"
        case inlineSecretInProduction = "inline_secret_in_production"
        case inlineSecretAllowed = "inline_secret_allowed"
        // SSH keys
        case invalidCredentialSlot = "invalid_credential_slot"
        case noPrivateKey = "no_private_key"
        case homeFallbackInProduction = "home_fallback_in_production"
        case homeFallbackKeyMissing = "home_fallback_key_missing"
        case homeFallbackUsed = "home_fallback_used"
        case notAPrivateKey = "not_a_private_key"
        case passphraseRequired = "passphrase_required"
        case rsaKey = "rsa_key"
        // host keys
        case knownHostsNotConfigured = "known_hosts_not_configured"
        case knownHostsMissing = "known_hosts_missing"
        case knownHostsUnreadable = "known_hosts_unreadable"
        case knownHostsEmpty = "known_hosts_empty"
        case knownHostsHashed = "known_hosts_hashed"
        case knownHostsMarker = "known_hosts_marker"
        case knownHostsInvalidLine = "known_hosts_invalid_line"
        case knownHostsNoEntry = "known_hosts_no_entry"
        case hostKeyCheckOffInProduction = "host_key_check_off_in_production"
        case insecureHostKeysAllowed = "insecure_host_keys_allowed"
        case anyHostKeyAccepted = "any_host_key_accepted"
    }

    public let rule: Rule
    public let severity: Severity
    /// The variable or file the finding is about, as the message starts with it.
    public let subject: String
    /// `subject: what is wrong`.
    public let message: String
    /// What to do about it.
    public let fix: String

    public init(_ rule: Rule, _ severity: Severity = .error, subject: String, problem: String, fix: String) {
        self.rule = rule
        self.severity = severity
        self.subject = subject
        self.message = "\(subject): \(problem)"
        self.fix = fix
    }

    public var description: String { "\(severity.rawValue): \(message); fix: \(fix)" }
}

extension [SecurityFinding] {
    public var errors: [SecurityFinding] { filter { $0.severity == .error } }
    public var warnings: [SecurityFinding] { filter { $0.severity == .warning } }
}
