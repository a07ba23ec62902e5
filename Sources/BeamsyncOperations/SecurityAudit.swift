import BeamsyncEngine
import BeamsyncModel
import BeamsyncPostgres
import BeamsyncSSH
import Foundation

/// What `security check` looks at: the secret and trust files beamsync is given (by flag), the
/// database connection string, the profiles, and the process environment (`BEAMPIPE_ENV`, the
/// SLURM_SSH_* key policy, PGPASSFILE, PGPASSWORD, BEAMSYNC_PLAN_KEY, BEAMSYNC_CA_FILE).
public struct SecurityAuditInput: Sendable {
    /// A file beamsync is given (a secret, or a file it trusts), named by the flag or variable that gives it.
    public struct GivenFile: Sendable, Hashable {
        public var setting: String
        public var path: String
        /// How messages name it: "GitHub webhook secret", "SSH private key".
        public var kind: String

        public init(setting: String, path: String, kind: String) {
            self.setting = setting
            self.path = path
            self.kind = kind
        }
    }

    /// A profile and where it was found: `profiles/a.yaml:1:1` or `database`.
    public struct Profile: Sendable {
        public var profile: DeploymentProfile
        public var source: String

        public init(_ profile: DeploymentProfile, source: String) {
            self.profile = profile
            self.source = source
        }
    }

    public var environment: [String: String]
    /// Webhook secrets, tokens, SSH keys and passphrases, plan keys.
    public var secretFiles: [GivenFile] = []
    /// known_hosts files and CA bundles: public, but nobody else may change them.
    public var trustFiles: [GivenFile] = []
    /// `--insecure-skip-tls-verify` was given.
    public var gitTLSVerificationOff = false
    /// The connection string and the setting it came from (`--database-url`, `DATABASE_URL`).
    public var databaseURL: (setting: String, value: String)?
    public var profiles: [Profile] = []
    /// Found while gathering the input (a repository that does not parse, an unreadable row).
    public var findings: [AuditFinding] = []

    public init(environment: [String: String]) { self.environment = environment }
}

/// `beamsync security check`: every check runs offline (no connection to a login node, a TM or a
/// DIM). Production (`BEAMPIPE_ENV=production` or `prod`) makes insecure transport an error;
/// development reports it as a warning. Secret files follow `SecretFileCheck` everywhere.
public struct SecurityAudit: Sendable {
    public var fileSystem: any FileSystemFacts

    public init(fileSystem: any FileSystemFacts = LocalFileSystem()) { self.fileSystem = fileSystem }

    public func run(_ input: SecurityAuditInput) -> SecurityReport {
        let env = SSHPolicyEnvironment(input.environment)
        let production = env.isProduction
        let secrets = SecretFileCheck(production: production, fileSystem: fileSystem)
        var findings = input.findings
        var files: [String] = []

        for file in input.secretFiles {
            files.append(file.setting)
            findings += secrets.check(path: file.path, variable: file.setting, kind: file.kind).map { AuditFinding($0) }
        }
        for file in input.trustFiles {
            files.append(file.setting)
            findings += trustFile(file)
        }
        if let pgpass = pgpassFile(input) {
            files.append(pgpass.setting)
            findings += secrets.check(path: pgpass.path, variable: pgpass.setting == pgpass.path ? nil : pgpass.setting,
                                      kind: pgpass.kind).map { AuditFinding($0) }
        }
        if let ca = env.value("BEAMSYNC_CA_FILE") {
            let file = AuditedFiles.caBundle(setting: "BEAMSYNC_CA_FILE", path: ca)
            files.append(file.setting)
            findings += trustFile(file)
        }
        let transport: AuditFinding.Severity = production ? .error : .warning
        if input.gitTLSVerificationOff {
            findings.append(AuditFinding(transport, .gitTLSVerificationOff, subject: "--insecure-skip-tls-verify",
                                         problem: "the git server's TLS certificate is not verified",
                                         fix: "remove --insecure-skip-tls-verify; give --ca-file when the server's CA is private"))
        }
        findings += database(input, env: env, production: production)
        if env.value("BEAMSYNC_PLAN_KEY") != nil && production {
            findings.append(AuditFinding(.warning, .inlineSecretVariable, subject: "BEAMSYNC_PLAN_KEY",
                                         problem: "the plan key is the value of an environment variable, which child processes and /proc/PID/environ show",
                                         fix: "put it in a file (mode 0600) and give --plan-key-file instead"))
        }

        let realBackends = RunnerConfiguration.useRealBackends(input.environment)
        var sshFindings: [AuditFinding] = []
        for audited in input.profiles {
            findings += ProfileTransportAudit.findings(audited.profile, severity: transport)
            guard case .slurmRemote(let slurm) = audited.profile.deployment else { continue }
            let policy = SSHKeyPolicy(environment: input.environment, fileSystem: fileSystem)
            let resolution = policy.resolve(SSHProfileFields(loginNode: slurm.loginNode, sshPort: slurm.sshPort,
                                                             remoteUser: slurm.remoteUser, credentialSlot: slurm.sshCredential))
            for finding in resolution.findings {
                var audit = AuditFinding(finding, profiles: [audited.profile.name])
                // As beampipe: without real backends nothing connects, so credentials cannot fail a run yet.
                if !realBackends { audit.severity = .warning }
                sshFindings.append(audit)
            }
            if case .knownHosts(let path)? = resolution.credential?.hostKeyCheck {
                sshFindings += trustFile(AuditedFiles.knownHosts(setting: path, path: path)).map {
                    var f = $0
                    f.profiles = [audited.profile.name]
                    return f
                }
            }
        }
        findings += Self.merged(sshFindings)
        let ordered = findings.enumerated().sorted { a, b in
            a.element.severity != b.element.severity ? a.element.severity == .error : a.offset < b.offset
        }.map(\.element)
        return SecurityReport(production: production, realBackends: realBackends,
                              profiles: input.profiles.map { "\($0.profile.name) (\($0.source))" },
                              files: files, findings: Self.unique(ordered))
    }

