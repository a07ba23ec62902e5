import ArgumentParser
import BeamsyncEngine
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTime
import Foundation

/// `beamsync executions create|list|show|cancel`.
struct ExecutionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "executions",
        abstract: "Create, list, show and cancel executions.",
        discussion: """
            Executions created here run through the same runner as those triggered from git. \
            Without BEAMPIPE_USE_REAL_BACKENDS=true they run through the simulated backend, which \
            contacts nothing and says so.
            """,
        subcommands: [ExecutionsCreate.self, ExecutionsList.self, ExecutionsShow.self, ExecutionsCancel.self]
    )
}

struct ExecutionsCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an execution and run it in the foreground until it ends (or --detach).",
        discussion: """
            The profile is resolved as beampipe does: --profile-id, else --profile, else the \
            project's default, else the global default; it must be global or belong to the \
            project. Its revision and a snapshot are pinned, so later profile edits never change \
            this execution. Interrupting the foreground run leaves the execution in the ledger, \
            where `beamsync run` (or another runner) continues it from its last recorded step. \
            The foreground run advances this execution only: other pending executions wait for \
            `beamsync run`. Exit code: 0 completed or not submitted, 1 failed or cancelled.
            """
    )

    @Option(help: "The project (project_module) the execution belongs to.")
    var project: String
    @Option(help: "Deployment profile name.")
    var profile: String?
    @Option(name: .customLong("profile-id"), help: "Deployment profile UUID.")
    var profileID: String?
    @Option(help: "Logical graph file; its bytes are stored with the execution (content-addressed).")
    var graph: String?
    @Option(name: .customLong("graph-url"),
            help: "Logical graph URL (http or https) that the runner fetches; needs --graph-sha256. Instead of --graph.")
    var graphURL: String?
    @Option(name: .customLong("graph-sha256"),
            help: "SHA-256 (64 hex digits) the graph at --graph-url must have; other content is refused.")
    var graphSHA256: String?
    @Option(help: "Execution name, unique (default: <project>-<UTC time>-<random>).")
    var name: String?
    @Flag(name: .customLong("no-submit"), help: "Translate only; end as not_submitted.")
    var noSubmit = false
    @Flag(help: "Create it and return; a running `beamsync run` executes it.")
    var detach = false
    @Option(help: "Output format: text, or json (the execution and its events).")
    var format: TextOrJSON = .text
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if profile != nil && profileID != nil {
            throw ValidationError("provide only one of --profile or --profile-id")
        }
        _ = try GraphSource.parse(file: graph, url: graphURL, sha256: graphSHA256)
        // The runner in this process reads it too; refused here as `beamsync run` refuses it.
        do {
            _ = try RunnerConfiguration.concurrency(from: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError("\(error); unset it")
        }
    }

    func run() async throws {
        logging.bootstrap()
        let graphRequest: ExecutionRequest.Graph
        switch try GraphSource.parse(file: graph, url: graphURL, sha256: graphSHA256) {
        case .file(let path):
            do {
                graphRequest = .content(Array(try Data(contentsOf: URL(fileURLWithPath: path))), path: path)
            } catch {
                throw CommandFailure("cannot read graph file \(path): \(error.localizedDescription)")
            }
        case .url(let url, let sha256):
            graphRequest = .url(url, sha256: sha256)
        }
        let final: ExecutionRecord? = try await withDatabase(database) { conninfo, conn in
            let ledger = ExecutionLedger(conn: conn)
            let record: ExecutionRecord
            do {
                record = try await ledger.create(ExecutionRequest(
                    name: name, projectModule: project, profileID: profileID, profileName: profile,
                    graph: graphRequest, doSubmit: !noSubmit, createdBy: AuditActor.commandLine().name))
            } catch let error as ExecutionLedgerError {
                StandardError.write("beamsync: \(error)")
                throw ExitCode(1)
            }
            let environment = ProcessInfo.processInfo.environment
            if detach {
                ExecutionOutput.print(record, events: try await ledger.events(of: record.id), format: format)
                if format == .text {
                    print("Detached: a running `beamsync run` executes it; follow it with `beamsync executions show \(record.name)`.")
                }
                return nil
            }
            let style = TerminalStyle.detect()
            if format == .text {
                print("Execution \(style.paint(record.name, .bold)) (\(record.id.uuidString.lowercased())) with profile "
                      + "'\(record.profileName ?? "?")' revision \(record.deploymentProfileRevision ?? 0)"
                      + (RunnerConfiguration.useRealBackends(environment) ? "" : " — simulated backend (BEAMPIPE_USE_REAL_BACKENDS is not true)"))
            }
            let final = try await ExecutionFollower.follow(record, conninfo: conninfo, ledger: ledger, environment: environment,
                                                           format: format, style: style)
            if format == .json { ExecutionOutput.print(final, events: try await ledger.events(of: record.id), format: .json) }
            return final
        }
        if let final, final.status == .failed || final.status == .cancelled { throw ExitCode(1) }
    }
}

