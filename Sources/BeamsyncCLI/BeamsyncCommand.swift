import ArgumentParser
import BeamsyncOperations

/// `beamsync`: keeps beampipe's deployment profiles, project configs and executions in git.
public struct BeamsyncCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "beamsync",
        abstract: "GitOps reconciler for beampipe deployment profiles, project configs and executions.",
        discussion: """
            Exit codes follow Terraform: 0 success (no changes), 1 error, 2 changes present \
            (with --detailed-exitcode).
            """,
        version: BeamsyncVersion.current,
        subcommands: [ValidateCommand.self, PlanCommand.self, ApplyCommand.self, RunCommand.self, ExecutionsCommand.self, TokenCommand.self, StatusCommand.self, SuspendCommand.self, ResumeCommand.self, ReconcileCommand.self, MigrateCommand.self, SchemaCommand.self, SecurityCommand.self, DIMCommand.self, SlurmCommand.self]
    )

    public init() {}
}

public enum BeamsyncVersion {
    public static let current = "0.1.0"
}

extension OutputFormat: ExpressibleByArgument {}

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
            BeamsyncCommand.exit()
        } catch let error as ExitCode {
            BeamsyncCommand.exit(withError: error)
        } catch let error as CleanExit {
            BeamsyncCommand.exit(withError: error)
        } catch let error as ValidationError {
            BeamsyncCommand.exit(withError: ValidationError(SecretRedaction.redact(error.message)))
        } catch {
            // `--help` parses as ArgumentParser's help command, whose run() throws the help request:
            // ArgumentParser prints it (exit 0).
            if BeamsyncCommand.exitCode(for: error) == .success { BeamsyncCommand.exit(withError: error) }
            // Errors from below may quote what they reject: they leave redacted, as ArgumentParser would print them.
            StandardError.write("Error: " + SecretRedaction.redact("\(error)"))
            BeamsyncCommand.exit(withError: ExitCode.failure)
        }
    }
}
