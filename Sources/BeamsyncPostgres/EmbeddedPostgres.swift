import Foundation

/// A private PostgreSQL cluster for when DATABASE_URL is unset: initialised on first use under
/// `$BEAMSYNC_HOME/postgres`, listening only on a Unix socket in that directory (no TCP), with
/// trust authentication for that socket. Start it, connect with the returned conninfo, and stop
/// it at exit; a cluster some other process started is reused and left running.
public final class EmbeddedPostgres: @unchecked Sendable {
    public struct Started: Sendable {
        /// libpq conninfo for the `beamsync` database.
        public let conninfo: String
        /// A line for the caller to print, e.g. "using embedded PostgreSQL at ... (DATABASE_URL is unset)".
        public let message: String
        /// False when an already running cluster was reused; `stop()` then leaves it alone.
        public let startedByThisProcess: Bool
    }

    public static let databaseName = "beamsync"
    public static let superuser = "beamsync"

    /// `$BEAMSYNC_HOME/postgres`: the data directory `data/`, the socket, `postgres.log`.
    public let directory: String
    public let port: Int
    private let environment: [String: String]
    private let binarySearchDirectories: [String]?
    private let thread = BlockingThread(name: "beamsync-embedded-postgres")
    private let lock = NSLock()
    private var startedHere = false  // guarded by `lock`

    /// - Parameters:
    ///   - home: beamsync's data home; default `defaultHome(environment:)`.
    ///   - binarySearchDirectories: where to look for initdb/pg_ctl before PATH; default the
    ///     Debian layout, /usr/lib/postgresql/15/bin first, then other versions (newest first).
    public init(home: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                port: Int = 5432, binarySearchDirectories: [String]? = nil) {
        let base = home ?? Self.defaultHome(environment: environment)
        self.directory = URL(fileURLWithPath: base).appendingPathComponent("postgres").standardizedFileURL.path
        self.environment = environment
        self.port = port
        self.binarySearchDirectories = binarySearchDirectories
    }

    deinit { thread.stop() }

    /// `$BEAMSYNC_HOME`, else `$XDG_DATA_HOME/beamsync`, else `~/.local/share/beamsync`.
    public static func defaultHome(environment: [String: String], isRoot: Bool = geteuid() == 0) -> String {
        if let home = environment["BEAMSYNC_HOME"], !home.isEmpty { return home }
        // As root the server runs as the `postgres` user, which cannot enter /root: use the
        // system's state directory instead of the (private) home directory.
        if isRoot { return "/var/lib/beamsync" }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/beamsync" }
        let user = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return user + "/.local/share/beamsync"
    }

    public var dataDirectory: String { directory + "/data" }
    public var logFile: String { directory + "/postgres.log" }

    /// Initialises the cluster if needed, starts it unless it already runs, creates the
    /// `beamsync` database if absent, and returns how to connect. Prints nothing.
    public func start() async throws -> Started {
        let startedNow = try await thread.run { [self] in try self.startBlocking() }
        if startedNow { lock.withLock { startedHere = true } }
        try await ensureDatabase()
        return Started(conninfo: conninfo(database: Self.databaseName),
                       message: "using embedded PostgreSQL at \(directory) (DATABASE_URL is unset)",
                       startedByThisProcess: startedNow)
    }

    /// Stops the cluster (`pg_ctl stop -m fast`) if, and only if, this object started it.
    public func stop() async throws {
        guard lock.withLock({ startedHere }) else { return }
        try await thread.run { [self] in
            let tools = try self.tools()
            let outcome = try tools.runner.run(tools.pgCtl, ["stop", "-D", self.dataDirectory, "-m", "fast", "-w", "-s"])
            guard outcome.succeeded else { throw EmbeddedPostgresError("pg_ctl stop failed: \(outcome.output)") }
        }
        lock.withLock { startedHere = false }
    }

