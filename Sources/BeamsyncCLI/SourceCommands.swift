import ArgumentParser
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTime
import Foundation

/// `beamsync status`: each source's condition, revisions and recent runs.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the controller's sources: Ready / Reconciling / Stalled, revisions and recent runs.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let session = try await database.connect()
        let document = try await session.run { conn in
            try await Migrator.beamsync.migrateIfPending(conn)
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

/// Which sources an operation touches, and the shared way of running it and reporting the count.
struct SourceSelection: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Only the source with this repository URL.")
    var repo: String?

    /// Runs `operation` on the selected sources and exits 1 when none matched.
    func perform(_ verb: String, _ operation: @escaping (SourceStatusStore, String?) async throws -> Int) async throws {
        // Sources are recorded without credentials; a URL given with them still selects its source.
        let repo = self.repo.map(RedactedURL.text)
        let n = try await database.connect().run { conn in
            try await Migrator.beamsync.migrateIfPending(conn)
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
