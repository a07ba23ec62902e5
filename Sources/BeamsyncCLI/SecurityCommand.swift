import ArgumentParser
import BeamsyncOperations
import Foundation

/// `beamsync security`: offline checks of how secrets and transport are configured.
struct SecurityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "security",
        abstract: "Check how secrets and connections are configured.",
        subcommands: [SecurityCheckCommand.self]
    )
}

/// `beamsync security check`: the SSH key policy for every slurm_remote profile, the modes of the
/// secret files beamsync is given, insecure transport in profiles, passwords in DATABASE_URL.
struct SecurityCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check secrets, key files and transport settings offline; exit 1 when an error is found.",
        discussion: """
            Checks, without connecting to any cluster, Translator Manager or DIM: beampipe's SSH key \
            policy (SLURM_SSH_* variables and credential slots) for every slurm_remote profile in the \
            repository at --dir and in the database; the files given with the flags below (the same \
            flags `run`, `plan` and `apply` take) and PGPASSFILE (else ~/.pgpass), BEAMSYNC_CA_FILE; \
            plain-http URLs and verify_ssl: false in profiles (errors when BEAMPIPE_ENV=production, \
            warnings otherwise); a password in the database connection string or PGPASSWORD. \
            No secret's value is ever printed. Exit 0 without errors (warnings allowed), 1 with errors.
            """
    )

    @Option(help: "Repository directory whose profiles are checked.")
    var dir: String = "."
    @Flag(help: "Check the repository and the environment only, not the profiles in the database.")
    var skipDatabase = false
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var webhooks: WebhookSecretOptions
    @OptionGroup var access: GitAccessOptions
    @OptionGroup var planKey: PlanKeyOptions
    @Option(help: "Output format: text or json.")
    var format: TextOrJSON = .text

    func validate() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--dir \(dir): no such directory")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var input = SecurityAuditInput(environment: environment)
        let secretFlags: [(String, String?, String)] = [
            ("--github-secret-file", webhooks.githubSecretFile, "GitHub webhook secret"),
            ("--gitlab-token-file", webhooks.gitlabTokenFile, "GitLab webhook token"),
            ("--webhook-secret-file", webhooks.webhookSecretFile, "webhook secret"),
            ("--ssh-key-file", access.sshKeyFile, "SSH private key"),
            ("--ssh-passphrase-file", access.sshPassphraseFile, "SSH key passphrase"),
            ("--token-file", access.tokenFile, "access token"),
            ("--plan-key-file", planKey.planKeyFile, "plan key"),
        ]
        for (flag, path, kind) in secretFlags {
            if let path { input.secretFiles.append(.init(setting: flag, path: path, kind: kind)) }
        }
        if let path = access.knownHostsFile { input.trustFiles.append(.init(setting: "--known-hosts-file", path: path, kind: "known_hosts")) }
        if let path = access.caFile { input.trustFiles.append(.init(setting: "--ca-file", path: path, kind: "CA bundle")) }
        input.gitTLSVerificationOff = access.insecureSkipTLSVerify
        if let url = database.databaseURL, !url.isEmpty {
            input.databaseURL = ("--database-url", url)
        } else if let url = environment["DATABASE_URL"], !url.isEmpty {
            input.databaseURL = ("DATABASE_URL", url)
        }

        await input.addRepository(dir)
        if !skipDatabase {
            let session = try await database.connect()
            try await session.run { conn in try await input.addDatabase(conn) }
        }
        let report = SecurityAudit().run(input)
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        case .text:
            print(SecurityReportText.render(report, style: TerminalStyle.detect()), terminator: "")
        }
        if !report.ok { throw ExitCode(1) }
    }
}

/// The text form of a security report: one block per finding, errors first, then a summary line.
enum SecurityReportText {
    static func render(_ report: SecurityReport, style: TerminalStyle) -> String {
        var out = "Security check (" + (report.production ? "production rules: BEAMPIPE_ENV is production" : "development rules: BEAMPIPE_ENV is not production")
        out += report.realBackends ? ")\n" : "; real backends off: SSH credential problems are warnings)\n"
        for finding in report.findings {
            let label = finding.severity == .error ? style.paint("error", .red) : style.paint("warning", .yellow)
            out += "\(label): \(finding.message)\n"
            out += "    fix: \(finding.fix)\n"
            if !finding.profiles.isEmpty && !finding.subject.hasPrefix("profile ") {
                out += "    profile\(finding.profiles.count == 1 ? "" : "s"): \(finding.profiles.joined(separator: ", "))\n"
            }
        }
        let e = report.errors.count, w = report.warnings.count
        let checked = "checked \(report.profiles.count) profile\(report.profiles.count == 1 ? "" : "s") and \(report.files.count) file\(report.files.count == 1 ? "" : "s")"
        out += report.ok
            ? style.paint("✓ no errors", .green) + ", \(w) warning\(w == 1 ? "" : "s") (\(checked))\n"
            : style.paint("✗ \(e) error\(e == 1 ? "" : "s")", .red) + ", \(w) warning\(w == 1 ? "" : "s") (\(checked))\n"
        return out
    }
}
