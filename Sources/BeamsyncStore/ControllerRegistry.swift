import BeamsyncPostgres
import BeamsyncTime
import Foundation

/// One controller replica's heartbeat row in `gitops_controllers`.
public struct ControllerHeartbeat: Sendable, Codable, Equatable {
    /// `host:pid`, unique among running replicas.
    public var identity: String
    public var startedAt: Date
    public var heartbeatAt: Date
    /// Whether the replica held the leader lock at its last heartbeat.
    public var leader: Bool
    public var pollIntervalMilliseconds: Int64
    /// Set by the status reader: the heartbeat is older than `Staleness.limit(interval:)`.
    public var stale: Bool

    public init(identity: String, startedAt: Date, heartbeatAt: Date, leader: Bool, pollIntervalMilliseconds: Int64, stale: Bool = false) {
        self.identity = identity
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.leader = leader
        self.pollIntervalMilliseconds = pollIntervalMilliseconds
        self.stale = stale
    }

    enum CodingKeys: String, CodingKey {
        case identity, leader, stale
        case startedAt = "started_at", heartbeatAt = "heartbeat_at", pollIntervalMilliseconds = "poll_interval_ms"
    }
}

/// When a heartbeat (of a replica, or of the leader's pass over a source) counts as stale:
/// three poll intervals plus a minute, so one slow fetch (`--fetch-timeout`, 60 s by default) or a
/// delayed pass never flags a healthy controller, and a stopped one shows within minutes.
public enum Staleness {
    public static let margin: Duration = .seconds(60)
    /// The interval assumed for rows that do not record one (the controller's default).
    public static let defaultInterval: Duration = .seconds(180)

    public static func limit(interval: Duration) -> Duration { interval * 3 + margin }

    public static func isStale(last: Date?, interval: Duration?, now: Date) -> Bool {
        guard let last else { return false }
        return now.timeIntervalSince(last) > limit(interval: interval ?? defaultInterval).inSeconds
    }
}

/// Replica heartbeats: each controller records its identity and its last loop; the leader's is
/// the identity the status shows.
public struct ControllerRegistry: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    /// The heartbeat statement: $1 identity, $2 process start, $3 leader, $4 interval in ms.
    static let upsert = """
        INSERT INTO gitops_controllers (identity, started_at, heartbeat_at, leader, poll_interval_ms)
        VALUES ($1, $2, now(), $3, $4)
        ON CONFLICT (identity) DO UPDATE SET started_at = EXCLUDED.started_at, heartbeat_at = now(),
            leader = EXCLUDED.leader, poll_interval_ms = EXCLUDED.poll_interval_ms
        """

    /// Records a heartbeat (and whether this replica leads) now.
    public func beat(identity: String, startedAt: Date, leader: Bool, interval: Duration) async throws {
        try await conn.query(Self.upsert, [.text(identity), .timestamp(startedAt), .bool(leader), .int(interval.inMilliseconds)])
    }

    /// The replica stopped (graceful shutdown): it no longer leads, and its row goes.
    public func leave(identity: String) async throws {
        try await conn.query("DELETE FROM gitops_controllers WHERE identity = $1", [.text(identity)])
    }

    /// Rows of replicas silent for a week are dropped (they are gone; the page would list them forever).
    public func forgetSilent() async throws {
        try await conn.query("DELETE FROM gitops_controllers WHERE heartbeat_at < now() - interval '7 days'")
    }

    /// Every replica heard from in the last week, with `stale` set against `now`, newest heartbeat first.
    public func all(now: Date) async throws -> [ControllerHeartbeat] {
        try await conn.query("""
            SELECT identity, started_at, heartbeat_at, leader, poll_interval_ms FROM gitops_controllers
            WHERE heartbeat_at >= now() - interval '7 days' ORDER BY heartbeat_at DESC, identity
            """).rows.map { row in
            let heartbeat = try row.date("heartbeat_at")
            let interval = try row.int64("poll_interval_ms")
            return ControllerHeartbeat(identity: try row.string("identity"), startedAt: try row.date("started_at"), heartbeatAt: heartbeat,
                                       leader: try row.bool("leader"), pollIntervalMilliseconds: interval,
                                       stale: Staleness.isStale(last: heartbeat, interval: .milliseconds(interval), now: now))
        }
    }

    /// This process's identity: `host:pid`.
    public static func localIdentity() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : "localhost"
        return "\(host):\(getpid())"
    }
}
