import ArgumentParser
import BeamsyncOperations

/// `beamsync`: keeps beampipe's deployment profiles, project configs and executions in git.
public struct BeamsyncCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "beamsync",
        abstract: "GitOps reconciler for beampipe deployment profiles, project configs and executions.",
        discussion: """
            Exit codes (Terraform's, and the BSD code for usage errors):
              0   success (plan --detailed-exitcode: no changes)
              1   error, or an operation refused or cancelled
              2   plan --detailed-exitcode: there are changes or drift
              64  usage error: unknown command, option or value

            --format offers exactly what a command renders: text or json, and markdown for plan. \
            Without DATABASE_URL, commands use an embedded PostgreSQL under $BEAMSYNC_HOME and stop \
            it when they exit (SIGINT and SIGTERM included) unless another beamsync process uses it. \
            plan, status, `executions list|show` and `sources list` never change the schema; apply, \
            run, migrate, `executions create|cancel` and `token create` create or upgrade it.
            """,
        version: BeamsyncVersion.current,
        subcommands: [ValidateCommand.self, PlanCommand.self, ApplyCommand.self, RunCommand.self, ExecutionsCommand.self, TokenCommand.self,
                      StatusCommand.self, SourcesCommand.self, SuspendCommand.self, ResumeCommand.self, ReconcileCommand.self,
                      MigrateCommand.self, SchemaCommand.self, SecurityCommand.self, DIMCommand.self, SlurmCommand.self]
    )

    public init() {}
}

public enum BeamsyncVersion {
    public static let current = "0.1.0"
}

/// Entry point: parses the command line and runs sync or async subcommands.
/// (Top-level `await BeamsyncCommand.main()` picks ArgumentParser's synchronous overload on Linux.)
public enum BeamsyncMain {
    public static func run(arguments: [String]? = nil) async -> Never {
        var command: ParsableCommand
        do {
            command = try BeamsyncCommand.parseAsRoot(arguments)
        } catch {
            BeamsyncCommand.exit(withError: error)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            EmbeddedServers.releaseAll()
            BeamsyncCommand.exit()
        } catch {
            EmbeddedServers.releaseAll()
            exit(afterFailure: error)
        }
    }

    /// How a failed command ends. Errors from below may quote what they reject: they leave
    /// redacted, as ArgumentParser would print them.
    private static func exit(afterFailure error: any Error) -> Never {
        switch error {
        case let error as ExitCode:
            BeamsyncCommand.exit(withError: error)
        case let error as CleanExit:
            BeamsyncCommand.exit(withError: error)
        case let error as ValidationError:
            BeamsyncCommand.exit(withError: ValidationError(SecretRedaction.redact(error.message)))
        default:
            // `--help` parses as ArgumentParser's help command, whose run() throws the help request:
            // ArgumentParser prints it (exit 0).
            if BeamsyncCommand.exitCode(for: error) == .success { BeamsyncCommand.exit(withError: error) }
            StandardError.write("Error: " + SecretRedaction.redact("\(error)"))
            BeamsyncCommand.exit(withError: ExitCode.failure)
        }
    }
}
