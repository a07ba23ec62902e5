import BeamsyncController
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncServer
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Hummingbird
import Logging
import Testing

let apiTestsEnabled = TestDatabase.isConfigured || TestServices.required

/// One HTTP exchange as the `curl` CLI saw it.
struct CurlResponse: Sendable {
    var status: Int
    /// Lower-case names.
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    func json() throws -> JSONValue { try JSONValue.parse(bytes: body) }
    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Runs the real `curl` (and shell pipelines) without blocking Swift's cooperative threads: the
/// in-process server needs them to answer.
enum Curl {
    static func request(_ method: String, _ url: String, headers: [String: String] = [:], body: String? = nil,
                        timeout: Int = 20) async throws -> CurlResponse {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-curl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var args = ["-s", "-S", "-m", String(timeout), "-X", method, "-D", dir.appendingPathComponent("headers").path,
                    "-o", dir.appendingPathComponent("body").path, "-w", "%{http_code}"]
        for (k, v) in headers.sorted(by: { $0.key < $1.key }) { args += ["-H", "\(k): \(v)"] }
        if let body {
            try Data(body.utf8).write(to: dir.appendingPathComponent("request"))
            args += ["--data-binary", "@" + dir.appendingPathComponent("request").path]
        }
        args.append(url)
        let (code, out, _) = try await run("/usr/bin/curl", args)
        guard code == 0, let status = Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw CurlFailure(message: "curl exited \(code): \(out)")
        }
        var fields: [String: String] = [:]
        let headerText = (try? String(contentsOf: dir.appendingPathComponent("headers"), encoding: .utf8)) ?? ""
        for line in headerText.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }).dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let bytes = (try? Data(contentsOf: dir.appendingPathComponent("body"))).map { [UInt8]($0) } ?? []
        return CurlResponse(status: status, headers: fields, body: bytes)
    }

    /// `bash -c script` with `environment` added; (exit code, stdout, stderr).
    static func shell(_ script: String, environment: [String: String], directory: URL? = nil) async throws -> (Int32, String, String) {
        try await run("/bin/bash", ["-c", script], environment: environment, directory: directory)
    }

    static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:],
                    directory: URL? = nil) async throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let outBox = DataBox(), errBox = DataBox()
        // Both pipes are read to their end before the status is taken: a readability handler can
        // still be delivering the last bytes after the process has ended, and they were lost.
        let code: Int32 = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do { try process.run() } catch { continuation.resume(throwing: error); return }
                let stderrRead = DispatchGroup()
                DispatchQueue.global().async(group: stderrRead) { errBox.append(err.fileHandleForReading.readDataToEndOfFile()) }
                outBox.append(out.fileHandleForReading.readDataToEndOfFile())
                stderrRead.wait()
                process.waitUntilExit()
                continuation.resume(returning: process.terminationStatus)
            }
        }
        return (code, outBox.text, errBox.text)
    }

    struct CurlFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) { lock.withLock { data.append(d) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

/// The whole HTTP server (`BeamsyncHTTP.application`, as `beamsync run` builds it) listening on
/// a free loopback port, against a fresh database.
final class APITestServer: @unchecked Sendable {
    let port: Int
    let conninfo: String
    let database: String
    /// The database it runs on (another replica can be started on it).
    let fresh: FreshDatabase
    let pool: PGPool
    let deps: ServerDependencies
    private let task: Task<Void, any Error>

    var base: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, conninfo: String, fresh: FreshDatabase, pool: PGPool, deps: ServerDependencies, task: Task<Void, any Error>) {
        self.port = port
        self.conninfo = conninfo
        self.database = fresh.name
        self.fresh = fresh
        self.pool = pool
        self.deps = deps
        self.task = task
    }

    static func start(database: FreshDatabase, access: AccessPolicy = AccessPolicy(), limits: ServerLimits = .default,
                      writesPerSecond: Double = 1000, cacheBytes: Int = 1 << 20, versionCheckInterval: Duration = .seconds(1),
                      wake: @escaping @Sendable () async throws -> Void = {}) async throws -> APITestServer {
        let conninfo = database.url
        let pool = PGPool(conninfo: conninfo, overrides: APIDependencies.apiPoolOverrides(applicationName: "api-test"), maxConnections: 4)
        var deps = ServerDependencies(metrics: ControllerMetrics(), secrets: WebhookSecrets(generic: Array("hook".utf8)), wake: wake,
                                      status: { try await pool.withConnection { try await GitOpsStatus.read(conn: $0, leader: true) } },
                                      databaseReady: { true })
        deps.access = access
        deps.limits = limits
        deps.api = .standard(conninfo: conninfo, pool: pool, writesPerSecond: writesPerSecond, cacheBytes: cacheBytes,
                             versionCheckInterval: versionCheckInterval)
        var logger = Logger(label: "api-test")
        // Cancelling the server at the end of a test logs shutdown noise at error level.
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = BeamsyncHTTP.application(deps, host: "127.0.0.1", port: 0, logger: logger, onRunning: { continuation.yield($0) })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw Curl.CurlFailure(message: "the server did not start") }
        return APITestServer(port: port, conninfo: conninfo, fresh: database, pool: pool, deps: deps, task: task)
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
        await pool.close()
    }

    /// A token made through `TokenService`, as `beamsync token create` makes it.
    func token(_ name: String, _ scope: TokenScope, expiresIn: Duration? = nil) async throws -> String {
        let conn = try await PGConnection.connect(conninfo: conninfo)
        defer { Task { await conn.close() } }
        let issued = try await TokenService(conn: conn).create(name: name, scope: scope, expiresIn: expiresIn,
                                                               actor: AuditActor(name: "test"))
        // The server hears of it through NOTIFY; wait until it accepts it.
        _ = try await eventually(5) {
            try await Curl.request("GET", "\(self.base)/api/v2/executions", headers: ["Authorization": "Bearer \(issued.token)"]).status != 401
        }
        return issued.token
    }

    func sql(_ text: String, _ params: [PGValue?] = []) async throws -> PGResult {
        let conn = try await PGConnection.connect(conninfo: conninfo)
        defer { Task { await conn.close() } }
        return try await conn.query(text, params)
    }

    func request(_ method: String, _ path: String, token: String?, body: String? = nil, headers: [String: String] = [:]) async throws -> CurlResponse {
        var h = headers
        if let token { h["Authorization"] = "Bearer \(token)" }
        if body != nil && h["Content-Type"] == nil { h["Content-Type"] = "application/json" }
        return try await Curl.request(method, base + path, headers: h, body: body)
    }
}

