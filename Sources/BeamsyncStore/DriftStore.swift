import BeamsyncModel
import BeamsyncPostgres
import Foundation

/// One managed object that differs from git because of a change made outside it.
public struct DriftedObject: Sendable, Codable, Equatable {
    public var kind: DocumentKind
    public var name: String
    /// Dotted paths of the fields changed outside git (empty when unknown).
    public var fields: [String]
    /// When the drift was first seen (kept while it lasts), and at which revision.
    public var detectedAt: Date?
    public var revision: String?

    public init(kind: DocumentKind, name: String, fields: [String], detectedAt: Date? = nil, revision: String? = nil) {
        self.kind = kind
        self.name = name
        self.fields = fields
        self.detectedAt = detectedAt
        self.revision = revision
    }

    /// `DeploymentProfile/a (deployment.deploy_port)`.
    public var label: String {
        "\(kind.rawValue)/\(name)" + (fields.isEmpty ? "" : " (\(fields.joined(separator: ", ")))")
    }

    enum CodingKeys: String, CodingKey {
        case kind, name, fields, revision, detectedAt = "detected_at"
    }
}

/// Drift as state (`gitops_drift` and the source's count): written by each reconcile that plans,
/// read by the status, the page and the metrics at start-up.
public struct DriftStore: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    /// Replaces the source's drifted objects with `objects` (what the reconcile that just planned
    /// found) and records the count. An object that stays drifted keeps its first detection time.
    /// One pipeline, so one implicit transaction; objects missing from the inventory are skipped.
    public func replace(sourceID: Int64, revision: String?, with objects: [DriftedObject]) async throws {
        let incoming = JSONValue.array(objects.map { o in
            .object(["kind": .string(o.kind.rawValue), "name": .string(o.name), "fields": .array(o.fields.map(JSONValue.string))])
        }).canonicalString
        _ = try await conn.pipeline([
            ("""
             DELETE FROM gitops_drift g WHERE g.source_id = $1 AND NOT EXISTS
                 (SELECT 1 FROM jsonb_to_recordset($2::jsonb) AS i(kind text, name text) WHERE i.kind = g.kind AND i.name = g.name)
             """, [.int(sourceID), .json(incoming)]),
            ("""
             INSERT INTO gitops_drift (kind, name, source_id, fields, revision)
             SELECT i.kind, i.name, $1, i.fields, $3
             FROM jsonb_to_recordset($2::jsonb) AS i(kind text, name text, fields jsonb)
             JOIN gitops_objects o ON o.kind = i.kind AND o.name = i.name
             ON CONFLICT (kind, name) DO UPDATE SET fields = EXCLUDED.fields, source_id = EXCLUDED.source_id
             """, [.int(sourceID), .json(incoming), revision.map(PGValue.text)]),
            ("""
             UPDATE gitops_sources s SET drift_count = n.count, drift_checked_at = now(),
                 drift_transition_at = CASE WHEN s.drift_count IS NULL OR (s.drift_count > 0) <> (n.count > 0) THEN now()
                                            ELSE s.drift_transition_at END
             FROM (SELECT count(*)::int AS count FROM gitops_drift WHERE source_id = $1) n
             WHERE s.id = $1
             """, [.int(sourceID)]),
        ])
    }

    /// The source's drifted objects (or every source's), oldest drift first, at most `limit`.
    public func list(sourceID: Int64? = nil, limit: Int = 100) async throws -> [DriftedObject] {
        try await conn.query("""
            SELECT kind, name, fields::text AS fields, detected_at, revision FROM gitops_drift
            WHERE $1::bigint IS NULL OR source_id = $1::bigint
            ORDER BY detected_at, kind, name LIMIT $2
            """, [sourceID.map { PGValue.int($0) }, .int(max(0, limit))]).rows.compactMap(Self.decode)
    }

    /// Drifted objects of every source, by source (at most `limit` each).
    public func bySource(limit: Int = 100) async throws -> [Int64: [DriftedObject]] {
        var out: [Int64: [DriftedObject]] = [:]
        for row in try await conn.query("""
            SELECT source_id, kind, name, fields::text AS fields, detected_at, revision FROM (
                SELECT *, row_number() OVER (PARTITION BY source_id ORDER BY detected_at, kind, name) AS n FROM gitops_drift
            ) d WHERE n <= $1 ORDER BY source_id, n
            """, [.int(max(0, limit))]).rows {
            guard let object = try Self.decode(row) else { continue }
            out[try row.int64("source_id"), default: []].append(object)
        }
        return out
    }

    /// Drifted objects in the whole inventory (what the drift gauge shows).
    public func total() async throws -> Int {
        try await conn.query("SELECT count(*)::int AS n FROM gitops_drift").single().int("n")
    }

    static func decode(_ row: PGRow) throws -> DriftedObject? {
        guard let kind = DocumentKind(rawValue: try row.string("kind")) else { return nil }
        let fields = (try? JSONValue.parse(try row.json("fields")))?.arrayValue?.compactMap(\.stringValue) ?? []
        return DriftedObject(kind: kind, name: try row.string("name"), fields: fields, detectedAt: try row.optionalDate("detected_at"),
                             revision: try row.optionalString("revision"))
    }
}
