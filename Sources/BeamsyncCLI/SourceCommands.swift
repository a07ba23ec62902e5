import ArgumentParser
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTime
import Foundation

/// Said when a read-only command finds a database without beamsync's tables.
let schemaNotCreatedNote = "the database has no beamsync schema yet; `beamsync migrate` (or apply, or run) creates it"

/// `beamsync status`: each source's condition, revisions and recent runs.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the controller's sources: Ready / Reconciling / Stalled, revisions and recent runs.",
        discussion: "Reads only: never creates or upgrades the schema.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "Output format: text, or json (the status document).")
    var format: TextOrJSON = .text

    func run() async throws {
        logging.bootstrap()
        let session = try await database.connect()
        let document = try await session.run { conn -> GitOpsStatus in
            guard try await Migrator.beamsync.readableSchema(conn) else {
                Notes.info(schemaNotCreatedNote)
                return .empty
            }
            return try await GitOpsStatus.read(conn: conn)
        }
        if format == .json { print(try document.json()); return }
        let style = TerminalStyle.detect()
        if document.sources.isEmpty { print("No sources yet: start the controller with `beamsync run --repo URL`."); return }
        for source in document.sources {
            let s = source.status
            let state = s.status?.rawValue ?? "Unknown"
            let colour: TerminalStyle.Colour = s.status == .ready ? .green : s.status == .stalled ? .red : .yellow
            print(style.paint(state, colour) + "  " + style.paint("\(s.url) \(s.branch)\(s.path.isEmpty ? "" : " (\(s.path))")", .bold)
                  + (s.suspended ? style.paint("  [suspended]", .yellow) : ""))
            print("  reason: \(s.reason?.rawValue ?? "-")  \(s.message ?? "")")
            print("  last applied: \(s.lastAppliedRevision ?? "-")   last attempted: \(s.lastAttemptedRevision ?? "-")")
            if let next = s.nextAttemptAt { print("  next attempt: \(UTCTimestamp(next).iso8601()) (failures: \(s.failures))") }
            if let drift = source.drift, drift > 0 { print(style.paint("  drift: \(drift) object\(drift == 1 ? "" : "s") changed outside git", .yellow)) }
            for run in source.history.prefix(10) {
                print("    \(UTCTimestamp(run.startedAt).iso8601())  \(run.result.rawValue)  \(run.revision ?? "-")  \(run.error ?? "")")
            }
        }
        let counts = document.executions.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        print("managed: \(document.inventory.profiles) profiles, \(document.inventory.projectConfigs) project configs, "
              + "\(document.inventory.executions) execution documents; executions: \(counts.isEmpty ? "none" : counts.joined(separator: ", "))")
    }
}

/// Which sources an operation touches, and the shared way of running it and reporting it.
struct SourceSelection: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "Only the source with this repository URL.")
    var repo: String?
    @Option(help: "Output format: text, or json ({<verb>: count, sources: [...]}).")
    var format: TextOrJSON = .text

    /// What an operation did: how many sources it changed, and why others were left alone.
    struct Outcome {
        var count: Int
        var refusals: [String] = []
    }

    /// Runs `operation` on the selected sources; exits 1 when none matched or one was refused.
    /// `key` names the count in JSON (`suspended`, `resumed`, `reconcile_requested`).
    func perform(_ verb: String, key: String,
                 _ operation: @escaping (SourceStatusStore, String?) async throws -> Outcome) async throws {
        logging.bootstrap()
        // Sources are recorded without credentials; a URL given with them still selects its source.
        let repo = self.repo.map(RedactedURL.text)
        let (outcome, sources) = try await database.connect().run { conn -> (Outcome, [SourceStatus]) in
            // No schema, no sources: nothing to change (and nothing created to find that out).
            guard try await Migrator.beamsync.readableSchema(conn) else { return (Outcome(count: 0), []) }
            let store = SourceStatusStore(conn: conn)
            let outcome = try await operation(store, repo)
            return (outcome, try await store.sources(url: repo))
        }
        for refusal in outcome.refusals { StandardError.write("beamsync: \(refusal)") }
        switch format {
        case .json:
            print(JSONOutput.encode(SourcesReport(count: outcome.count, key: key, sources: sources)))
        case .text:
            print("\(verb) \(outcome.count) source\(outcome.count == 1 ? "" : "s")")
        }
        if sources.isEmpty {
            StandardError.write("beamsync: no source \(repo.map { "with repository URL \($0) " } ?? "")is recorded; `beamsync sources list` shows them")
            throw ExitCode(1)
        }
        if !outcome.refusals.isEmpty { throw ExitCode(1) }
    }
}

/// `{<key>: count, sources: [...]}`.
struct SourcesReport: Encodable {
    var count: Int
    var key: String
    var sources: [SourceStatus]

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(count, forKey: Key(stringValue: key))
        try c.encode(sources, forKey: Key(stringValue: "sources"))
    }
}

/// `beamsync suspend` / `resume`: stop or restart applying (the controller keeps serving).
struct SuspendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "suspend", abstract: "Suspend reconciliation (of one --repo, or all sources).")
    @OptionGroup var selection: SourceSelection

    func run() async throws {
        try await selection.perform("suspended", key: "suspended") { store, repo in
            SourceSelection.Outcome(count: try await store.setSuspended(true, url: repo))
        }
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume reconciliation (of one --repo, or all sources).")
    @OptionGroup var selection: SourceSelection

    func run() async throws {
        try await selection.perform("resumed", key: "resumed") { store, repo in
            let n = try await store.setSuspended(false, url: repo)
            try await store.requestReconcile(url: repo)
            return SourceSelection.Outcome(count: n)
        }
    }
}

/// `beamsync reconcile`: ask the running controller to reconcile now.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile", abstract: "Ask the controller to fetch and reconcile now (of one --repo, or all sources).",
        discussion: "A suspended source is not reconciled: it is named, and the exit status is 1; `beamsync resume` first.")
    @OptionGroup var selection: SourceSelection

    func run() async throws {
        try await selection.perform("reconcile requested for", key: "reconcile_requested") { store, repo in
            let suspended = try await store.sources(url: repo).filter(\.suspended)
            let n = try await store.requestReconcile(url: repo)
            return SourceSelection.Outcome(count: n, refusals: suspended.map {
                "source \($0.url) \($0.branch) is suspended and is not reconciled; run `beamsync resume --repo \($0.url)` first"
            })
        }
    }
}