/// Where `executions create` takes the graph from: exactly one of `--graph FILE` and
/// `--graph-url URL --graph-sha256 HEX`.
enum GraphSource: Equatable {
    case file(String)
    case url(String, sha256: String)

    static func parse(file: String?, url: String?, sha256: String?) throws -> GraphSource {
        switch (file, url) {
        case (nil, nil):
            throw ValidationError("give the graph: --graph FILE, or --graph-url URL with --graph-sha256 HEX")
        case (.some, .some):
            throw ValidationError("--graph and --graph-url are alternatives; give only one of them")
        case (.some(let path), nil):
            if sha256 != nil {
                throw ValidationError("--graph-sha256 goes with --graph-url; a --graph file is hashed as it is read, so drop --graph-sha256")
            }
            return .file(path)
        case (nil, .some(let url)):
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else {
                throw ValidationError("--graph-url '\(url)' is not an absolute http(s) URL; write e.g. https://example.org/graphs/hello.graph")
            }
            if components.user != nil || components.password != nil {
                throw ValidationError("--graph-url must not carry credentials (it is stored with the execution and shown by "
                                      + "`executions show`); serve the graph without them")
            }
            guard let sha256 else {
                throw ValidationError("--graph-url needs --graph-sha256 HEX (the SHA-256 of the graph, e.g. from `sha256sum FILE`); "
                                      + "the runner refuses content that does not match it")
            }
            let hex = sha256.trimmingCharacters(in: .whitespaces).lowercased()
            guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else {
                throw ValidationError("--graph-sha256 '\(sha256)' is not 64 hexadecimal digits; give the graph's SHA-256, e.g. from `sha256sum FILE`")
            }
            return .url(url, sha256: hex)
        }
    }
}

struct ExecutionsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List executions, newest first.")

    @Option(help: "Only this project.")
    var project: String?
    @Option(help: "Only this status (pending, running, awaiting_scheduler, completed, failed, cancelled, not_submitted, retrying).")
    var status: String?
    @Option(help: "At most this many.")
    var limit: Int = 50
    @Option(help: "Output format: text, or json (an array of executions).")
    var format: TextOrJSON = .text
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let status, ExecutionStatus(rawValue: status) == nil {
            throw ValidationError("unknown status '\(status)'; one of \(ExecutionStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        logging.bootstrap()
        let session = try await database.connect()
        let (records, runners) = try await session.run { conn -> ([ExecutionRecord], Int) in
            guard try await Migrator.beamsync.readableSchema(conn) else {
                Notes.info(schemaNotCreatedNote)
                return ([], 0)
            }
            let records = try await ExecutionLedger(conn: conn).list(project: project, status: status.flatMap(ExecutionStatus.init(rawValue:)),
                                                                     limit: limit)
            return (records, try await RunnerPresence(conn: conn).activeRunners())
        }
        defer { RunnerNote.write(waiting: records.filter { !$0.isTerminal }.count, runners: runners) }
        switch format {
        case .json:
            print(ExecutionOutput.json(records))
        default:
            let style = TerminalStyle.detect()
            if records.isEmpty { print("No executions."); return }
            let rows = records.map { (r: ExecutionRecord) -> [String] in
                let backend = r.simulated ? "simulated" : (r.backend?.rawValue ?? "-")
                return [r.name, r.status.rawValue, r.step ?? "-", r.projectModule, r.profileName ?? "-", ExecutionOutput.time(r.createdAt), backend]
            }
            ExecutionOutput.table(header: ["NAME", "STATUS", "STEP", "PROJECT", "PROFILE", "CREATED", "BACKEND"], rows: rows,
                                  style: style, statusColumn: 1)
        }
    }
}