    /// A file others may change can swap the hosts or CAs beamsync trusts; it need not be secret.
    private func trustFile(_ file: SecurityAuditInput.GivenFile) -> [AuditFinding] {
        let subject = file.setting == file.path ? file.path : "\(file.setting) (\(file.path))"
        guard let facts = fileSystem.facts(at: file.path), facts.kind != .missing else {
            return [AuditFinding(.error, .trustFileMissing, subject: subject, problem: "the \(file.kind) file does not exist",
                                 fix: "point \(file.setting) at an existing \(file.kind) file")]
        }
        guard facts.kind == .regular else {
            return [AuditFinding(.error, .trustFileMissing, subject: subject, problem: "the \(file.kind) path is not a regular file",
                                 fix: "point \(file.setting) at the \(file.kind) file itself")]
        }
        if facts.mode & 0o022 != 0 {
            return [AuditFinding(.error, .trustFileWritable, subject: subject,
                                 problem: "the \(file.kind) file is writable by group or others (mode \(Self.octal(facts.mode))), "
                                     + "so they can change whom beamsync trusts",
                                 fix: "chmod 644 \(file.path)")]
        }
        return []
    }

    /// PGPASSFILE, or the conninfo's `passfile`, or `~/.pgpass` when it exists (libpq's order).
    private func pgpassFile(_ input: SecurityAuditInput) -> SecurityAuditInput.GivenFile? {
        if let url = input.databaseURL, let passfile = PGConnInfo(url.value)?.passfile {
            return AuditedFiles.pgpass(setting: "\(url.setting) passfile", path: passfile)
        }
        if let path = SSHPolicyEnvironment(input.environment).value("PGPASSFILE") {
            return AuditedFiles.pgpass(setting: "PGPASSFILE", path: path)
        }
        guard let home = input.environment["HOME"] ?? fileSystem.homeDirectory else { return nil }
        let path = "\(home)/.pgpass"
        return fileSystem.facts(at: path) == nil ? nil : AuditedFiles.pgpass(setting: path, path: path)
    }

    private func database(_ input: SecurityAuditInput, env: SSHPolicyEnvironment, production: Bool) -> [AuditFinding] {
        var findings: [AuditFinding] = []
        let severity: AuditFinding.Severity = production ? .error : .warning
        let fix = "keep the password in a pgpass file (host:port:database:user:password, mode 0600) and name it with PGPASSFILE"
        if let url = input.databaseURL {
            if let info = PGConnInfo(url.value) {
                if info.setsPassword {
                    findings.append(AuditFinding(severity, .databasePassword, subject: url.setting,
                                                 problem: "the connection string contains a password, which process listings, "
                                                     + "/proc/PID/environ and shell history can show",
                                                 fix: "remove the password from \(url.setting) and " + fix))
                }
            } else {
                findings.append(AuditFinding(.error, .databaseURLInvalid, subject: url.setting,
                                             problem: "libpq cannot parse the connection string",
                                             fix: "use key=value pairs (host=... dbname=... user=...) or a postgresql:// URI"))
            }
        }
        if env.value("PGPASSWORD") != nil {
            findings.append(AuditFinding(severity, .databasePasswordVariable, subject: "PGPASSWORD",
                                         problem: "the database password is the value of an environment variable",
                                         fix: "unset PGPASSWORD and " + fix))
        }
        return findings
    }

    /// Findings that several profiles share (one process-wide key, say) reported once.
    static func merged(_ findings: [AuditFinding]) -> [AuditFinding] {
        var order: [AuditFinding] = []
        var index: [String: Int] = [:]
        for finding in findings {
            let key = "\(finding.severity)|\(finding.rule.code)|\(finding.message)|\(finding.fix)"
            if let i = index[key] {
                for profile in finding.profiles where !order[i].profiles.contains(profile) { order[i].profiles.append(profile) }
            } else {
                index[key] = order.count
                order.append(finding)
            }
        }
        return order
    }

    /// The same file given twice (a profile in the repository and in the database) is reported once.
    static func unique(_ findings: [AuditFinding]) -> [AuditFinding] {
        var seen = Set<AuditFinding>()
        return findings.filter { seen.insert($0).inserted }
    }

    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// How the audit names the files it finds on its own.
enum AuditedFiles {
    static func pgpass(setting: String, path: String) -> SecurityAuditInput.GivenFile {
        SecurityAuditInput.GivenFile(setting: setting, path: path, kind: "PostgreSQL password")
    }

    static func caBundle(setting: String, path: String) -> SecurityAuditInput.GivenFile {
        SecurityAuditInput.GivenFile(setting: setting, path: path, kind: "CA bundle")
    }

    static func knownHosts(setting: String, path: String) -> SecurityAuditInput.GivenFile {
        SecurityAuditInput.GivenFile(setting: setting, path: path, kind: "known_hosts")
    }
}
