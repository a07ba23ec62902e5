import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// A secure REST profile and two Slurm profiles that share the process-wide key.
private let secureProfiles = [
    "profiles/dim.yaml": """
        name: dim-secure
        translation: {tm_url: "https://tm.example.org"}
        deployment: {kind: rest_remote, dim_host_for_tm: dim.internal, deploy_host: dim.example.org, deploy_port: 443, use_https: true, verify_ssl: true}

        """,
    "profiles/hpc.yaml": slurmProfile("hpc"),
    "profiles/hpc2.yaml": slurmProfile("hpc2"),
]

private func slurmProfile(_ name: String) -> String {
    """
    name: \(name)
    translation: {tm_url: "https://tm.example.org"}
    deployment: {kind: slurm_remote, login_node: login.example.org, ssh_port: 2222, remote_user: op, account: acct, home_dir: /scratch/acct, log_dir: /scratch/acct/log, dlg_root: /scratch/acct/dlg}

    """
}

private let insecureProfile = """
    name: web
    translation: {tm_url: "http://tm.example.org:8084"}
    deployment: {kind: rest_remote, dim_host_for_tm: dim.internal, deploy_host: dim.example.org, deploy_port: 8001, use_https: false, verify_ssl: false}

    """

/// The files and environment of a well-kept production controller.
private struct CleanSetup {
    let lab: SecurityLab
    let repository: String
    let key: String
    var environment: [String: String]
    var input: SecurityAuditInput

    init(profiles: [String: String] = secureProfiles) async throws {
        lab = try SecurityLab()
        repository = lab.sub("repo")
        try FileManager.default.createDirectory(atPath: repository + "/profiles", withIntermediateDirectories: true)
        for (path, text) in profiles { try lab.write("repo/" + path, text, mode: 0o644) }
        key = try lab.sshKey("slurm_key")
        let knownHosts = try lab.knownHosts("known_hosts", host: "login.example.org", port: 2222, key: key)
        environment = [
            "BEAMPIPE_ENV": "production", "BEAMPIPE_USE_REAL_BACKENDS": "true", "HOME": lab.sub("home"),
            "SLURM_SSH_PRIVATE_KEY_FILE": key, "SLURM_SSH_KNOWN_HOSTS": knownHosts,
            "BEAMSYNC_SSH_CREDENTIALS_DIR": lab.sub("credentials"),
            "PGPASSFILE": try lab.write("pgpass", "db.example.org:5432:beampipe:beamsync:pw\n"),
        ]
        input = SecurityAuditInput(environment: environment)
        input.secretFiles = [
            .init(setting: "--github-secret-file", path: try lab.write("github", "github-secret-content\n"), kind: "GitHub webhook secret"),
            .init(setting: "--ssh-key-file", path: try lab.sshKey("git_key"), kind: "SSH private key"),
        ]
        input.trustFiles = [.init(setting: "--known-hosts-file", path: knownHosts, kind: "known_hosts")]
        input.databaseURL = ("DATABASE_URL", "postgresql://beamsync@db.example.org:5432/beampipe?sslmode=verify-full")
        await input.addRepository(repository)
    }

    mutating func setEnvironment(_ name: String, _ value: String?) {
        environment[name] = value
        input.environment = environment
    }
}

@Suite("security check")
struct SecurityAuditTests {
    @Test("a clean production setup has no finding: private key files, plain known_hosts, https profiles, pgpass")
    func clean() async throws {
        let setup = try await CleanSetup()
        defer { setup.lab.remove() }
        let report = SecurityAudit().run(setup.input)
        #expect(report.findings.map(\.message) == [])
        #expect(report.ok && report.production && report.realBackends)
        #expect(report.profiles.count == 3 && report.profiles.contains("hpc (\(setup.repository)/profiles/hpc.yaml:1:1)"))
        #expect(report.files == ["--github-secret-file", "--ssh-key-file", "--known-hosts-file", "PGPASSFILE"])
    }

