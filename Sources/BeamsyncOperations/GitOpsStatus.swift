import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTime
import Foundation

/// The status document: `beamsync status --format json` and `GET /api/v2/gitops/status`.
/// Its JSON contract is in docs/status-json.md.
public struct GitOpsStatus: Sendable, Codable, Equatable {
    /// One followed repository: its conditions, revisions, drift and recent runs.
    public struct Source: Sendable, Codable, Equatable {
        /// The source's row; `status.status` is `.stale` when the controller has not passed over
        /// the source for too long (`recordedStatus` keeps what was recorded).
        public var status: SourceStatus
        /// Newest first, at most `SourceStatusStore.historyLimit`.
        public var history: [SyncRun]
        /// Managed objects changed outside git, as the last reconcile that planned found them (nil before one).
        public var drift: Int?
        /// Those objects (at most `GitOpsStatus.driftListLimit`), oldest drift first.
        public var driftedObjects: [DriftedObject]
        /// The controller's last pass over the source is older than `Staleness.limit`: whatever it
        /// recorded may no longer hold (a stopped controller reads as stale, not Ready).
        public var stale: Bool
        /// The status as recorded by the last pass.
        public var recordedStatus: ReadyStatus?
        /// `Ready` and `Drifted`, Kubernetes style.
        public var conditions: [Condition]
        /// When the controller is expected to look again (the poll interval, or a failed
        /// revision's backoff; jitter may move it by 10 %). nil while suspended or unknown.
        public var nextPollAt: Date?

        /// `now` (the database's clock) decides staleness; without it nothing is stale.
        public init(status: SourceStatus, history: [SyncRun], driftedObjects: [DriftedObject] = [], now: Date? = nil) {
            self.history = history
            self.driftedObjects = driftedObjects
            // Rows not yet planned since drift became state fall back to the newest completed run's count.
            drift = status.driftCount ?? history.first(where: { $0.result != .failed })?.summary?["drift"]?.intValue.map(Int.init)
            let interval = status.pollIntervalMilliseconds.map { Duration.milliseconds($0) }
            stale = now.map { Staleness.isStale(last: status.lastReconciledAt ?? status.updatedAt, interval: interval, now: $0) } ?? false
            recordedStatus = status.status
            var shown = status
            if stale { shown.status = .stale }
            self.status = shown
            if !status.suspended, let last = status.lastReconciledAt {
                let poll = last.addingTimeInterval((interval ?? Staleness.defaultInterval).inSeconds)
                nextPollAt = status.nextAttemptAt.map { min($0, poll) } ?? poll
            } else {
                nextPollAt = nil
            }
            conditions = [Condition.ready(status, stale: stale, interval: interval), Condition.drifted(status, count: drift, objects: driftedObjects)]
        }

        // Flattened: the source's own fields, then the keys below.
        public init(from decoder: Decoder) throws {
            status = try SourceStatus(from: decoder)
            let c = try decoder.container(keyedBy: Keys.self)
            history = try c.decodeIfPresent([SyncRun].self, forKey: .history) ?? []
            drift = try c.decodeIfPresent(Int.self, forKey: .drift)
            driftedObjects = try c.decodeIfPresent([DriftedObject].self, forKey: .driftedObjects) ?? []
            stale = try c.decodeIfPresent(Bool.self, forKey: .stale) ?? false
            recordedStatus = try c.decodeIfPresent(ReadyStatus.self, forKey: .recordedStatus)
            conditions = try c.decodeIfPresent([Condition].self, forKey: .conditions) ?? []
            nextPollAt = try c.decodeIfPresent(Date.self, forKey: .nextPollAt)
        }

        public func encode(to encoder: Encoder) throws {
            try status.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(history, forKey: .history)
            try c.encode(drift, forKey: .drift)
            try c.encode(driftedObjects, forKey: .driftedObjects)
            try c.encode(stale, forKey: .stale)
            try c.encode(recordedStatus, forKey: .recordedStatus)
            try c.encode(conditions, forKey: .conditions)
            try c.encode(nextPollAt, forKey: .nextPollAt)
        }

        enum Keys: String, CodingKey {
            case history, drift, stale, conditions
            case driftedObjects = "drifted_objects", recordedStatus = "recorded_status", nextPollAt = "next_poll_at"
        }

        /// The condition of `type`, if present.
        public func condition(_ type: Condition.Kind) -> Condition? { conditions.first { $0.type == type } }
    }

    /// Managed objects per kind.
    public struct Inventory: Sendable, Codable, Equatable {
        public var profiles: Int
        public var projectConfigs: Int
        public var executions: Int

        public init(profiles: Int = 0, projectConfigs: Int = 0, executions: Int = 0) {
            self.profiles = profiles
            self.projectConfigs = projectConfigs
            self.executions = executions
        }

