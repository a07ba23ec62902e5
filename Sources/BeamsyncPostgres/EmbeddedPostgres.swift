import Foundation

/// A private PostgreSQL cluster for when DATABASE_URL is unset: initialised on first use under
/// `$BEAMSYNC_HOME/postgres`, listening only on a Unix socket in that directory (no TCP), with
/// trust authentication for that socket.
///
/// Any number of beamsync processes may share it. Each holds a shared `flock` on `.in-use` while
/// it uses the server; `stop()` gives that up and, when no other process holds one, stops the
/// server. The kernel drops the lock of a process that dies, so a server left running by a killed
/// command (SIGKILL cannot be caught) is recognised by the next command: its `postmaster.pid`
/// names a live `postgres` process of this directory and user, and nobody holds the lock. That
/// command uses it and stops it when it ends. Starting and stopping are serialised by `.start.lock`.
public final class EmbeddedPostgres: @unchecked Sendable {
    public struct Started: Sendable {
        /// libpq conninfo for the `beamsync` database.
        public let conninfo: String
        /// A line for the caller to print, e.g. "using embedded PostgreSQL at ... (DATABASE_URL is unset)".
        public let message: String
        /// False when an already running cluster was joined or taken over.
        public let startedByThisProcess: Bool
        /// The postmaster found running with nobody using it (left by a command that was killed);
        /// this process stops it when it is done.
        public let leftRunningBy: pid_t?
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
    /// The shared lock on `.in-use` while this process uses the server (guarded by `lock`).
    private var use: FileLock?
    /// Held for the whole of a release, so a signal handler and the normal exit path never both stop.
    private let releasing = NSLock()

    /// - Parameters:
    ///   - home: beamsync's data home; default `defaultHome(environment:)`.
    ///   - binarySearchDirectories: where to look for initdb and postgres before PATH; default the
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

    /// Initialises the cluster if needed, starts it unless it already runs (joining a server
    /// another beamsync process uses, or taking over one left running by a killed command),
    /// creates the `beamsync` database if absent, and returns how to connect. Prints nothing.
    public func start() async throws -> Started {
        let outcome = try await thread.run { [self] in try self.startBlocking() }
        try await ensureDatabase()
        var message = "using embedded PostgreSQL at \(directory) (DATABASE_URL is unset)"
        var leftover: pid_t?
        if case .tookOver(let pid) = outcome {
            leftover = pid
            message += "; it was left running (pid \(pid)) by a command that ended without stopping it, "
                + "so this command uses it and stops it when it ends"
        }
        return Started(conninfo: conninfo(database: Self.databaseName), message: message,
                       startedByThisProcess: outcome == .started, leftRunningBy: leftover)
    }

    /// Ends this process's use of the server and stops it (fast shutdown, waiting until it has
    /// stopped) unless another beamsync process still uses it. Does nothing when this process
    /// does not use it.
    public func stop() async throws {
        try await thread.run { [self] in try self.releaseBlocking() }
    }

    /// `stop()` on the calling thread, for a signal handler that must finish before the process
    /// exits. Errors are dropped: the next command finds and stops a server left running.
    public func stopNow() {
        try? releaseBlocking()
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
        let postgres: String
        let setsid: String
        let runner: ProcessRunner
    }

    private enum StartOutcome: Equatable {
        case started
        case joined
        case tookOver(pid_t)
    }

    /// The uid the server runs as: ours, or the `postgres` user's when we are root.
    private func serverOwner() -> uid_t {
        geteuid() == 0 ? (getpwnam("postgres").map { $0.pointee.pw_uid } ?? 0) : geteuid()
    }

