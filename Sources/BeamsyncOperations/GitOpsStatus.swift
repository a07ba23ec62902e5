import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// The status document: `beamsync status --format json` and `GET /api/v2/gitops/status`.
/// Its JSON contract is in docs/status-json.md.
public struct GitOpsStatus: Sendable, Codable, Equatable {
    /// One followed repository: its condition, revisions and recent runs.
    public struct Source: Sendable, Codable, Equatable {
        public var status: SourceStatus
        /// Newest first, at most `SourceStatusStore.historyLimit`.
        public var history: [SyncRun]
        /// Objects the last completed reconcile found changed outside git (nil before the first one).
        public var drift: Int?

        public init(status: SourceStatus, history: [SyncRun]) {
            self.status = status
            self.history = history
            drift = history.first(where: { $0.result != .failed })?.summary?["drift"]?.intValue.map(Int.init)
        }

        // Flattened: the source's own fields, then `history` and `drift`.
        public init(from decoder: Decoder) throws {
            status = try SourceStatus(from: decoder)
            let c = try decoder.container(keyedBy: Keys.self)
            history = try c.decodeIfPresent([SyncRun].self, forKey: .history) ?? []
            drift = try c.decodeIfPresent(Int.self, forKey: .drift)
        }

        public func encode(to encoder: Encoder) throws {
            try status.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(history, forKey: .history)
            try c.encode(drift, forKey: .drift)
        }

        enum Keys: String, CodingKey { case history, drift }
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

    public var sources: [Source]
    /// Bumped by any write to profiles or project configs (beamsync, beampipe, psql).
    public var liveVersion: Int64
    /// Whether the replica answering leads (absent from the CLI).
    public var leader: Bool?
    public var inventory: Inventory
    /// Executions per status (every status present, zero included).
    public var executions: [String: Int]

    public init(sources: [Source], liveVersion: Int64, leader: Bool?, inventory: Inventory, executions: [String: Int]) {
        self.sources = sources
        self.liveVersion = liveVersion
        self.leader = leader
        self.inventory = inventory
        self.executions = executions
    }

    enum CodingKeys: String, CodingKey {
        case sources, leader, inventory, executions
        case liveVersion = "live_version"
    }

    /// The document of a database without beamsync's schema: no sources, nothing managed.
    public static var empty: GitOpsStatus {
        GitOpsStatus(sources: [], liveVersion: 0, leader: nil, inventory: Inventory(),
                     executions: Dictionary(uniqueKeysWithValues: ExecutionStatus.allCases.map { ($0.rawValue, 0) }))
    }

    /// Reads the document from the database.
    public static func read(conn: PGConnection, leader: Bool? = nil) async throws -> GitOpsStatus {
        let store = SourceStatusStore(conn: conn)
        var sources: [Source] = []
        for s in try await store.all() {
            sources.append(Source(status: s, history: try await store.history(sourceID: s.id)))
        }
        let queries = StatusQueries(conn: conn)
        let kinds = try await queries.inventoryCounts()
        let byStatus = try await queries.executionCounts()
        var executions: [String: Int] = [:]
        for status in ExecutionStatus.allCases { executions[status.rawValue] = byStatus[status] ?? 0 }
        return GitOpsStatus(
            sources: sources, liveVersion: try await store.liveVersion(), leader: leader,
            inventory: Inventory(profiles: kinds[DocumentKind.deploymentProfile.rawValue] ?? 0,
                                 projectConfigs: kinds[DocumentKind.projectConfig.rawValue] ?? 0,
                                 executions: kinds[DocumentKind.execution.rawValue] ?? 0),
            executions: executions)
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
