import BeamsyncSSH

/// What `security check` can find. The SSH key policy's and the secret-file rules come from
/// BeamsyncSSH (`SecurityFinding.Rule`); the others are about transport and the database.
public enum AuditRule: Sendable, Hashable, Codable {
    /// A rule of beampipe's SSH key policy or of the secret-file checks.
    case secretHandling(SecurityFinding.Rule)
    /// A profile's `translation.tm_url` is plain `http://`.
    case plainHTTPTranslator
    /// A `rest_remote` profile reaches its DIM over plain http (`use_https: false`).
    case plainHTTPDIM
    /// A profile turns TLS certificate verification off (`verify_ssl: false`).
    case tlsVerificationOff
    /// `--insecure-skip-tls-verify`: git over https without certificate checks.
    case gitTLSVerificationOff
    /// A file beamsync trusts (known_hosts, a CA bundle) that others may change, or that is missing.
    case trustFileWritable
    case trustFileMissing
    /// The PostgreSQL connection string carries a password.
    case databasePassword
    /// PGPASSWORD is set.
    case databasePasswordVariable
    /// DATABASE_URL does not parse.
    case databaseURLInvalid
    /// A secret given as an environment variable's value where a file would do.
    case inlineSecretVariable
    /// Part of the repository does not parse, so its profiles were not all checked.
    case repositoryInvalid
    /// A database profile beamsync cannot read back.
    case databaseProfileUnreadable
    /// The database's schema is behind this beamsync, so its profiles were not read.
    case databaseSchemaOutdated

    /// The stable name in `--format json` and in messages.
    public var code: String {
        switch self {
        case .secretHandling(let rule): rule.rawValue
        case .plainHTTPTranslator: "plain_http_translator"
        case .plainHTTPDIM: "plain_http_dim"
        case .tlsVerificationOff: "tls_verification_off"
        case .gitTLSVerificationOff: "git_tls_verification_off"
        case .trustFileWritable: "trust_file_writable"
        case .trustFileMissing: "trust_file_missing"
        case .databasePassword: "database_password"
        case .databasePasswordVariable: "database_password_variable"
        case .databaseURLInvalid: "database_url_invalid"
        case .inlineSecretVariable: "inline_secret_variable"
        case .repositoryInvalid: "repository_invalid"
        case .databaseProfileUnreadable: "database_profile_unreadable"
        case .databaseSchemaOutdated: "database_schema_outdated"
        }
    }

    private static let others: [AuditRule] = [
        .plainHTTPTranslator, .plainHTTPDIM, .tlsVerificationOff, .gitTLSVerificationOff, .trustFileWritable, .trustFileMissing,
        .databasePassword, .databasePasswordVariable, .databaseURLInvalid, .inlineSecretVariable, .repositoryInvalid,
        .databaseProfileUnreadable, .databaseSchemaOutdated,
    ]

    public init(from decoder: any Decoder) throws {
        let code = try decoder.singleValueContainer().decode(String.self)
        if let rule = SecurityFinding.Rule(rawValue: code) {
            self = .secretHandling(rule)
        } else if let other = Self.others.first(where: { $0.code == code }) {
            self = other
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown rule \(code)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
}

/// One finding of `security check`: how bad, which rule, what it is about (a profile field, a
/// file, a variable), what is wrong and what to do. Never holds a secret's value.
public struct AuditFinding: Sendable, Hashable, Codable {
    public enum Severity: String, Sendable, Hashable, Codable { case error, warning }

    public var severity: Severity
    public var rule: AuditRule
    /// The profile field, file or variable the finding is about.
    public var subject: String
    /// `subject: what is wrong`.
    public var message: String
    public var fix: String
    /// The profiles the finding concerns (SSH credentials shared by several profiles are
    /// reported once); empty for findings about the process's own settings.
    public var profiles: [String]

    public init(_ severity: Severity, _ rule: AuditRule, subject: String, problem: String, fix: String, profiles: [String] = []) {
        self.severity = severity
        self.rule = rule
        self.subject = subject
        message = "\(subject): \(problem)"
        self.fix = fix
        self.profiles = profiles
    }

    /// A finding of the SSH key policy or a secret-file check.
    public init(_ finding: SecurityFinding, profiles: [String] = []) {
        severity = finding.severity == .error ? .error : .warning
        rule = .secretHandling(finding.rule)
        subject = finding.subject
        message = finding.message
        fix = finding.fix
        self.profiles = profiles
    }
}

/// The outcome of `security check`.
public struct SecurityReport: Sendable, Codable {
    /// True when no finding is an error (warnings allowed).
    public var ok: Bool { !findings.contains { $0.severity == .error } }
    /// Whether the rules were those of production (`BEAMPIPE_ENV=production` or `prod`).
    public var production: Bool
    /// Whether BEAMPIPE_USE_REAL_BACKENDS is on. Off, nothing connects to a cluster yet, so SSH
    /// credential problems are warnings (as beampipe's check skips them).
    public var realBackends: Bool
    /// Profiles checked: `name (where)`, in order.
    public var profiles: [String]
    /// Files checked, by the flag or variable that names them.
    public var files: [String]
    /// Errors first, then warnings.
    public var findings: [AuditFinding]

    public var errors: [AuditFinding] { findings.filter { $0.severity == .error } }
    public var warnings: [AuditFinding] { findings.filter { $0.severity == .warning } }

    enum CodingKeys: String, CodingKey { case ok, production, realBackends = "real_backends", profiles, files, findings }

    public init(production: Bool, realBackends: Bool, profiles: [String], files: [String], findings: [AuditFinding]) {
        self.production = production
        self.realBackends = realBackends
        self.profiles = profiles
        self.files = files
        self.findings = findings
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        production = try c.decode(Bool.self, forKey: .production)
        realBackends = try c.decode(Bool.self, forKey: .realBackends)
        profiles = try c.decode([String].self, forKey: .profiles)
        files = try c.decode([String].self, forKey: .files)
        findings = try c.decode([AuditFinding].self, forKey: .findings)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ok, forKey: .ok)
        try c.encode(production, forKey: .production)
        try c.encode(realBackends, forKey: .realBackends)
        try c.encode(profiles, forKey: .profiles)
        try c.encode(files, forKey: .files)
        try c.encode(findings, forKey: .findings)
    }
}
