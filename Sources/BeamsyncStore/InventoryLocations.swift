import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres

/// Keeps the inventory's `path`, `line` and `blob_id` where the documents are now. An apply writes
/// them for the objects it changes; a document that only moved (another file, lines added above
/// it) plans no change, so its recorded place is updated here, inside the apply's transaction.
enum InventoryLocations {
    /// Updates the entries of unchanged documents whose place differs from the recorded one; one
    /// statement, sent only when something moved.
    static func refresh(_ plan: Plan, live: LiveState, on conn: PGConnection) async throws {
        var entries: [String: InventoryEntry] = [:]
        entries.reserveCapacity(live.inventory.count)
        for e in live.inventory { entries[e.kind.rawValue + "\t" + e.name] = e }
        var moved: [JSONValue] = []
        for c in plan.changes where c.action == .noOp {
            guard let origin = c.origin, let entry = entries[c.kind.rawValue + "\t" + c.name], entry.isElsewhere(than: origin) else { continue }
            moved.append(.object(["kind": .string(c.kind.rawValue), "name": .string(c.name), "path": .string(origin.file),
                                  "line": .int(Int64(origin.line)), "blob_id": origin.blobID.map(JSONValue.string) ?? .null]))
        }
        guard !moved.isEmpty else { return }
        try await conn.query("""
            UPDATE gitops_objects o SET path = m.path, line = m.line, blob_id = m.blob_id
            FROM jsonb_to_recordset($1::jsonb) AS m(kind text, name text, path text, line int, blob_id text)
            WHERE o.kind = m.kind AND o.name = m.name
            """, [.json(JSONValue.array(moved).canonicalString)])
    }
}