    @Test("a dirty production setup: each finding with its exact message and fix, errors first, no secret value anywhere")
    func dirty() async throws {
        var setup = try await CleanSetup(profiles: secureProfiles.merging(["profiles/web.yaml": insecureProfile]) { $1 })
        defer { setup.lab.remove() }
        let lab = setup.lab
        chmod(setup.key, 0o640)
        let pgpass = lab.sub("pgpass")
        chmod(pgpass, 0o644)
        setup.setEnvironment("PGPASSWORD", "pgpassword-secret-value")
        setup.setEnvironment("BEAMSYNC_PLAN_KEY", "plan-key-secret-value-0123456789abcdef")
        let github = try lab.write("github-open", "github-secret-content\n", mode: 0o644)
        let realSecret = try lab.write("webhook-real", "webhook-secret-content\n")
        let link = try lab.link("webhook-link", to: realSecret)
        let knownHosts = try lab.write("git_known_hosts", "git.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n", mode: 0o666)
        setup.input.secretFiles = [
            .init(setting: "--github-secret-file", path: github, kind: "GitHub webhook secret"),
            .init(setting: "--webhook-secret-file", path: link, kind: "webhook secret"),
            .init(setting: "--token-file", path: lab.sub("no-such-token"), kind: "access token"),
        ]
        setup.input.trustFiles = [.init(setting: "--known-hosts-file", path: knownHosts, kind: "known_hosts")]
        setup.input.gitTLSVerificationOff = true
        setup.input.databaseURL = ("DATABASE_URL", "postgresql://beamsync:hunter2-secret-value@db.example.org/beampipe")
        let report = SecurityAudit().run(setup.input)

        let expected: [(AuditFinding.Severity, String, String, String)] = [
            (.error, "secret_file_permissions",
             "--github-secret-file (\(github)): the GitHub webhook secret file is readable or writable by group or others (mode 0644)",
             "chmod 600 \(github)"),
            (.error, "secret_file_symlink",
             "--webhook-secret-file (\(link)): the webhook secret path is a symbolic link to \(realSecret), which production refuses because a link can be redirected",
             "use the file's real path (\(realSecret)) instead of the link"),
            (.error, "secret_file_missing", "--token-file (\(lab.sub("no-such-token"))): the access token file does not exist",
             "set --token-file to the path of an existing access token file"),
            (.error, "trust_file_writable",
             "--known-hosts-file (\(knownHosts)): the known_hosts file is writable by group or others (mode 0666), so they can change whom beamsync trusts",
             "chmod 644 \(knownHosts)"),
            (.error, "secret_file_permissions", "PGPASSFILE (\(pgpass)): the PostgreSQL password file is readable or writable by group or others (mode 0644)",
             "chmod 600 \(pgpass)"),
            (.error, "git_tls_verification_off", "--insecure-skip-tls-verify: the git server's TLS certificate is not verified",
             "remove --insecure-skip-tls-verify; give --ca-file when the server's CA is private"),
            (.error, "database_password",
             "DATABASE_URL: the connection string contains a password, which process listings, /proc/PID/environ and shell history can show",
             "remove the password from DATABASE_URL and keep the password in a pgpass file (host:port:database:user:password, mode 0600) and name it with PGPASSFILE"),
            (.error, "database_password_variable", "PGPASSWORD: the database password is the value of an environment variable",
             "unset PGPASSWORD and keep the password in a pgpass file (host:port:database:user:password, mode 0600) and name it with PGPASSFILE"),
            (.error, "plain_http_translator",
             "profile web: translation.tm_url: the Translator Manager is reached over plain http (http://tm.example.org:8084), so graphs travel unencrypted and unauthenticated",
             "serve the Translator Manager over TLS (a proxy in front of `dlg tm` will do) and use an https:// URL"),
            (.error, "plain_http_dim",
             "profile web: deployment.use_https: the DIM is reached over plain http (http://dim.example.org:8001), so deploys and status travel unencrypted and unauthenticated",
             "serve the DIM over TLS and set deployment.use_https: true"),
            (.error, "tls_verification_off",
             "profile web: deployment.verify_ssl: TLS certificates of the Translator Manager and the DIM are not verified, so anyone on the path can pose as them",
             "set deployment.verify_ssl: true; give beamsync a private CA with BEAMSYNC_CA_FILE"),
            (.error, "secret_file_permissions",
             "SLURM_SSH_PRIVATE_KEY_FILE (\(setup.key)): the private key file is readable or writable by group or others (mode 0640)",
             "chmod 600 \(setup.key)"),
            (.warning, "inline_secret_variable",
             "BEAMSYNC_PLAN_KEY: the plan key is the value of an environment variable, which child processes and /proc/PID/environ show",
             "put it in a file (mode 0600) and give --plan-key-file instead"),
        ]
        #expect(report.findings.count == expected.count, "\(report.findings.map(\.message))")
        for (finding, (severity, rule, message, fix)) in zip(report.findings, expected) {
            #expect(finding.severity == severity && finding.rule.code == rule, "\(finding.message)")
            #expect(finding.message == message)
            #expect(finding.fix == fix)
        }
        let key = try #require(report.findings.first { $0.subject.hasPrefix("SLURM_SSH_PRIVATE_KEY_FILE") })
        #expect(key.profiles == ["hpc", "hpc2"], "a key two profiles share is reported once, naming both")
        #expect(!report.ok)

        let encoder = JSONEncoder()
        let json = String(decoding: try encoder.encode(report), as: UTF8.self)
        for secret in ["hunter2-secret-value", "pgpassword-secret-value", "plan-key-secret-value", "github-secret-content",
                       "webhook-secret-content", "PRIVATE KEY"] {
            #expect(!json.contains(secret), "the report never holds a secret's value (\(secret))")
        }
        let decoded = try JSONDecoder().decode(SecurityReport.self, from: Data(json.utf8))
        #expect(decoded.findings == report.findings)
    }