struct ExecutionsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one execution and its recorded steps.")

    @Argument(help: "Execution name or id.")
    var execution: String
    @Option(help: "Output format: text, or json (the execution and its events).")
    var format: TextOrJSON = .text
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap()
        let session = try await database.connect()
        let found: (ExecutionRecord, [ExecutionEvent], Int)? = try await session.run { conn in
            guard try await Migrator.beamsync.readableSchema(conn) else {
                Notes.info(schemaNotCreatedNote)
                return nil
            }
            let ledger = ExecutionLedger(conn: conn)
            guard let record = try await ledger.get(idOrName: execution) else { return nil }
            return (record, try await ledger.events(of: record.id), try await RunnerPresence(conn: conn).activeRunners())
        }
        guard let (record, events, runners) = found else {
            StandardError.write("beamsync: no execution with id or name '\(execution)'")
            throw ExitCode(1)
        }
        ExecutionOutput.print(record, events: events, format: format)
        RunnerNote.write(waiting: record.isTerminal ? 0 : 1, runners: runners)
    }
}

struct ExecutionsCancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Ask the runner to cancel an execution (its DALiuGE session is cancelled, then it is recorded cancelled).",
        discussion: "Without --wait the request is recorded and the running `beamsync run` carries it out."
    )

    @Argument(help: "Execution name or id.")
    var execution: String
    @Flag(help: "Run the runner here until the execution has ended.")
    var wait = false
    @Option(help: "Output format: text, or json (the execution and its events).")
    var format: TextOrJSON = .text
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap()
        try await withDatabase(database) { conninfo, conn in
            let ledger = ExecutionLedger(conn: conn)
            var record: ExecutionRecord
            do {
                record = try await ledger.requestCancel(idOrName: execution, actor: AuditActor.commandLine().name)
            } catch let error as ExecutionLedgerError {
                StandardError.write("beamsync: \(error)")
                throw ExitCode(1)
            }
            if wait && !record.isTerminal {
                record = try await ExecutionFollower.follow(record, conninfo: conninfo, ledger: ledger,
                                                            environment: ProcessInfo.processInfo.environment,
                                                            format: format, style: TerminalStyle.detect())
            }
            if format == .json {
                ExecutionOutput.print(record, events: try await ledger.events(of: record.id), format: .json)
            } else if record.status == .cancelled && !wait {
                print("Execution \(record.name) cancelled: no runner had started it, so nothing was sent to a backend.")
            } else if !wait {
                print("Cancel requested for \(record.name) (\(record.status.rawValue)); the runner cancels it at its next step.")
                RunnerNote.write(waiting: 1, runners: try await RunnerPresence(conn: conn).activeRunners())
            }
        }
    }
}

/// Resolves the database (starting the embedded one if needed), migrates, runs `body` with the
/// conninfo (for the runner's own connections) and a connection, then cleans up.
private func withDatabase<T>(_ options: DatabaseOptions, _ body: (String, PGConnection) async throws -> T) async throws -> T {
    let (conninfo, embedded) = try await options.resolve()
    let conn = try await PGConnection.connect(conninfo: conninfo)
    do {
        try await Migrator.beamsync.migrateIfPending(conn)
        let value = try await body(conninfo, conn)
        await conn.close()
        if let embedded { try? await embedded.stop() }
        return value
    } catch {
        await conn.close()
        if let embedded { try? await embedded.stop() }
        throw error
    }
}

/// Says, on standard error, that executions wait for a runner when none is connected.
enum RunnerNote {
    static func write(waiting: Int, runners: Int) {
        guard waiting > 0, runners == 0 else { return }
        Notes.warning("no runner is active on this database: \(waiting == 1 ? "this execution waits" : "\(waiting) unfinished executions wait") "
                      + "until `beamsync run` runs (or `beamsync executions cancel --wait` / `create` run one in the foreground)")
    }
}

/// Runs a runner in this process, limited to one execution, until it has ended, printing each
/// recorded step. Other executions are left to `beamsync run`.
enum ExecutionFollower {
    static func follow(_ record: ExecutionRecord, conninfo: String, ledger: ExecutionLedger, environment: [String: String],
                       format: TextOrJSON, style: TerminalStyle) async throws -> ExecutionRecord {
        let runner = ExecutionRunner(conninfo: conninfo, environment: environment, logger: RunnerLogging.logger(), only: record.id)
        var lastEvent: Int64 = 0
        var current = record
        while true {
            for event in try await ledger.events(of: record.id, after: lastEvent) {
                lastEvent = event.id
                if format == .text { print(ExecutionOutput.line(event, style: style)) }
            }
            if current.isTerminal { break }
            if await runner.runOnce() == 0 {
                let wait = try await ledger.get(id: record.id)?.nextPollAt.map { max(0.05, min(1, $0.timeIntervalSinceNow)) } ?? 0.2
                try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
            }
            current = try await ledger.get(id: record.id) ?? current
        }
        await runner.close()
        return current
    }
}

