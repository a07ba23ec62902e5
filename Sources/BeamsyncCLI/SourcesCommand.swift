import ArgumentParser
import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// `beamsync sources list|remove`: the repositories the controller has followed.
struct SourcesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sources",
        abstract: "List the sources the controller has followed, and remove stale ones.",
        subcommands: [SourcesList.self, SourcesRemove.self]
    )
}

struct SourcesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List recorded sources (repository, branch, path).",
                                                    discussion: "Reads only: never creates or upgrades the schema.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "Output format: text, or json ({sources: [...]}).")
    var format: TextOrJSON = .text

    struct Report: Encodable {
        var sources: [SourceStatus]
    }

    func run() async throws {
        logging.bootstrap()
        let sources = try await database.connect().run { conn -> [SourceStatus] in
            guard try await Migrator.beamsync.readableSchema(conn) else {
                Notes.info(schemaNotCreatedNote)
                return []
            }
            return try await SourceStatusStore(conn: conn).all()
        }
        switch format {
        case .json:
            print(JSONOutput.encode(Report(sources: sources)))
        case .text:
            if sources.isEmpty { print("No sources."); return }
            for s in sources {
                print("\(s.url)  \(s.branch)\(s.path.isEmpty ? "" : "  \(s.path)")  \(s.status?.rawValue ?? "Unknown")"
                      + (s.suspended ? "  [suspended]" : "") + "  updated \(s.updatedAt.map { ExecutionOutput.time($0) } ?? "-")")
            }
        }
    }
}

struct SourcesRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Forget a source nobody follows any more, with its status and run history.",
        discussion: """
            For a repository that moved or a branch that was renamed: its row leaves `status` and \
            the status API. The objects it applied stay in the database and stay managed by git. \
            A controller that still follows the source records it again on its next pass. Exit \
            status 1 when no recorded source matches.
            """)

    @Argument(help: "The repository URL, exactly as `beamsync sources list` shows it.")
    var url: String
    @Option(help: "Only the source following this branch.")
    var branch: String?
    @Option(help: "Only the source reading this subdirectory.")
    var path: String?
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "Output format: text, or json ({removed: count, sources: [...]}).")
    var format: TextOrJSON = .text

    func run() async throws {
        logging.bootstrap()
        let removed = try await database.connect().run { conn -> [SourceStatus] in
            guard try await Migrator.beamsync.readableSchema(conn) else { return [] }
            return try await SourceStatusStore(conn: conn).remove(url: url, branch: branch, path: path)
        }
        switch format {
        case .json:
            print(JSONOutput.encode(SourcesReport(count: removed.count, key: "removed", sources: removed)))
        case .text:
            print("removed \(removed.count) source\(removed.count == 1 ? "" : "s")")
            for s in removed { print("  \(s.url)  \(s.branch)\(s.path.isEmpty ? "" : "  \(s.path)")") }
        }
        if removed.isEmpty {
            StandardError.write("beamsync: no recorded source has the repository URL \(url)"
                                + (branch.map { " and branch \($0)" } ?? "") + (path.map { " and path \($0)" } ?? "")
                                + "; `beamsync sources list` shows them")
            throw ExitCode(1)
        }
    }
}