        enum CodingKeys: String, CodingKey {
            case profiles, executions
            case projectConfigs = "project_configs"
        }
    }

    /// Drifted objects listed per source (the count is always complete).
    public static let driftListLimit = 100

    public var sources: [Source]
    /// Bumped by any write to profiles or project configs (beamsync, beampipe, psql).
    public var liveVersion: Int64
    /// Whether the replica answering leads (absent from the CLI).
    public var leader: Bool?
    public var inventory: Inventory
    /// Executions per status (every status present, zero included).
    public var executions: [String: Int]
    /// Controller replicas heard from in the last week, newest heartbeat first.
    public var controllers: [ControllerHeartbeat]
    /// The replica that leads, by its last heartbeat (nil when none is fresh).
    public var leaderIdentity: String?
    /// Execution runners connected now (`RunnerPresence`); pending executions wait while it is 0.
    public var runnersActive: Int?
    /// The database's time when the document was read; staleness is judged against it.
    public var generatedAt: Date?

    public init(sources: [Source], liveVersion: Int64, leader: Bool?, inventory: Inventory, executions: [String: Int],
                controllers: [ControllerHeartbeat] = [], leaderIdentity: String? = nil, runnersActive: Int? = nil, generatedAt: Date? = nil) {
        self.sources = sources
        self.liveVersion = liveVersion
        self.leader = leader
        self.inventory = inventory
        self.executions = executions
        self.controllers = controllers
        self.leaderIdentity = leaderIdentity
        self.runnersActive = runnersActive
        self.generatedAt = generatedAt
    }

    enum CodingKeys: String, CodingKey {
        case sources, leader, inventory, executions, controllers
        case liveVersion = "live_version", leaderIdentity = "leader_identity", runnersActive = "runners_active"
        case generatedAt = "generated_at"
    }

    /// The document of a database without beamsync's schema: no sources, nothing managed.
    public static var empty: GitOpsStatus {
        GitOpsStatus(sources: [], liveVersion: 0, leader: nil, inventory: Inventory(),
                     executions: Dictionary(uniqueKeysWithValues: ExecutionStatus.allCases.map { ($0.rawValue, 0) }))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sources = try c.decode([Source].self, forKey: .sources)
        liveVersion = try c.decode(Int64.self, forKey: .liveVersion)
        leader = try c.decodeIfPresent(Bool.self, forKey: .leader)
        inventory = try c.decode(Inventory.self, forKey: .inventory)
        executions = try c.decode([String: Int].self, forKey: .executions)
        controllers = try c.decodeIfPresent([ControllerHeartbeat].self, forKey: .controllers) ?? []
        leaderIdentity = try c.decodeIfPresent(String.self, forKey: .leaderIdentity)
        runnersActive = try c.decodeIfPresent(Int.self, forKey: .runnersActive)
        generatedAt = try c.decodeIfPresent(Date.self, forKey: .generatedAt)
    }

    /// Pending executions wait for a runner and none is connected.
    public var pendingWithoutRunner: Bool { (executions[ExecutionStatus.pending.rawValue] ?? 0) > 0 && runnersActive == 0 }

    /// Reads the document from the database.
    public static func read(conn: PGConnection, leader: Bool? = nil) async throws -> GitOpsStatus {
        let store = SourceStatusStore(conn: conn)
        let queries = StatusQueries(conn: conn)
        let now = try await queries.databaseNow()
        let drifted = try await DriftStore(conn: conn).bySource(limit: driftListLimit)
        var sources: [Source] = []
        for s in try await store.all() {
            sources.append(Source(status: s, history: try await store.history(sourceID: s.id), driftedObjects: drifted[s.id] ?? [], now: now))
        }
        let kinds = try await queries.inventoryCounts()
        let byStatus = try await queries.executionCounts()
        var executions: [String: Int] = [:]
        for status in ExecutionStatus.allCases { executions[status.rawValue] = byStatus[status] ?? 0 }
        let controllers = try await ControllerRegistry(conn: conn).all(now: now)
        return GitOpsStatus(
            sources: sources, liveVersion: try await store.liveVersion(), leader: leader,
            inventory: Inventory(profiles: kinds[DocumentKind.deploymentProfile.rawValue] ?? 0,
                                 projectConfigs: kinds[DocumentKind.projectConfig.rawValue] ?? 0,
                                 executions: kinds[DocumentKind.execution.rawValue] ?? 0),
            executions: executions, controllers: controllers,
            leaderIdentity: controllers.first { $0.leader && !$0.stale }?.identity,
            runnersActive: try await RunnerPresence(conn: conn).activeRunners(), generatedAt: now)
    }

    /// The JSON the CLI prints and the API serves: sorted keys, ISO 8601 times.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ bytes: [UInt8]) throws -> GitOpsStatus {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(GitOpsStatus.self, from: Data(bytes))
    }
}