enum ExecutionOutput {
    static func time(_ date: Date) -> String {
        UTCTimestamp(date).iso8601()
    }

    static func line(_ event: ExecutionEvent, style: TerminalStyle) -> String {
        "\(style.paint(time(event.occurredAt), .dim)) \(paint(event.status, style)) \(event.step): \(event.message ?? "")"
    }

    static func paint(_ status: ExecutionStatus, _ style: TerminalStyle) -> String {
        switch status {
        case .completed, .notSubmitted: style.paint(status.rawValue, .green)
        case .failed: style.paint(status.rawValue, .red)
        case .cancelled: style.paint(status.rawValue, .yellow)
        default: style.paint(status.rawValue, .cyan)
        }
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }

    static func json<T: Encodable>(_ value: T) -> String {
        (try? String(decoding: encoder().encode(value), as: UTF8.self)) ?? "null"
    }

    struct Detail: Encodable {
        var execution: ExecutionRecord
        var events: [ExecutionEvent]
    }

    static func print(_ record: ExecutionRecord, events: [ExecutionEvent], format: TextOrJSON) {
        if format == .json {
            Swift.print(json(Detail(execution: record, events: events)))
            return
        }
        let style = TerminalStyle.detect()
        var fields: [(String, String?)] = [
            ("Name", record.name), ("Id", record.id.uuidString.lowercased()), ("Project", record.projectModule),
            ("Status", paint(record.status, style)), ("Step", record.step), ("Submission", record.submissionState.rawValue),
            ("Backend", record.simulated ? "simulated (BEAMPIPE_USE_REAL_BACKENDS was not true)" : record.backend?.rawValue),
            ("Profile", record.profileName.map { "\($0) (revision \(record.deploymentProfileRevision ?? 0), \(record.deploymentProfileID?.uuidString.lowercased() ?? "-"))" }),
            ("Project config", record.projectConfigID?.uuidString.lowercased()),
            ("Graph", (record.graphSHA256 ?? "-") + (record.graphPath.map { " (\($0))" } ?? record.graphURL.map { " (\($0))" } ?? "")),
            ("Submit", record.doSubmit ? "yes" : "no (translate only)"),
            ("Waiting", record.waitingReason),
            ("DALiuGE session", record.daliugeSessionID), ("DALiuGE state", record.daliugeState),
            ("Slurm job", record.slurmJobID), ("Scheduler state", record.schedulerState), ("Remote directory", record.remoteSessionDir),
            ("Submission deadline", record.submissionState == .submitted || record.isTerminal ? nil : record.submissionDeadlineAt.map(time)),
            ("Created", time(record.createdAt) + (record.createdBy.map { " by \($0)" } ?? "")),
            ("Started", record.startedAt.map(time)), ("Completed", record.completedAt.map(time)),
            ("Cancel requested", record.cancelRequestedAt.map(time)),
            ("Last error", record.lastError.map { style.paint($0, .red) }),
        ]
        if let drops = record.failedDrops?.arrayValue, !drops.isEmpty {
            fields.append(("Failed drops", drops.map { "\($0["name"]?.stringValue ?? "?") (\($0["oid"]?.stringValue ?? "?"))" }.joined(separator: ", ")))
        }
        let width = fields.map(\.0.count).max() ?? 0
        for (label, value) in fields {
            guard let value else { continue }
            Swift.print(label.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value)
        }
        if !events.isEmpty {
            Swift.print("\nSteps:")
            for event in events { Swift.print("  " + line(event, style: style)) }
        }
    }

    static func table(header: [String], rows: [[String]], style: TerminalStyle, statusColumn: Int) {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func render(_ cells: [String], paintStatus: Bool) -> String {
            cells.enumerated().map { i, cell in
                let padded = i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                guard paintStatus, i == statusColumn, let status = ExecutionStatus(rawValue: cell) else { return padded }
                return padded.replacingOccurrences(of: cell, with: paint(status, style))
            }.joined(separator: "  ")
        }
        Swift.print(style.paint(render(header, paintStatus: false), .bold))
        for row in rows { Swift.print(render(row, paintStatus: true)) }
    }
}
