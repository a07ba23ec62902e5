import ArgumentParser
import BeamsyncEngine
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import Foundation

/// `beamsync dim`: the Data Island Manager of a rest_remote profile.
struct DIMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dim",
        abstract: "Check a rest_remote profile's Translator Manager and Data Island Manager.",
        subcommands: [DIMPingCommand.self]
    )
}

/// `beamsync dim ping --profile NAME`: the TM answers, the DIM answers, and the TM reaches the same DIM.
struct DIMPingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Check that a rest_remote profile's Translator Manager and DIM answer and reach each other.",
        discussion: """
            The profile is read from the repository at --dir if given, else from the database. Steps: the \
            profile names a TM and a DIM; the TM answers (its DALiuGE version); the DIM answers from \
            here (its Node Managers); the TM reaches a DALiuGE manager at dim_host_for_tm:dim_port_for_tm; \
            and maps graphs onto the same DIM's Node Managers. Nothing is created or deployed. The first \
            failure ends the check (exit 1) and says what to check. BEAMSYNC_CA_FILE is the CA bundle \
            for https.
            """
    )

    @Option(help: "Name of the deployment profile.")
    var profile: String
    @Option(help: "Read the profile from this repository directory instead of the database.")
    var dir: String?
    @Option(help: "Longest the whole check may take (e.g. 30s, 1m).")
    var timeout = "30s"
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Output format: text or json.")
    var format: TextOrJSON = .text

    func run() async throws {
        let deadline = try DurationText.parse(timeout, option: "--timeout")
        let found = try await TargetProfile.find(profile, dir: dir, database: database)
        let checker = DIMPing(http: HTTPClient(threads: 2, name: "beamsync-dim-ping"),
                              caFile: RunnerConfiguration(environment: ProcessInfo.processInfo.environment).caFile, timeout: deadline)
        let report = await checker.check(found)
        TargetCheckOutput.print(report, format: format)
        if !report.passed { throw ExitCode(1) }
    }
}
