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
        print(StatusText.render(document, style: TerminalStyle.detect()), terminator: "")
    }
}

/// `beamsync status` as text: per source its conditions, revisions, drift and runs; then the
/// controllers, the inventory and the executions.
enum StatusText {
    static func render(_ document: GitOpsStatus, style: TerminalStyle) -> String {
        var out = ""
        func line(_ text: String) { out += text + "\n" }
        func time(_ date: Date?) -> String { date.map { UTCTimestamp($0).iso8601() } ?? "-" }
        if document.sources.isEmpty { line("No sources yet: start the controller with `beamsync run --repo URL`.") }
        for source in document.sources {
            let s = source.status
            let state = s.status?.rawValue ?? "Unknown"
            let colour: TerminalStyle.Colour = s.status == .ready ? .green : (s.status == .stalled || s.status == .stale) ? .red : .yellow
            line(style.paint(state, colour) + "  " + style.paint("\(s.url) \(s.branch)\(s.path.isEmpty ? "" : " (\(s.path))")", .bold)
                 + (s.suspended ? style.paint("  [suspended]", .yellow) : ""))
            for c in source.conditions {
                let paint: TerminalStyle.Colour = c.isHealthy ? .green : (c.type == .drifted ? .yellow : (c.status == .isFalse || c.reason == "Stale") ? .red : .yellow)
                line("  \(c.type.rawValue)=" + style.paint(c.status.rawValue, paint) + " \(c.reason): \(visible(c.message))"
                     + (c.lastTransitionTime.map { "  (since \(time($0)))" } ?? ""))
            }
            line("  last applied: \(revisionText(s.lastAppliedRevision, s.lastAppliedSubject))")
            if s.lastAttemptedRevision != s.lastAppliedRevision {
                line("  last attempted: \(revisionText(s.lastAttemptedRevision, s.lastAttemptedSubject))")
            }
            line("  last pass: \(time(s.lastReconciledAt)) by \(s.reconciledBy ?? "-")   next poll: \(s.suspended ? "none (suspended)" : time(source.nextPollAt))")
            if let next = s.nextAttemptAt { line("  next attempt: \(time(next)) (failures: \(s.failures))") }
            for d in source.driftedObjects.prefix(10) {
                line(style.paint("  drifted: \(visible(d.label))", .yellow) + " since \(time(d.detectedAt))")
            }
            if let n = source.drift, !source.driftedObjects.isEmpty, n > min(10, source.driftedObjects.count) {
                line("  … and \(n - min(10, source.driftedObjects.count)) more drifted objects")
            }
            for run in source.history.prefix(10) {
                let duration = run.durationMilliseconds.map { " \($0) ms" } ?? ""
                line("    \(time(run.startedAt))  \(run.trigger?.rawValue ?? "-")  \(run.result.rawValue)\(duration)  \(run.revision.map { String($0.prefix(12)) } ?? "-")  \(visible(run.error ?? ""))")
            }
        }
        for c in document.controllers {
            line("controller \(c.identity): \(c.stale ? "stale" : c.leader ? "leader" : "standby"), last heartbeat \(time(c.heartbeatAt))")
        }
        if document.controllers.isEmpty { line("controllers: none has reported a heartbeat") }
        var counts = document.executions.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        if document.pendingWithoutRunner { counts.append(style.paint("no runner active: pending executions wait", .yellow)) }
        line("managed: \(document.inventory.profiles) profiles, \(document.inventory.projectConfigs) project configs, "
             + "\(document.inventory.executions) execution documents; executions: \(counts.isEmpty ? "none" : counts.joined(separator: ", "))")
        return out
    }

    static func revisionText(_ id: String?, _ subject: String?) -> String {
        guard let id else { return "-" }
        return id + (subject.map { " \"\(visible($0))\"" } ?? "")
    }

    /// Commit subjects and messages come from other people: control and format characters (which
    /// could drive the terminal or reorder the line) are shown as `\u{XXXX}`. BeamsyncModel's
    /// `DisplayText.escaped` does the same for the other renderers; use it here once available.
    static func visible(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator:
                if scalar == "\n" { out += " " } else { out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}" }
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
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
