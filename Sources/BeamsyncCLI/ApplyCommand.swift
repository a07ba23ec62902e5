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
            Without --auto-approve the plan is shown and you are asked to confirm on a terminal \
            (anything but "yes" cancels, exit 1); without a terminal apply refuses. --plan FILE \
            applies exactly a plan saved by `plan --out`, without asking (it was reviewed when it \
            was made), and refuses it when the database changed since. Applies are serialised \
            across processes; the whole plan applies or nothing does. apply creates or upgrades \
            the schema first.
            """
    )

    @OptionGroup var source: SourceOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var planning: PlanningFlags
    @OptionGroup var logging: LoggingOptions

    @Option(help: "Apply this saved plan (from `plan --out`) instead of planning now; no confirmation is asked.")
    var plan: String?

    @OptionGroup var planKey: PlanKeyOptions

    @Flag(help: "Apply without asking.")
    var autoApprove = false

    @Option(help: "Output format: text, or json (the counts of what was applied).")
    var format: TextOrJSON = .text

    @Option(help: "Revision recorded with the change (a git commit); default: none.")
    var revision: String?

    func run() async throws {
        logging.bootstrap()
        let actor = AuditActor.commandLine()
        let input = try source.input()
        let overrides = planning.overrides
        // A saved plan is read before anything starts, so a bad file costs nothing.
        let saved = try plan.map { try SavedPlanFile.read($0, key: try planKey.key()) }
        let session = try await database.connect()
        let outcome: (Plan, ApplyResult)
        do {
            outcome = try await session.run { conn in
                try await Migrator.beamsync.migrateIfPending(conn)
                let reconciliation = Reconciliation(conn: conn)
                if let saved {
                    // Reviewed when it was made (Terraform applies a saved plan without asking).
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
        case .text:
            if autoApprove || saved != nil { print(PlanOutput.render(applied, format: .text), terminator: "") }
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
            // Terraform's answer: nothing applied is not success.
            StandardError.write("Apply cancelled.")
            throw ExitCode(1)
        }
    }
}

/// `beamsync migrate`: bring the schema up to date.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade beamsync's tables.",
        discussion: "Run it once with a role that may create tables; plan and status then need only read access.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "Output format: text, or json ({applied: [{version, name}], schema_version}).")
    var format: TextOrJSON = .text

    struct Report: Encodable {
        struct Applied: Encodable {
            var version: Int
            var name: String
        }
        var applied: [Applied]
        var schemaVersion: Int

        enum CodingKeys: String, CodingKey {
            case applied, schemaVersion = "schema_version"
        }
    }

    func run() async throws {
        logging.bootstrap()
        let session = try await database.connect()
        let applied = try await session.run { conn in try await Migrator.beamsync.migrate(conn) }
        switch format {
        case .json:
            print(JSONOutput.encode(Report(applied: applied.map { Report.Applied(version: $0.version, name: $0.name) },
                                           schemaVersion: BeamsyncMigrations.all.last?.version ?? 0)))
        case .text:
            if applied.isEmpty { print("Schema is up to date.") }
            for m in applied { print("applied migration \(m.version): \(m.name)") }
        }
    }
}