    /// libpq conninfo for a database of this cluster; values quoted so any path works.
    public func conninfo(database: String) -> String {
        func quoted(_ value: String) -> String {
            "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        return "host=\(quoted(directory)) port=\(port) dbname=\(quoted(database)) user=\(Self.superuser)"
    }

    // MARK: - Blocking steps (on `thread`)

    private struct Tools {
        let initdb: String
        let pgCtl: String
        let runner: ProcessRunner
    }

    /// Returns true when this call started the server.
    private func startBlocking() throws -> Bool {
        let tools = try tools()
        try prepareDirectory(runner: tools.runner)
        // Serialise concurrent beamsync processes sharing this home (initdb must run once).
        let lockFD = open(directory + "/.start.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw EmbeddedPostgresError("cannot open \(directory)/.start.lock: \(String(cString: strerror(errno)))") }
        defer { close(lockFD) }
        flock(lockFD, LOCK_EX)

        if !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            let outcome = try tools.runner.run(tools.initdb, [
                "-D", dataDirectory, "--username=\(Self.superuser)", "--auth=trust",
                "--encoding=UTF8", "--locale=C",
            ])
            guard outcome.succeeded else { throw EmbeddedPostgresError("initdb failed in \(dataDirectory):\n\(outcome.output)") }
        }
        try ensureSettings()
        if FileManager.default.fileExists(atPath: dataDirectory + "/postmaster.pid"),
           try tools.runner.run(tools.pgCtl, ["status", "-D", dataDirectory]).succeeded {
            return false  // already running: reuse it
        }
        // pg_ctl copes with a stale postmaster.pid left by a crash.
        let outcome = try tools.runner.run(tools.pgCtl, ["start", "-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-s"],
                                             daemonizes: true)
        guard outcome.succeeded else {
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8))?.split(separator: "\n").suffix(15).joined(separator: "\n") ?? ""
            throw EmbeddedPostgresError("pg_ctl start failed: \(outcome.output)\nlast lines of \(logFile):\n\(log)")
        }
        return true
    }

    private func tools() throws -> Tools {
        let directories = binarySearchDirectories ?? Self.debianBinaryDirectories(preferring: dataVersion())
        let initdb: String
        let pgCtl: String
        do {
            initdb = try ProcessRunner.locate("initdb", in: directories, environment: environment)
            pgCtl = try ProcessRunner.locate("pg_ctl", in: [URL(fileURLWithPath: initdb).deletingLastPathComponent().path],
                                             environment: environment)
        } catch {
            throw EmbeddedPostgresError("""
                PostgreSQL server programs (initdb, pg_ctl) were not found in \(directories.joined(separator: ", ")) \
                or PATH, and DATABASE_URL is unset, so beamsync wanted to start its own embedded PostgreSQL. \
                Install them with `apt-get install postgresql` (Debian/Ubuntu package), or point beamsync at an \
                existing server with DATABASE_URL (a libpq conninfo string or postgresql://user@host:5432/dbname URI).
                """)
        }
        var childEnvironment = environment
        childEnvironment["LC_ALL"] = "C"
        let runAs = geteuid() == 0 ? "postgres" : nil
        return Tools(initdb: initdb, pgCtl: pgCtl,
                     runner: ProcessRunner(environment: childEnvironment, workingDirectory: directory, runAsUser: runAs))
    }

    /// Debian's layout: version 15 first (what beamsync is tested with), unless an existing
    /// cluster was made by another version, then the others newest first.
    static func debianBinaryDirectories(preferring version: String?) -> [String] {
        let base = "/usr/lib/postgresql"
        let installed = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [])
            .compactMap(Int.init).sorted(by: >).map(String.init)
        var order = [version, "15"].compactMap { $0 } + installed
        var seen = Set<String>()
        order = order.filter { seen.insert($0).inserted }
        return order.map { "\(base)/\($0)/bin" }
    }

    private func dataVersion() -> String? {
        (try? String(contentsOfFile: dataDirectory + "/PG_VERSION", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Creates the directory private to the server's user. As root the server runs as the
    /// `postgres` system user, so that user owns it and must be able to reach it.
    private func prepareDirectory(runner: ProcessRunner) throws {
        let socketPath = directory + "/.s.PGSQL.\(port)"
        if socketPath.utf8.count > 107 {
            throw EmbeddedPostgresError("the socket path \(socketPath) is longer than Unix sockets allow (107 bytes); set BEAMSYNC_HOME to a shorter directory")
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var attributes: [FileAttributeKey: Any] = [.posixPermissions: 0o700]
        if geteuid() == 0 {
            guard let account = getpwnam("postgres") else {
                throw EmbeddedPostgresError("""
                    PostgreSQL refuses to run as root, and the `postgres` system user to run it as does not exist. \
                    Install PostgreSQL with `apt-get install postgresql` (creates that user), or set DATABASE_URL.
                    """)
            }
            attributes[.ownerAccountID] = NSNumber(value: account.pointee.pw_uid)
            attributes[.groupOwnerAccountID] = NSNumber(value: account.pointee.pw_gid)
        }
        try fm.setAttributes(attributes, ofItemAtPath: directory)
        if runner.runAsUser != nil, !(try runner.run("/usr/bin/test", ["-w", directory, "-a", "-x", directory]).succeeded) {
            throw EmbeddedPostgresError("""
                the embedded PostgreSQL runs as the `postgres` user (it refuses to run as root), but that user \
                cannot reach \(directory) (a parent directory is not searchable by others, e.g. /root). \
                Set BEAMSYNC_HOME to a directory it can reach, such as /var/lib/beamsync, or set DATABASE_URL.
                """)
        }
    }

    private static let settingsMarker = "# beamsync embedded settings"

    /// Appends our settings to postgresql.conf once (checked on every start, so a crash right
    /// after initdb can never leave a cluster listening on TCP).
    private func ensureSettings() throws {
        let path = dataDirectory + "/postgresql.conf"
        let current = try String(contentsOfFile: path, encoding: .utf8)
        if current.contains(Self.settingsMarker) { return }
        let socketDirectory = directory.replacingOccurrences(of: "'", with: "''")
        let settings = """

            \(Self.settingsMarker): Unix socket only, in the directory above the data.
            listen_addresses = ''
            unix_socket_directories = '\(socketDirectory)'
            unix_socket_permissions = 0700
            port = \(port)

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
    }

    /// Creates the `beamsync` database unless it exists (another process may race us: fine).
    private func ensureDatabase() async throws {
        let admin = try await connectWithRetry(database: "postgres")
        do {
            let exists = try await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [.text(Self.databaseName)])
            if exists.isEmpty {
                try await admin.execute("CREATE DATABASE \(PGConnection.quoteIdentifier(Self.databaseName))")
            }
        } catch let error as PostgresError where error.sqlState == "42P04" {
            // created concurrently by another process: fine
        }
        await admin.close()
    }

    /// A reused cluster may still be starting up (another process's pg_ctl start): retry briefly.
    private func connectWithRetry(database: String) async throws -> PGConnection {
        var attempt = 0
        while true {
            do {
                return try await PGConnection.connect(conninfo: conninfo(database: database))
            } catch let error as PostgresError where error.kind == .connectionFailed && attempt < 50 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}

public struct EmbeddedPostgresError: Error, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
