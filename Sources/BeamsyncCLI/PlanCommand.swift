import ArgumentParser
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// `beamsync plan`: what apply would change, without changing anything.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change in the database (a dry run).",
        discussion: """
            Reads the desired state, compares it with PostgreSQL and prints the changes. A read-only \
            database role is enough once the schema exists. With --detailed-exitcode the exit code \
            is 0 for no changes, 1 for an error and 2 when there are changes or objects changed \
            outside git (drift), after Terraform's convention.
            """
    )

    @OptionGroup var source: SourceOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var planning: PlanningFlags

    @Option(help: "Output format: text, json or markdown (a pull-request comment).")
    var format: OutputFormat = .text

    @Option(help: "Save the plan as JSON to this file, for `apply --plan`.")
    var out: String?

    @Flag(help: "Exit 0 when there are no changes, 2 when there are changes or drift, 1 on error.")
    var detailedExitcode = false

    @Option(help: "With --repo: also show what the change does relative to this base ref (for pull requests).")
    var base: String?

    func validate() throws {
        if base != nil && source.repo == nil { throw ValidationError("--base needs --repo (it compares two commits)") }
    }

    func run() async throws {
        if let base { return try await review(base: base) }
        let input = try source.input()
        let overrides = planning.overrides
        let session = try await database.connect()
        let plan: Plan
        do {
            plan = try await session.run { conn in
                try await Migrator.beamsync.migrateIfPending(conn)
                return try await Reconciliation(conn: conn).plan(input, overrides: overrides)
            }
        } catch let rejected as DesiredStateRejected {
            reportLoadFailure(rejected.diagnostics)
            throw ExitCode(1)
        }
        if let out { try PlanFile.write(plan, to: out) }
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
    static func render(_ plan: Plan, format: OutputFormat) -> String {
        switch format {
        case .json: return PlanFile.encode(plan) + "\n"
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

/// The saved-plan file: the Plan value as sorted, indented JSON.
enum PlanFile {
    static func encode(_ plan: Plan) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(plan)) ?? Data(), as: UTF8.self)
    }

    static func write(_ plan: Plan, to path: String) throws {
        try Data((encode(plan) + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func read(_ path: String) throws -> Plan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read plan file \(path)")
        }
        do {
            return try JSONDecoder().decode(Plan.self, from: data)
        } catch {
            throw ValidationError("\(path) is not a beamsync plan file: \(error)")
        }
    }
}

extension PlanCommand {
    /// `plan --repo R --ref HEAD --base BASE`: the pull-request view.
    func review(base: String) async throws {
        guard let head = try source.gitSource() else { throw ValidationError("--base needs --repo (it compares two commits)") }
        let overrides = planning.overrides
        let session = try await database.connect()
        let outcome: PullRequestReviewer.Outcome
        do {
            outcome = try await session.run { conn in
                try await Migrator.beamsync.migrateIfPending(conn)
                return try await PullRequestReviewer(conn: conn).review(head: head, base: base, overrides: overrides)
            }
        } catch let rejected as DesiredStateRejected {
            reportLoadFailure(rejected.diagnostics)
            throw ExitCode(1)
        }
        if let note = outcome.baseNote { StandardError.write("beamsync: \(note)") }
        let review = outcome.review
        if let out { try PlanFile.write(review.plan, to: out) }
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(review), as: UTF8.self))
        case .markdown:
            print(MarkdownRenderer().render(review: review).joined(separator: "\n\n"))
        case .text:
            print("Files changed between \(review.base) and \(review.head):")
            for f in review.files { print("  \(f.kind.padding(toLength: 9, withPad: " ", startingAt: 0)) \(f.path)") }
            print("\nWhat this change does (head compared with base):\n")
            print(PlanOutput.render(review.changeSet, format: .text), terminator: "")
            print("\nPlan against the database:\n")
            print(PlanOutput.render(review.plan, format: .text), terminator: "")
        }
        if review.plan.hasErrors || review.changeSet.hasErrors { throw ExitCode(1) }
        if detailedExitcode && review.plan.summary.hasChangesOrDrift { throw ExitCode(2) }
    }
}
