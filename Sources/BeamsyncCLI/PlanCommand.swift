import ArgumentParser
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import Foundation

/// `beamsync plan`: what apply would change, without changing anything.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change in the database (a dry run).",
        discussion: """
            Reads the desired state, compares it with PostgreSQL and prints the changes. Plan never \
            writes, not even the schema: a database without beamsync's tables is planned against \
            as empty, and a role that may only read (or only connect, before the schema exists) is \
            enough. Invalid documents exit 1; with --format json or markdown the output still says \
            why (every error with file:line:column and a hint). With --detailed-exitcode the exit \
            code is 0 for no changes, 1 for an error and 2 when there are changes or objects changed \
            outside git (drift), after Terraform's convention.
            """
    )

    @OptionGroup var source: SourceOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var planning: PlanningFlags
    @OptionGroup var logging: LoggingOptions

    @Option(help: "Output format: text, json (the plan document) or markdown (a pull-request comment).")
    var format: PlanFormat = .text

    @Option(help: "Save the plan as JSON to this file, for `apply --plan` (signed with the plan key, if one is configured).")
    var out: String?

    @OptionGroup var planKey: PlanKeyOptions

    @Flag(help: "Exit 0 when there are no changes, 2 when there are changes or drift, 1 on error.")
    var detailedExitcode = false

    @Option(help: "With --repo: also show what the change does relative to this base ref (for pull requests).")
    var base: String?

    @OptionGroup var targets: TargetCheckOptions

    func validate() throws {
        if base != nil && source.repo == nil { throw ValidationError("--base needs --repo (it compares two commits)") }
    }

    func run() async throws {
        logging.bootstrap()
        if let base { return try await review(base: base) }
        let input = try source.input()
        let overrides = planning.overrides
        let session = try await database.connect()
        var plan: Plan
        do {
            plan = try await session.run { conn in try await Reconciliation(conn: conn).plan(input, overrides: overrides) }
        } catch let rejected as DesiredStateRejected {
            // The errors go to the log as text, and to the output in the format asked for.
            reportLoadFailure(rejected.diagnostics)
            if format != .text {
                let snapshot = rejected.checked.snapshot
                print(PlanOutput.render(Plan.rejected(source: snapshot.label, sourceRevision: snapshot.revision,
                                                      diagnostics: rejected.diagnostics), format: format), terminator: "")
            }
            throw ExitCode(1)
        }
        // After the database session: the checks take seconds and need no connection.
        plan = try await targets.apply(to: plan)
        if let out { try SavedPlanFile.write(plan, to: out, key: try planKey.key()) }
        print(PlanOutput.render(plan, format: format), terminator: "")
        if plan.hasErrors { throw ExitCode(1) }
        if detailedExitcode && plan.summary.hasChangesOrDrift { throw ExitCode(2) }
    }
}

/// Switches shared by plan and apply; unset ones fall back to beamsync.yaml.
struct PlanningFlags: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Delete managed objects whose documents were removed (default: beamsync.yaml, else off).")
    var prune: Bool?
    @Flag(inversion: .prefixedNo, help: "Revert rows changed outside git (default: beamsync.yaml, else report only).")
    var heal: Bool?
    @Flag(help: "Take over objects of the same name that were created outside git.")
    var adopt = false

    var overrides: PolicyOverrides { PolicyOverrides(prune: prune, heal: heal, adopt: adopt) }
}

enum PlanOutput {
    /// Every format leaves through the one redaction function (messages may quote what they reject).
    static func render(_ plan: Plan, format: PlanFormat) -> String {
        SecretRedaction.redact(unredacted(plan, format: format))
    }

    private static func unredacted(_ plan: Plan, format: PlanFormat) -> String {
        switch format {
        case .json: return SavedPlanFile.encode(plan) + "\n"
        case .markdown: return MarkdownRenderer().render(plan).joined(separator: "\n\n") + "\n"
        case .text:
            let style = TerminalStyle.detect()
            return TextRenderer(paint: { text, tone in
                switch tone {
                case .add: style.paint(text, .green)
                case .change: style.paint(text, .yellow)
                case .remove: style.paint(text, .red)
                case .trigger: style.paint(text, .cyan)
                case .note: style.paint(text, .yellow)
                case .dim: style.paint(text, .dim)
                case .bold: style.paint(text, .bold)
                }
            }).render(plan)
        }
    }
}

/// `--plan-key-file`: the HMAC key that signs saved plans (`plan --out`) and that `apply --plan`
/// requires them to be signed with; `BEAMSYNC_PLAN_KEY` holds the key itself.
struct PlanKeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("File holding the key that signs saved plans (default: the BEAMSYNC_PLAN_KEY variable).",
                               valueName: "file"))
    var planKeyFile: String?

    func key() throws -> PlanSigningKey? { try PlanSigningKey.load(file: planKeyFile) }
}

extension PlanCommand {
    /// `plan --repo R --ref HEAD --base BASE`: the pull-request view.
    func review(base: String) async throws {
        guard let head = try source.gitSource() else { throw ValidationError("--base needs --repo (it compares two commits)") }
        let overrides = planning.overrides
        let session = try await database.connect()
        let outcome = try await session.run { conn in
            try await PullRequestReviewer(conn: conn).review(head: head, base: base, overrides: overrides)
        }
        if let note = outcome.baseNote { Notes.warning(note) }
        var review = outcome.review
        if review.plan.failedValidation {
            // The errors go to the log as text, and to the output in the format asked for.
            reportLoadFailure(review.plan.diagnostics)
            if format == .text { throw ExitCode(1) }
        } else {
            review.plan = try await targets.apply(to: review.plan, alsoChangedBy: [review.changeSet])
            if let out { try SavedPlanFile.write(review.plan, to: out, key: try planKey.key()) }
        }
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            // Like every plan output, through the one redaction function (the PR comment included).
            print(SecretRedaction.redact(String(decoding: try encoder.encode(review), as: UTF8.self)))
        case .markdown:
            print(SecretRedaction.redact(MarkdownRenderer().render(review: review).joined(separator: "\n\n")))
        case .text:
            print("Files changed between \(review.base) and \(review.head):")
            for f in review.files { print(SecretRedaction.redact("  \(f.kind.padding(toLength: 9, withPad: " ", startingAt: 0)) \(f.path)")) }
            print("\nWhat this change does (head compared with base):\n")
            print(PlanOutput.render(review.changeSet, format: .text), terminator: "")
            print("\nPlan against the database:\n")
            print(PlanOutput.render(review.plan, format: .text), terminator: "")
        }
        if review.plan.hasErrors || review.changeSet.hasErrors { throw ExitCode(1) }
        if detailedExitcode && review.plan.summary.hasChangesOrDrift { throw ExitCode(2) }
    }
}