    @Test("in development insecure transport is a warning, links are allowed, and file modes are still errors")
    func development() async throws {
        var setup = try await CleanSetup(profiles: ["profiles/web.yaml": insecureProfile])
        defer { setup.lab.remove() }
        setup.setEnvironment("BEAMPIPE_ENV", "development")
        let real = try setup.lab.write("webhook-real", "x\n")
        setup.input.secretFiles = [.init(setting: "--webhook-secret-file", path: try setup.lab.link("webhook-link", to: real), kind: "webhook secret")]
        var report = SecurityAudit().run(setup.input)
        #expect(report.findings.map(\.severity) == [.warning, .warning, .warning])
        #expect(report.findings.map(\.rule.code) == ["plain_http_translator", "plain_http_dim", "tls_verification_off"])
        #expect(report.ok && !report.production, "warnings alone pass")

        chmod(real, 0o604)
        report = SecurityAudit().run(setup.input)
        #expect(report.errors.map(\.message) == [
            "--webhook-secret-file (\(setup.lab.sub("webhook-link"))): the webhook secret file is readable or writable by group or others (mode 0604)",
        ])
        #expect(!report.ok)
    }

    @Test("SSH policy findings: inline keys in production, a missing known_hosts entry; warnings while real backends are off")
    func sshPolicy() async throws {
        var setup = try await CleanSetup(profiles: ["profiles/hpc.yaml": slurmProfile("hpc")])
        defer { setup.lab.remove() }
        setup.setEnvironment("SLURM_SSH_PRIVATE_KEY_FILE", nil)
        setup.setEnvironment("SLURM_SSH_PRIVATE_KEY", try String(contentsOfFile: setup.key, encoding: .utf8))
        setup.setEnvironment("SLURM_SSH_KNOWN_HOSTS", try setup.lab.knownHosts("other_hosts", host: "other.example.org", port: 22, key: setup.key))
        var report = SecurityAudit().run(setup.input)
        #expect(report.findings.map(\.message) == [
            "SLURM_SSH_PRIVATE_KEY: inline secrets are refused in production",
            "SLURM_SSH_KNOWN_HOSTS (\(setup.lab.sub("other_hosts"))): no plain entry matches [login.example.org]:2222 (login_node login.example.org, ssh_port 2222)",
        ])
        #expect(report.findings.allSatisfy { $0.severity == .error && $0.profiles == ["hpc"] })
        #expect(!String(decoding: try JSONEncoder().encode(report), as: UTF8.self).contains("PRIVATE KEY"))

        setup.setEnvironment("BEAMPIPE_USE_REAL_BACKENDS", "false")
        report = SecurityAudit().run(setup.input)
        #expect(report.findings.count == 2 && report.findings.allSatisfy { $0.severity == .warning })
        #expect(report.ok && !report.realBackends)
    }

    @Test("a conninfo password and a passfile named in the connection string are found by libpq's own parser")
    func connectionStrings() async throws {
        var setup = try await CleanSetup(profiles: [:])
        defer { setup.lab.remove() }
        setup.setEnvironment("PGPASSFILE", nil)
        for url in ["host=db user=beamsync password=s3cret dbname=beampipe", "postgresql://db/beampipe?user=beamsync&password=x"] {
            setup.input.databaseURL = ("--database-url", url)
            let report = SecurityAudit().run(setup.input)
            #expect(report.findings.map(\.rule.code) == ["database_password"], "\(url)")
            #expect(report.findings.first?.subject == "--database-url")
        }
        let passfile = try setup.lab.write("conn-pgpass", "*:*:*:*:pw\n", mode: 0o640)
        setup.input.databaseURL = ("DATABASE_URL", "host=db user=beamsync passfile=\(passfile)")
        var report = SecurityAudit().run(setup.input)
        #expect(report.findings.map(\.message) == [
            "DATABASE_URL passfile (\(passfile)): the PostgreSQL password file is readable or writable by group or others (mode 0640)",
        ])
        setup.input.databaseURL = ("DATABASE_URL", "host=db port='unterminated")
        report = SecurityAudit().run(setup.input)
        #expect(report.findings.map(\.message) == ["DATABASE_URL: libpq cannot parse the connection string"])
        // ~/.pgpass is checked when PGPASSFILE is unset, as libpq would read it.
        setup.input.databaseURL = nil
        let home = try setup.lab.write("home/.pgpass", "*:*:*:*:pw\n", mode: 0o644)
        report = SecurityAudit().run(setup.input)
        #expect(report.findings.map(\.message) == [
            "\(home): the PostgreSQL password file is readable or writable by group or others (mode 0644)",
        ])
    }

    @Test("a repository file that does not parse is one finding; its other profiles are still checked")
    func brokenRepository() async throws {
        let setup = try await CleanSetup(profiles: ["profiles/web.yaml": insecureProfile, "profiles/broken.yaml": "name: [\n"])
        defer { setup.lab.remove() }
        let report = SecurityAudit().run(setup.input)
        #expect(report.findings.first?.message == "\(setup.repository): 1 error in 1 file; documents that do not parse were not checked")
        #expect(report.findings.first?.fix == "run `beamsync validate \(setup.repository)` and correct them")
        #expect(report.findings.contains { $0.rule.code == "plain_http_translator" })

        var missing = SecurityAuditInput(environment: setup.environment)
        await missing.addRepository(setup.lab.sub("no-such-repo"))
        #expect(missing.findings.map(\.message) == ["\(setup.lab.sub("no-such-repo")): cannot read directory \(setup.lab.sub("no-such-repo"))"])
        #expect(missing.findings.map(\.fix) == ["check that it exists and is readable"])
    }

    @Test("profiles in the database are checked too, named as coming from the database", .requires(.postgres))
    func databaseProfiles() async throws {
        let setup = try await CleanSetup(profiles: ["profiles/web.yaml": insecureProfile])
        defer { setup.lab.remove() }
        try await TestDatabase.withConnection { conn in
            var empty = SecurityAuditInput(environment: setup.environment)
            try await empty.addDatabase(conn)
            #expect(empty.profiles.isEmpty && empty.findings.isEmpty, "a database without beamsync's schema holds no profiles")
            try await Migrator.beamsync.migrate(conn)
            let parsed = try await ParsedSource.read(.directory(setup.repository))
            _ = try await Reconciliation(conn: conn).apply(parsed, overrides: PolicyOverrides(), actor: AuditActor(name: "test"))
            var input = SecurityAuditInput(environment: setup.environment)
            try await input.addDatabase(conn)
            let report = SecurityAudit().run(input)
            #expect(report.profiles == ["web (database)"])
            #expect(report.findings.map(\.rule.code) == ["plain_http_translator", "plain_http_dim", "tls_verification_off"])
        }
    }
}
