import BeamsyncModel
import BeamsyncPostgres
import Foundation

/// Which part of the inventory to show: a search and a page.
public struct InventoryQuery: Sendable, Equatable {
    public static let defaultPerPage = 50
    public static let maxPerPage = 500
    public static let maxSearchLength = 200

    /// Matched, case-insensitively and as a substring, against kind, name and file path.
    public var search: String?
    /// Only objects that are drifted.
    public var driftedOnly: Bool
    /// 1-based.
    public var page: Int
    public var perPage: Int

    public init(search: String? = nil, driftedOnly: Bool = false, page: Int = 1, perPage: Int = InventoryQuery.defaultPerPage) {
        let trimmed = search?.trimmingCharacters(in: .whitespacesAndNewlines)
        self.search = trimmed?.isEmpty == false ? String(trimmed!.prefix(Self.maxSearchLength)) : nil
        self.driftedOnly = driftedOnly
        self.page = max(1, page)
        self.perPage = min(max(1, perPage), Self.maxPerPage)
    }

    /// The LIKE pattern for `search`, with `%`, `_` and `\` matched literally.
    var likePattern: String? {
        search.map { text in
            var out = "%"
            for c in text {
                if c == "%" || c == "_" || c == "\\" { out.append("\\") }
                out.append(c)
            }
            return out + "%"
        }
    }
}

/// One managed object as the status page lists it.
public struct InventoryRow: Sendable, Equatable {
    public var kind: DocumentKind
    public var name: String
    public var path: String?
    public var line: Int?
    /// The revision that last wrote the object.
    public var appliedRevision: String?
    public var specSHA256: String
    public var appliedAt: Date?
    /// Set when the object is drifted.
    public var drift: DriftedObject?

    public init(kind: DocumentKind, name: String, path: String?, line: Int?, appliedRevision: String?, specSHA256: String, appliedAt: Date?,
                drift: DriftedObject?) {
        self.kind = kind
        self.name = name
        self.path = path
        self.line = line
        self.appliedRevision = appliedRevision
        self.specSHA256 = specSHA256
        self.appliedAt = appliedAt
        self.drift = drift
    }
}

public struct InventoryPage: Sendable, Equatable {
    public var query: InventoryQuery
    public var rows: [InventoryRow]
    /// Objects matching the query (all pages).
    public var total: Int

    public init(query: InventoryQuery, rows: [InventoryRow], total: Int) {
        self.query = query
        self.rows = rows
        self.total = total
    }

    public var pageCount: Int { max(1, (total + query.perPage - 1) / query.perPage) }
}

/// Searches and pages the inventory in SQL, so a page of 10,000 objects costs one page of rows.
public struct InventoryBrowser: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    /// Drifted objects first, then by kind and name.
    public func page(_ query: InventoryQuery) async throws -> InventoryPage {
        let filter = """
            ($1::text IS NULL OR o.name ILIKE $1::text OR o.kind ILIKE $1::text OR o.path ILIKE $1::text)
            AND (NOT $2::boolean OR d.kind IS NOT NULL)
            """
        let pattern = query.likePattern.map(PGValue.text)
        let results = try await conn.pipeline([
            ("""
             SELECT o.kind, o.name, o.path, o.line, o.applied_revision, o.spec_sha256, o.applied_at,
                    d.kind IS NOT NULL AS drifted, d.fields::text AS fields, d.detected_at, d.revision AS drift_revision
             FROM gitops_objects o LEFT JOIN gitops_drift d ON d.kind = o.kind AND d.name = o.name
             WHERE \(filter)
             ORDER BY d.kind IS NULL, o.kind, o.name
             LIMIT $3 OFFSET $4
             """, [pattern, .bool(query.driftedOnly), .int(query.perPage), .int((query.page - 1) * query.perPage)]),
            ("""
             SELECT count(*)::int AS n FROM gitops_objects o LEFT JOIN gitops_drift d ON d.kind = o.kind AND d.name = o.name
             WHERE \(filter)
             """, [pattern, .bool(query.driftedOnly)]),
        ])
        let rows = try results[0].rows.compactMap { row -> InventoryRow? in
            guard let kind = DocumentKind(rawValue: try row.string("kind")) else { return nil }
            let name = try row.string("name")
            var drift: DriftedObject?
            if try row.bool("drifted") {
                let fields = (try? JSONValue.parse(try row.json("fields")))?.arrayValue?.compactMap(\.stringValue) ?? []
                drift = DriftedObject(kind: kind, name: name, fields: fields, detectedAt: try row.optionalDate("detected_at"),
                                      revision: try row.optionalString("drift_revision"))
            }
            return InventoryRow(kind: kind, name: name, path: try row.optionalString("path"), line: try row.optionalInt("line"),
                                appliedRevision: try row.optionalString("applied_revision"), specSHA256: try row.string("spec_sha256"),
                                appliedAt: try row.optionalDate("applied_at"), drift: drift)
        }
        return InventoryPage(query: query, rows: rows, total: try results[1].single().int("n"))
    }
}
