import BeamsyncController
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncServer
import BeamsyncStore
import Foundation
import Logging

/// The status page with 10,000 managed objects: the real HTTP server on loopback, one request at a
/// time, timed from connect to the last byte (goal: 100 ms).
enum PageBench {
    static let objects = 10_000

    static func run(adminURL: String) async throws {
        print("\nStatus page (10,000 inventory rows, 25 drifted, 20 executions, 20 webhook deliveries; HTTP on loopback):")
        try await withBenchDatabase(adminURL) { conn, url in
            try await populate(conn)
            let pool = PGPool(conninfo: url, overrides: ["application_name": "beamsync-http"], maxConnections: 2)
            var deps = ServerDependencies(
                metrics: ControllerMetrics(), secrets: WebhookSecrets(), wake: {},
                status: { try await pool.withConnection { try await GitOpsStatus.read(conn: $0, leader: true) } },
                databaseReady: { true })
            deps.overview = { query in try await pool.withConnection { try await StatusOverview.read(conn: $0, leader: true, inventory: query) } }
            // As `run --public-status` serves it (a bearer token is one in-memory lookup more).
            deps.access = AccessPolicy(publicStatus: true)
            var logger = Logger(label: "bench")
            logger.logLevel = .critical  // stopping the server at the end logs a cancellation
            let port = try freePort()
            let app = BeamsyncHTTP.application(deps, host: "127.0.0.1", port: port, logger: logger)
            let server = Task { try await app.runService(gracefulShutdownSignals: []) }
            defer { server.cancel() }
            var up = false
            for _ in 0..<200 where !up {
                up = (try? LoopbackGet.fetch(port: port, path: "/healthz"))?.status == 200
                if !up { try await Task.sleep(for: .milliseconds(25)) }
            }
            precondition(up, "the HTTP server did not start on port \(port)")

            let (overview, tRead) = try await timed {
                try await StatusOverview.read(conn: conn, leader: true, inventory: InventoryQuery())
            }
            precondition(overview.inventory.total == objects)
            report("  of which reading the overview (SQL, first page)", tRead, goal: nil)
            for (label, path) in [("GET / (first page of 10,000, drifted first)", "/"),
                                  ("GET /?page=200 (the last page)", "/?page=200"),
                                  ("GET /?q=p0123 (search)", "/?q=p0123"),
                                  ("GET /?per_page=500 (the largest page)", "/?per_page=500")] {
                var times: [Double] = []
                var bytes = 0
                for _ in 0..<25 {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let answer = try LoopbackGet.fetch(port: port, path: path)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    precondition(answer.status == 200, "\(path) answered \(answer.status)")
                    bytes = answer.bytes
                }
                let median = ControllerBench.percentile(times, 0.5)
                report("\(label), median of 25", median, goal: 0.1)
                print(String(format: "    p90 %.1f ms, best %.1f ms, %d KB", ControllerBench.percentile(times, 0.9) * 1000,
                             times.min()! * 1000, bytes / 1024))
            }
            await pool.close()
        }
    }

    /// 10,000 inventory rows (as an apply writes them), a source with ten runs and 25 drifted
    /// objects, two replicas, 20 executions and 20 webhook deliveries.
    static func populate(_ conn: PGConnection) async throws {
        var rows: [[PGValue?]] = []
        rows.reserveCapacity(objects)
        for i in 0..<objects {
            rows.append([.text("DeploymentProfile"), .text(String(format: "p%05d", i)), .text("profiles/p\(i).yaml"), .int(1),
                         .text(SHA256Digest.hex(Array("blob\(i)".utf8))), .text(SHA256Digest.hex(Array("spec\(i)".utf8))),
                         .text(String(repeating: "ab", count: 20))])
        }
        _ = try await conn.copyIn(table: "gitops_objects", columns: ["kind", "name", "path", "line", "blob_id", "spec_sha256", "applied_revision"],
                                  rows: rows)
        let store = SourceStatusStore(conn: conn)
        let source = try await store.register(url: "ssh://git@git.example.org/astro/config.git", branch: "main", path: "")
        _ = try await store.markPass(id: source.id, by: "bench:1", startedAt: Date(), interval: .seconds(180))
        try await store.recordSuccess(id: source.id, revision: String(repeating: "ab", count: 20), liveVersion: 1, reason: .upToDate,
                                      message: "applied", commit: CommitDescription(subject: "10,000 profiles", committedAt: Date()))
        for i in 0..<10 {
            try await store.recordRun(sourceID: source.id, SyncRun(
                revision: String(repeating: "ab", count: 20), startedAt: Date().addingTimeInterval(Double(-i * 180)),
                finishedAt: Date().addingTimeInterval(Double(-i * 180) + 0.4), result: i == 0 ? .applied : .noOp,
                summary: .object(["create": .int(0), "update": .int(1), "delete": .int(0), "trigger": .int(0), "drift": .int(25)]),
                error: nil, trigger: i == 0 ? .webhook : .poll))
        }
        try await DriftStore(conn: conn).replace(sourceID: source.id, revision: String(repeating: "ab", count: 20), with: (0..<25).map {
            DriftedObject(kind: .deploymentProfile, name: String(format: "p%05d", $0 * 397), fields: ["deployment.deploy_port"])
        })
        try await ControllerRegistry(conn: conn).beat(identity: "bench:2", startedAt: Date(), leader: false, interval: .seconds(180))
        for i in 0..<20 {
            try await conn.query("""
                INSERT INTO executions (name, project_module, status, backend, simulated, daliuge_session_id, deployment_profile_revision,
                                        deployment_profile_snapshot, created_at)
                VALUES ($1, 'wallaby', $2, 'rest_remote', false, $3, 1, '{"name": "p00001"}', now() - ($4 || ' minutes')::interval)
                """, [.text("run-\(i)"), .text(i < 2 ? "pending" : "completed"), .text("session-\(i)"), .text(String(i))])
        }
        let log = WebhookDeliveryLog(conn: conn)
        for i in 0..<20 {
            try await log.record(WebhookDelivery(provider: "github", result: "accepted", httpStatus: 202, event: "push", delivery: "d-\(i)"))
        }
    }

    /// A port on 127.0.0.1 that was free a moment ago.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        precondition(bound, "cannot bind a loopback port")
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// One HTTP/1.1 GET over a fresh loopback connection, read to the end (blocking; the bench's own thread).
enum LoopbackGet {
    static func fetch(port: Int, path: String) throws -> (status: Int, bytes: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw CocoaError(.fileReadUnknown) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response.append(contentsOf: chunk[0..<n])
        }
        let head = String(decoding: response.prefix(40), as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, response.count)
    }
}
