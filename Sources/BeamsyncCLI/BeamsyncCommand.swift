import ArgumentParser

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
        subcommands: [ValidateCommand.self, SchemaCommand.self]
    )

    public init() {}
}

public enum BeamsyncVersion {
    public static let current = "0.1.0"
}

extension OutputFormat: ExpressibleByArgument {}
