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
            The profile is read from the repository at --dir, else from the database. Steps: the \
            profile names a TM and a DIM; the TM answers (its DALiuGE version); the DIM answers from \
            here (its Node Managers); the TM reaches a DALiuGE manager at dim_host_for_tm:dim_port_for_tm; \
            and maps graphs onto the same DIM's Node Managers. Nothing is created or deployed. The first \
            failure ends the check (exit 1) and says what to check. BEAMSYNC_CA_FILE is the CA bundle \
            for https.
            """
    )

    @Option(help: "Name of the deployment profile.")
    var profile: String
    @Option(help: "Repository directory to look for the profile in first.")
    var dir: String = "."
    @Option(help: "Longest the whole check may take (e.g. 30s, 1m).")
    var timeout = "30s"
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Output format: text or json.")
    var format: ReportFormat = .text

    func run() async throws {
        let deadline = try DurationText.parse(timeout, option: "--timeout")
        let found = try await TargetProfileOptions.find(profile, dir: dir, database: database)
        let checker = DIMPing(http: HTTPClient(threads: 2, name: "beamsync-dim-ping"),
                              caFile: RunnerConfiguration(environment: ProcessInfo.processInfo.environment).caFile, timeout: deadline)
        let report = await checker.check(found)
        TargetCheckOutput.print(report, format: format)
        if !report.passed { throw ExitCode(1) }
    }
}

/// How the ping commands find their profile and print their report.
enum TargetProfileOptions {
    /// The profile named `name` in the repository at `dir`, else in the database (only then is
    /// the database opened).
    static func find(_ name: String, dir: String, database: DatabaseOptions) async throws -> DeploymentProfile {
        let local = ProfileLookup.inRepository(dir, named: name)
        if let profile = local.profile { return profile.value }
        let session = try await database.connect()
        if let stored = try await session.run({ conn in try await ProfileLookup.inDatabase(conn, named: name) }) { return stored }
        let broken = local.errors > 0 ? " (\(local.errors) error\(local.errors == 1 ? "" : "s") in \(dir): a profile in a file that does not parse is not found; run `beamsync validate \(dir)`)" : ""
        throw ValidationError("--profile \(name): no deployment profile of that name in \(dir)/profiles or in the database\(broken)")
    }
}

/// A target check as the ping commands print it; like every output, through the redaction
/// function (a step's detail quotes what servers answered).
enum TargetCheckOutput {
    static func print(_ report: TargetCheckReport, format: ReportFormat) {
        Swift.print(SecretRedaction.redact(render(report, format: format)), terminator: "")
    }

    static func render(_ report: TargetCheckReport, format: ReportFormat) -> String {
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let body = (try? JSONValue.parse(bytes: Array(encoder.encode(report)))) ?? .null
            var object = body.objectValue ?? [:]
            object["passed"] = .bool(report.passed)
            return String(decoding: (try? encoder.encode(JSONValue.object(object))) ?? Data(), as: UTF8.self) + "\n"
        case .text:
            let style = TerminalStyle.detect()
            return TextRenderer(paint: { text, tone in
                switch tone {
                case .add: style.paint(text, .green)
                case .remove: style.paint(text, .red)
                case .dim: style.paint(text, .dim)
                case .bold: style.paint(text, .bold)
                default: text
                }
            }).targetCheck(report)
        }
    }
}
