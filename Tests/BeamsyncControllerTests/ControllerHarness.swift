import BeamsyncController
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import BeamsyncTime
import Foundation
import Logging

/// A controller on a fresh database, following an `InMemorySource`, on a `ManualWallClock`, and
/// a session of the test's own for reading what the controller recorded.
struct ControllerHarness {
    let source: InMemorySource
    let clock: ManualWallClock
    let controller: Controller
    let metrics: ControllerMetrics
    let database: FreshDatabase
    let conn: PGConnection

    /// Exact backoff for assertions: 10 s, doubling, at most `maximum`, no jitter.
    static func exactBackoff(maximum: Duration = .seconds(15 * 60)) -> Backoff {
        Backoff(base: .seconds(10), maximum: maximum, jitter: 0)
    }

    static func with(interval: Duration = .seconds(180), backoff: Backoff = exactBackoff(),
                     _ body: (ControllerHarness) async throws -> Void) async throws {
        try await TestDatabase.withFreshDatabase { database in
            var options = ControllerOptions()
            options.interval = interval
            options.backoff = backoff
            let source = InMemorySource()
            let clock = ManualWallClock()
            let metrics = ControllerMetrics()
            let controller = Controller(source: source, conninfo: database.url, options: options, metrics: metrics,
                                        logger: Logger(label: "beamsync.controller.test", factory: { _ in SwiftLogNoOpLogHandler() }),
                                        clock: clock)
            let conn = try await database.connect()
            let harness = ControllerHarness(source: source, clock: clock, controller: controller, metrics: metrics, database: database, conn: conn)
            do {
                try await body(harness)
            } catch {
                await controller.close()
                await conn.close()
                throw error
            }
            await controller.close()
            await conn.close()
        }
    }

    var store: SourceStatusStore { SourceStatusStore(conn: conn) }

    /// The followed source's row (the controller creates it on its first reconcile).
    func status() async throws -> SourceStatus {
        let all = try await store.all()
        guard all.count == 1, let only = all.first else { throw UnexpectedSources(count: all.count) }
        return only
    }

    func history() async throws -> [SyncRun] {
        try await store.history(sourceID: try await status().id)
    }

    /// The deploy port of profile `name` as stored, or nil when there is no such profile.
    func port(of name: String) async throws -> Int64? {
        try await conn.query("SELECT (deployment->>'deploy_port')::bigint AS p FROM daliuge_deployment_profile WHERE name = $1",
                             [.text(name)]).first?.optionalInt64("p")
    }

    struct UnexpectedSources: Error, CustomStringConvertible {
        var count: Int
        var description: String { "expected one row in gitops_sources, found \(count)" }
    }
}

/// A valid rest_remote profile.
func restProfile(_ name: String, port: Int) -> String {
    "name: \(name)\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: \(port)}\n"
}

/// A profile that fails validation at profiles/b.yaml line 2 (`num_par` must be at least 1).
let brokenProfile = "name: b\ntranslation: {num_par: 0}\ndeployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: 8001}\n"

/// `date` moved by `seconds` (the clock's times are whole seconds, so comparisons are exact).
func after(_ date: Date, seconds: Double) -> Date { date.addingTimeInterval(seconds) }

/// Polls `condition` every 10 ms of real time until it holds or `seconds` pass. For waiting on
/// the controller's own task; the controller's notion of time is the manual clock.
func eventually(within seconds: Double = 30, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// A stop switch for `Controller.run(shouldStop:)`.
final class StopSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    func stop() { lock.withLock { stopped = true } }
    var isStopped: Bool { lock.withLock { stopped } }
}
