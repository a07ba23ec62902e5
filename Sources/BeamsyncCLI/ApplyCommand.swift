import ArgumentParser
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// `beamsync apply`: make the database match the desired state, in one transaction.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply the desired state (or a saved plan) to the database in one transaction.",
        discussion: """
            Without --auto-approve the plan is shown and you are asked to confirm on a terminal; \
            without a terminal apply refuses. --plan FILE applies exactly a plan saved by \
            `plan --out` and refuses it when the database changed since. Applies are serialised \
            across processes; the whole plan applies or nothing does.
            """
    )

    @OptionGroup var source: SourceOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var planning: PlanningFlags

    @Option(help: "Apply this saved plan (from `plan --out`) instead of planning now.")
    var plan: String?

    @OptionGroup var planKey: PlanKeyOptions

    @Flag(help: "Apply without asking.")
    var autoApprove = false

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Option(help: "Revision recorded with the change (a git commit); default: none.")
    var revision: String?

    func run() async throws {
        let actor = AuditActor.commandLine()
        let input = try source.input()
        let overrides = planning.overrides
        let session = try await database.connect()
        let outcome: (Plan, ApplyResult)
        do {
            outcome = try await session.run { conn in
                try await Migrator.beamsync.migrateIfPending(conn)
                let reconciliation = Reconciliation(conn: conn)
                if let path = plan {
                    let saved = try SavedPlanFile.read(path, key: try planKey.key())
                    if !autoApprove { try confirm(saved) }
                    return (saved, try await reconciliation.apply(saved: saved, actor: actor, revision: revision))
                }
                if autoApprove {
                    // Files are parsed before the transaction; the live state is read once, inside it,
                    // and only the cross-document checks run while the lock is held.
                    let parsed = try await ParsedSource.read(await reconciliation.withLastApplied(input))
                    return try await reconciliation.apply(parsed, overrides: overrides, actor: actor, revision: revision)
                }
                // Show the plan, ask, then apply exactly what was shown (refused if the database moved meanwhile).
                let shown = try await reconciliation.plan(input, overrides: overrides)
                if shown.hasErrors { throw PlanRejected(plan: shown) }
                if !shown.summary.hasChanges {
                    print(PlanOutput.render(shown, format: .text), terminator: "")
                    return (shown, ApplyResult())
                }
                try confirm(shown)
                return (shown, try await reconciliation.apply(saved: shown, actor: actor, revision: revision ?? shown.sourceRevision))
            }
        } catch let rejected as DesiredStateRejected {
            reportLoadFailure(rejected.diagnostics)
            throw ExitCode(1)
        }
        let (applied, result) = outcome
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            let summary = ["created": result.created, "updated": result.updated, "deleted": result.deleted, "triggered": result.triggered]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        default:
            if autoApprove { print(PlanOutput.render(applied, format: .text), terminator: "") }
            let style = TerminalStyle.detect()
            print(style.paint("Apply complete!", .green) + " \(result.created) created, \(result.updated) changed, \(result.deleted) deleted, \(result.triggered) execution\(result.triggered == 1 ? "" : "s") triggered.")
            for (name, id) in result.executionIDs.sorted(by: { $0.key < $1.key }) { print("  execution \(name): \(id) (pending)") }
        }
    }

    /// Terraform's confirmation: only "yes" proceeds; without a terminal, refuse.
    private func confirm(_ plan: Plan) throws {
        guard isatty(STDIN_FILENO) == 1 else {
            throw ValidationError("apply needs confirmation but standard input is not a terminal; review with `beamsync plan` and use --auto-approve")
        }
        print(PlanOutput.render(plan, format: .text), terminator: "")
        // Written unbuffered so the prompt shows before readLine blocks.
        FileHandle.standardOutput.write(Data("\nDo you want to apply these changes? Only 'yes' will be accepted: ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
            throw CleanExit.message("Apply cancelled.")
        }
    }
}

/// `beamsync migrate`: bring the schema up to date.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Create or upgrade beamsync's tables.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let session = try await database.connect()
        let applied = try await session.run { conn in try await Migrator.beamsync.migrate(conn) }
        if applied.isEmpty { print("Schema is up to date.") }
        for m in applied { print("applied migration \(m.version): \(m.name)") }
    }
}