    private func startBlocking() throws -> StartOutcome {
        if lock.withLock({ use != nil }) { return .joined }
        let tools = try tools()
        try prepareDirectory(runner: tools.runner)
        // Serialise concurrent beamsync processes sharing this home (initdb must run once; a
        // server is started, joined or stopped by one process at a time).
        let starting = try FileLock(path: directory + "/.start.lock")
        starting.lock(shared: false)

        if !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            try checkReachable(runner: tools.runner)
            let outcome = try tools.runner.run(tools.initdb, [
                "-D", dataDirectory, "--username=\(Self.superuser)", "--auth=trust",
                "--encoding=UTF8", "--locale=C",
            ])
            guard outcome.succeeded else { throw EmbeddedPostgresError("initdb failed in \(dataDirectory):\n\(outcome.output)") }
        }
        try ensureSettings()
        let inUse = try FileLock(path: directory + "/.in-use")
        var outcome = StartOutcome.joined
        switch Postmaster.inspect(dataDirectory: dataDirectory, owner: serverOwner()) {
        case .running(let pid, _):
            // Nobody else holds the in-use lock: the server outlived the command that used it.
            if inUse.tryExclusive() { outcome = .tookOver(pid) }
            try waitUntilReady()
        case .stale(let pid):
            // Its PID was reused by another process: PostgreSQL would refuse to start while the
            // file names a live process, so the file goes (no server of ours runs).
            if Postmaster.isAlive(pid) { try? FileManager.default.removeItem(atPath: Postmaster.pidFile(dataDirectory: dataDirectory)) }
            try startServer(tools)
            outcome = .started
        case .none:
            try startServer(tools)
            outcome = .started
        }
        inUse.lock(shared: true)
        lock.withLock { use = inUse }
        return outcome
    }

    /// Starts the server as `pg_ctl start` does, without pg_ctl's version check (`postgres -V`,
    /// another process) and its wait (which polls every 100 ms): in a new session, so a
    /// terminal's Ctrl-C never reaches it, with no input and its output appended to the log.
    /// Then waits here until the server says it is ready.
    private func startServer(_ tools: Tools) throws {
        let logStart = (try? FileManager.default.attributesOfItem(atPath: logFile)[.size] as? NSNumber)?.uint64Value ?? 0
        let outcome = try tools.runner.run("/bin/sh", [
            "-c", #"exec "$0" -f "$1" -D "$2" </dev/null >>"$3" 2>&1"#, tools.setsid, tools.postgres, dataDirectory, logFile,
        ], daemonizes: true)
        guard outcome.succeeded else {
            throw EmbeddedPostgresError("starting the embedded PostgreSQL failed: \(outcome.output)\nlast lines of \(logFile):\n\(logTail())")
        }
        try waitUntilReady(logFrom: logStart)
    }

    /// Polls `postmaster.pid` until the server there reports `ready` (what `pg_ctl start -w` waits for).
    /// With `logFrom`, a FATAL or PANIC written to the log since that offset ends the wait: the
    /// server gave up before writing its pid file.
    private func waitUntilReady(timeout: TimeInterval = 60, logFrom: UInt64? = nil) throws {
        let deadline = Date().addingTimeInterval(timeout)
        let owner = serverOwner()
        var sawServer = false
        var polls = 0
        while Date() < deadline {
            switch Postmaster.inspect(dataDirectory: dataDirectory, owner: owner) {
            case .running(_, let ready):
                if ready { return }
                sawServer = true
            case .stale, .none:
                if sawServer { throw EmbeddedPostgresError("the embedded PostgreSQL stopped while starting; last lines of \(logFile):\n\(logTail())") }
                if let logFrom, polls % 20 == 19, serverGaveUp(logFrom: logFrom) {
                    throw EmbeddedPostgresError("the embedded PostgreSQL did not start; last lines of \(logFile):\n\(logTail())")
                }
            }
            polls += 1
            usleep(5_000)
        }
        throw EmbeddedPostgresError("the embedded PostgreSQL did not become ready within \(Int(timeout)) s; last lines of \(logFile):\n\(logTail())")
    }

