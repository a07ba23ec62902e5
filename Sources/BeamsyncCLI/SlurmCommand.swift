import ArgumentParser
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import BeamsyncPostgres
import Foundation

/// `beamsync slurm ping`.
struct SlurmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Check Slurm targets of slurm_remote profiles.",
        subcommands: [SlurmPingCommand.self]
    )
}

struct SlurmPingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Check a slurm_remote profile's login node step by step, as the backend will use it.",
        discussion: """
            In order, each timed: the SSH key policy resolves key, passphrase and known_hosts; TCP to \
            login_node:ssh_port; the host key; authentication as remote_user; squeue and sacct answer; \
            the account exists for the user (sacctmgr); home_dir, log_dir and dlg_root exist and are \
            writable; DALiuGE's create_dlg_job imports under the profile's modules and venv. The first \
            failure ends the check with what to look at, and the exit status is 1. SSH settings come \
            from the environment as for the runner (SLURM_SSH_*, BEAMPIPE_*, credential slots).
            """
    )

    @Option(help: "The slurm_remote profile to check (by name).")
    var profile: String
    @Option(help: "Read the profile from this repository directory instead of the database.")
    var dir: String?
    @Option(help: "Output format: text or json.")
    var format: TextOrJSON = .text
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let found = try await TargetProfile.find(profile, dir: dir, database: database)
        guard found.deployment.kind == .slurmRemote else {
            StandardError.write("beamsync: profile '\(profile)' is \(found.deployment.kind.rawValue), not slurm_remote; slurm ping checks Slurm profiles")
            throw ExitCode(1)
        }
        let report = await SlurmPing().check(found)
        TargetCheckOutput.print(report, format: format)
        if !report.passed { throw ExitCode(1) }
    }
}
