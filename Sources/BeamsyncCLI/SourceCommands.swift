import ArgumentParser
import BeamsyncModel
import BeamsyncStore
import Foundation

/// `beamsync status`: each source's condition, revisions and recent runs.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the controller's sources: Ready / Reconciling / Stalled, revisions and recent runs.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let session = try await database.connect()
        let document: JSONValue = try await session.run { conn in
            try await Reconciler(conn: conn).prepare()
            return try await StatusDocument.build(conn: conn)
        }
        if format == .json { print(document.canonicalStringPretty); return }
        let style = TerminalStyle.detect()
        let sources = document["sources"]?.arrayValue ?? []
        if sources.isEmpty { print("No sources yet: start the controller with `beamsync run --repo URL`."); return }
        for s in sources {
            let state = s["status"]?.stringValue ?? "Unknown"
            let colour: TerminalStyle.Colour = state == "Ready" ? .green : state == "Stalled" ? .red : .yellow
            print(style.paint(state, colour) + "  " + style.paint("\(s["url"]?.stringValue ?? "") \(s["branch"]?.stringValue ?? "")\((s["path"]?.stringValue).map { $0.isEmpty ? "" : " (\($0))" } ?? "")", .bold)
                  + (s["suspended"] == .bool(true) ? style.paint("  [suspended]", .yellow) : ""))
            print("  reason: \(s["reason"]?.stringValue ?? "-")  \(s["message"]?.stringValue ?? "")")
            print("  last applied: \(s["last_applied_revision"]?.stringValue ?? "-")   last attempted: \(s["last_attempted_revision"]?.stringValue ?? "-")")
            if let next = s["next_attempt_at"]?.stringValue { print("  next attempt: \(next) (failures: \(s["failures"]?.intValue ?? 0))") }
            for run in (s["history"]?.arrayValue ?? []).prefix(10) {
                print("    \(run["started_at"]?.stringValue ?? "")  \(run["result"]?.stringValue ?? "")  \(run["revision"]?.stringValue ?? "-")  \(run["error"]?.stringValue ?? "")")
            }
        }
    }
}

/// The status document (CLI `status --format json` and `/api/v2/gitops/status`).
public enum StatusDocument {
    public static func build(conn: PGConnection, leader: Bool? = nil) async throws -> JSONValue {
        let store = SourceStatusStore(conn: conn)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        var sources: [JSONValue] = []
        for s in try await store.all() {
            var o = try JSONValue.parse(bytes: [UInt8](encoder.encode(s))).objectValue ?? [:]
            o["history"] = try JSONValue.parse(bytes: [UInt8](encoder.encode(try await store.history(sourceID: s.id))))
            sources.append(.object(o))
        }
        var document: [String: JSONValue] = ["sources": .array(sources), "live_version": .int(try await store.liveVersion())]
        if let leader { document["leader"] = .bool(leader) }
        return .object(document)
    }
}

/// Which sources an operation touches, and the shared way of running it and reporting the count.
struct SourceSelection: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Only the source with this repository URL.")
    var repo: String?

    /// Runs `operation` on the selected sources and exits 1 when none matched.
    func perform(_ verb: String, _ operation: @escaping (SourceStatusStore, String?) async throws -> Int) async throws {
        let repo = self.repo
        let n = try await database.connect().run { conn in
            try await Reconciler(conn: conn).prepare()
            return try await operation(SourceStatusStore(conn: conn), repo)
        }
        print("\(verb) \(n) source\(n == 1 ? "" : "s")")
        if n == 0 { throw ExitCode(1) }
    }
}

/// `beamsync suspend` / `resume`: stop or restart applying (the controller keeps serving).
struct SuspendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "suspend", abstract: "Suspend reconciliation (of one --repo, or all sources).")
    @OptionGroup var selection: SourceSelection

    func run() async throws {
        try await selection.perform("suspended") { store, repo in try await store.setSuspended(true, url: repo) }
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume reconciliation (of one --repo, or all sources).")
    @OptionGroup var selection: SourceSelection

    func run() async throws {
        try await selection.perform("resumed") { store, repo in
            let n = try await store.setSuspended(false, url: repo)
            try await store.requestReconcile(url: repo)
            return n
        }
    }
}

/// `beamsync reconcile`: ask the running controller to reconcile now.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reconcile", abstract: "Ask the controller to fetch and reconcile now (of one --repo, or all sources).")
    @OptionGroup var selection: SourceSelection

    func run() async throws {
        try await selection.perform("reconcile requested for") { store, repo in try await store.requestReconcile(url: repo) }
    }
}