/// Runs `body` against a server on a fresh database; the database is dropped afterwards.
func withAPIServer(access: AccessPolicy = AccessPolicy(), limits: ServerLimits = .default, writesPerSecond: Double = 1000,
                   cacheBytes: Int = 1 << 20, wake: @escaping @Sendable () async throws -> Void = {},
                   _ body: (APITestServer) async throws -> Void) async throws {
    try await TestDatabase.withFreshDatabase { database in
        let conn = try await database.connect()
        try await Migrator.beamsync.migrateIfPending(conn)
        await conn.close()
        let server = try await APITestServer.start(database: database, access: access, limits: limits, writesPerSecond: writesPerSecond,
                                                   cacheBytes: cacheBytes, wake: wake)
        do {
            try await body(server)
            await server.stop()
        } catch {
            await server.stop()
            throw error
        }
    }
}

/// Runs `body` with another replica's server on `server`'s database.
func withSecondReplica(of server: APITestServer, versionCheckInterval: Duration = .seconds(1),
                       _ body: (APITestServer) async throws -> Void) async throws {
    let replica = try await APITestServer.start(database: server.fresh, versionCheckInterval: versionCheckInterval)
    do {
        try await body(replica)
        await replica.stop()
    } catch {
        await replica.stop()
        throw error
    }
}

extension APITestServer {
    /// The names `GET /api/v2/deployment-profiles?project_module=PROJECT` lists.
    func listedNames(project: String, token: String) async throws -> [String] {
        try await request("GET", "/api/v2/deployment-profiles?project_module=\(project)", token: token).json()["items"]?
            .arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// A valid REST profile as a JSON body.
func restProfileJSON(_ name: String, project: String? = nil, isDefault: Bool = false, port: Int = 8001) -> String {
    let module = project.map { "\"\($0)\"" } ?? "null"
    return """
        {"name": "\(name)", "project_module": \(module), "is_default": \(isDefault),
         "translation": {"algo": "metis", "num_par": 2},
         "deployment": {"kind": "rest_remote", "deploy_host": "dim.example.org", "deploy_port": \(port)}}
        """
}