    /// Gives up this process's use; the last user stops the server. Takes `.start.lock` first, so
    /// a release that races a start in this process (a signal handler) waits for it and then
    /// stops what it started.
    private func releaseBlocking() throws {
        releasing.lock()
        defer { releasing.unlock() }
        guard FileManager.default.fileExists(atPath: directory + "/.start.lock") else { return }
        let starting = try FileLock(path: directory + "/.start.lock")
        starting.lock(shared: false)
        guard let inUse = lock.withLock({ () -> FileLock? in defer { use = nil }; return use }) else { return }
        // Exclusive only when no other process holds the in-use lock: then nobody else uses it.
        guard inUse.tryExclusive() else { return }
        try stopServer()
    }

    /// Fast shutdown (SIGINT to the postmaster: sessions end, open transactions roll back), then
    /// waits until the postmaster has exited (it removes its pid file a moment before).
    private func stopServer(timeout: TimeInterval = 60) throws {
        guard case .running(let pid, _) = Postmaster.inspect(dataDirectory: dataDirectory, owner: serverOwner()), pid > 0 else { return }
        guard kill(pid, SIGINT) == 0 else {
            throw EmbeddedPostgresError("cannot stop the embedded PostgreSQL (pid \(pid)): \(String(cString: strerror(errno)))")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !Postmaster.isAlive(pid) { return }
            usleep(5_000)
        }
        throw EmbeddedPostgresError("the embedded PostgreSQL (pid \(pid)) did not stop within \(Int(timeout)) s; see \(logFile)")
    }

    private func serverGaveUp(logFrom offset: UInt64) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: logFile) else { return false }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd() else { return false }
        let text = String(decoding: data, as: UTF8.self)
        return text.contains("FATAL:") || text.contains("PANIC:")
    }

    private func logTail() -> String {
        (try? String(contentsOfFile: logFile, encoding: .utf8))?.split(separator: "\n").suffix(15).joined(separator: "\n") ?? ""
    }

    private func tools() throws -> Tools {
        let directories = binarySearchDirectories ?? Self.debianBinaryDirectories(preferring: dataVersion())
        let initdb: String
        let postgres: String
        do {
            initdb = try ProcessRunner.locate("initdb", in: directories, environment: environment)
            postgres = try ProcessRunner.locate("postgres", in: [URL(fileURLWithPath: initdb).deletingLastPathComponent().path],
                                                environment: environment)
        } catch {
            throw EmbeddedPostgresError("""
                PostgreSQL server programs (initdb, postgres) were not found in \(directories.joined(separator: ", ")) \
                or PATH, and DATABASE_URL is unset, so beamsync wanted to start its own embedded PostgreSQL. \
                Install them with `apt-get install postgresql` (Debian/Ubuntu package), or point beamsync at an \
                existing server with DATABASE_URL (a libpq conninfo string or postgresql://user@host:5432/dbname URI).
                """)
        }
        var childEnvironment = environment
        childEnvironment["LC_ALL"] = "C"
        let runAs = geteuid() == 0 ? "postgres" : nil
        // util-linux, like runuser: on every Debian system.
        let setsid = try ProcessRunner.locate("setsid", in: ["/usr/bin", "/bin"], environment: environment)
        return Tools(initdb: initdb, postgres: postgres, setsid: setsid,
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
    }

    /// Before the first initdb: as root, the `postgres` user must be able to reach the directory.
    private func checkReachable(runner: ProcessRunner) throws {
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

    /// Creates the `beamsync` database unless it exists (another process may race us: fine). The
    /// server is ready when this runs, so one connection to the database answers the question.
    private func ensureDatabase() async throws {
        do {
            await (try await PGConnection.connect(conninfo: conninfo(database: Self.databaseName))).close()
            return
        } catch let error as PostgresError where error.kind == .connectionFailed && error.message.contains("does not exist") {
            // first use of this cluster: create it below
        }
        let admin = try await PGConnection.connect(conninfo: conninfo(database: "postgres"))
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
}

public struct EmbeddedPostgresError: Error, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
