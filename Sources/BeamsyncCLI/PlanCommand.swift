import ArgumentParser
import BeamsyncGit
import BeamsyncModel
import BeamsyncPlan
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
            is 0 for no changes, 1 for an error and 2 when there are changes (Terraform's convention).
            """
    )

    @OptionGroup var source: SourceOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var planning: PlanningFlags

    @Option(help: "Output format: text, json or markdown (a pull-request comment).")
    var format: OutputFormat = .text

    @Option(help: "Save the plan as JSON to this file, for `apply --plan`.")
    var out: String?

    @Flag(help: "Exit 0 when there are no changes, 2 when there are changes, 1 on error.")
    var detailedExitcode = false

    @Option(help: "With --repo: also show what the change does relative to this base ref (for pull requests).")
    var base: String?

    func validate() throws {
        if base != nil && source.repo == nil { throw ValidationError("--base needs --repo (it compares two commits)") }
    }

    func run() async throws {
        if let base { return try await review(base: base) }
        let session = try await database.connect()
        let plan: Plan? = try await session.run { conn in
            let reconciler = Reconciler(conn: conn)
            try await reconciler.prepare()
            // Reading and parsing the files needs nothing from the database: it overlaps the live read.
            async let parsing = source.parse()
            let live = try await reconciler.readLive()
            let parsed = try await parsing
            let (desired, diagnostics) = source.check(parsed, externalProfiles: live.externalProfiles)
            let sourceName = parsed.loaded.name
            guard let desired else {
                reportLoadFailure(diagnostics)
                return nil
            }
            var plan = Planner(options: planning.options(policy: desired.policy)).plan(desired: desired, live: live, source: sourceName)
            plan.diagnostics = (plan.diagnostics + diagnostics.warnings).sortedByLocation()
            return plan
        }
        guard let plan else { throw ExitCode(1) }
        if let out { try PlanFile.write(plan, to: out) }
        print(PlanOutput.render(plan, format: format), terminator: "")
        if plan.hasErrors { throw ExitCode(1) }
        if detailedExitcode && plan.summary.hasChanges { throw ExitCode(2) }
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

    func options(policy: RepositoryPolicy) -> PlanOptions {
        PlanOptions(policy: policy, prune: prune, heal: heal, adopt: adopt)
    }
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
        let session = try await database.connect()
        let review: PullRequestReview? = try await session.run { conn in
            let reconciler = Reconciler(conn: conn)
            try await reconciler.prepare()
            let live = try await reconciler.readLive()
            let (head, diagnostics, headName, headRevision) = try await source.load(externalProfiles: live.externalProfiles)
            guard let head, let headRevision else {
                reportLoadFailure(diagnostics)
                return nil
            }
            let (baseState, baseDiagnostics, baseName, baseRevision) = try await source.load(externalProfiles: live.externalProfiles, ref: base)
            // A base that does not validate (or predates beamsync) is compared as empty.
            let baseLive = baseState.map(LiveState.init(simulating:)) ?? LiveState()
            if baseState == nil { StandardError.write("beamsync: the base \(baseName) does not validate (\(baseDiagnostics.errors.count) errors); comparing against an empty base") }
            let options = planning.options(policy: head.policy)
            let changeSet = Planner(options: options).plan(desired: head, live: baseLive, source: "\(baseName) → \(headName)")
            var plan = Planner(options: options).plan(desired: head, live: live, source: headName)
            plan.diagnostics = (plan.diagnostics + diagnostics.warnings).sortedByLocation()
            var files: [PullRequestReview.FileChange] = []
            if let baseRevision, let b = GitCommitID(hex: baseRevision), let h = GitCommitID(hex: headRevision) {
                let mirror = try GitMirror.open(at: try source.gitSource(ref: base).mirrorPath)
                files = try mirror.diff(from: b, to: h, under: source.path.isEmpty ? nil : source.path)
                    .filter { DesiredStateLoader.isDocumentFileOrGraph($0.path) || ($0.oldPath.map(DesiredStateLoader.isDocumentFileOrGraph) ?? false) }
                    .map { .init(kind: $0.kind.rawValue, path: $0.kind == .renamed ? "\($0.oldPath ?? "") → \($0.path)" : $0.path) }
            }
            return PullRequestReview(base: baseName, head: headName, files: files, changeSet: changeSet, plan: plan)
        }
        guard let review else { throw ExitCode(1) }
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
        if detailedExitcode && review.plan.summary.hasChanges { throw ExitCode(2) }
    }
}
