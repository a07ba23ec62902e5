import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import Foundation

/// What an apply wrote.
public struct ApplyResult: Sendable, Equatable, Codable {
    public var created = 0
    public var updated = 0
    public var deleted = 0
    public var triggered = 0
    /// Name → id of each execution created by this apply.
    public var executionIDs: [String: String] = [:]
    /// The change serial after the apply.
    public var serial: Int64 = 0

    public init() {}
}

/// Where the documents of a plan live, recorded with each managed object so that a write the
/// HTTP API refuses can name the repository, branch and file to change instead.
public struct InventorySource: Sendable, Equatable {
    public var url: String
    /// The branch, tag or commit followed; nil for a working directory.
    public var ref: String?
    /// The subdirectory holding profiles/, projects/, executions/ ("" or nil for the root).
    public var subdir: String?

    public init(url: String, ref: String? = nil, subdir: String? = nil) {
        self.url = url
        self.ref = ref
        self.subdir = subdir
    }
}

/// Raised when the database no longer matches what the plan expected; nothing is written.
public struct ApplyConflict: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Writes a plan inside the caller's transaction, in the plan's order: demotions, other profile
/// changes, promotions, project configs, executions, deletions; then the inventory, one audit
/// row per change and the change serial. Bulk rows go through COPY and pipelined statements, not
/// one round trip per object.
public struct PlanApplier: Sendable {
    public var actor: String
    public var revision: String?
    /// nil: the plan's source label stands in for the repository.
    public var inventorySource: InventorySource?

    public init(actor: String, revision: String?, inventorySource: InventorySource? = nil) {
        self.actor = actor
        self.revision = revision
        self.inventorySource = inventorySource
    }

    public func apply(_ plan: Plan, on conn: PGConnection) async throws -> ApplyResult {
        var result = ApplyResult()
        var inventory: [[PGValue?]] = []
        var removedInventory: [(DocumentKind, String)] = []
        var audit: [[PGValue?]] = []
        var createdIDs: [String: String] = [:]

        let profileChanges = plan.changes.filter { $0.kind == .deploymentProfile && $0.action != .noOp }
        // Deleted defaults step down before anything is promoted in their scope.
        let deletionDemotions = profileChanges.filter { $0.action == .delete && $0.defaultTransition == .demote }
        if !deletionDemotions.isEmpty {
            try await run(deletionDemotions.map { c in
                ("UPDATE daliuge_deployment_profile SET is_default = false WHERE uuid = $1::uuid", [PGValue.text(c.liveID!)])
            }, expectingOneRowEach: deletionDemotions)
        }
        for phase: DefaultTransition? in [.demote, nil, .promote] {
            let batch = profileChanges.filter { $0.action != .delete && $0.defaultTransition == phase }
            // Identical rows that are only being adopted keep their revision: ownership lives in the inventory.
            let updates = batch.filter { $0.action == .update && $0.beforeSHA256 != $0.afterSHA256 }
            if updates.count >= bulkUpdateThreshold {
                try await bulkUpdate(updates, on: conn)
            } else {
                try await run(try updates.map(updateStatement), expectingOneRowEach: updates)
            }
            let creates = batch.filter { $0.action == .create }
            if !creates.isEmpty {
                var rows: [[PGValue?]] = []
                for c in creates {
                    let id = UUIDv7.make()
                    createdIDs[c.name] = id
                    rows.append(try profileRow(id: id, c))
                }
                _ = try await conn.copyIn(table: "daliuge_deployment_profile",
                                          columns: ["uuid", "name", "description", "project_module", "is_default", "max_concurrent_executions",
                                                    "translation", "deployment", "revision", "spec_sha256"],
                                          rows: rows)
            }
            result.created += creates.count
            result.updated += batch.filter { $0.action == .update }.count
        }

        for c in plan.changes where c.kind == .projectConfig && c.action != .noOp {
            switch c.action {
            case .create, .update:
                if c.before != nil && c.before == c.after { break }  // adopting an identical config: ownership only
                let spec = try require(c.after, c)
                _ = try await conn.pipeline([
                    ("UPDATE project_configs SET active = false WHERE project_id = $1 AND active", [.text(c.name)]),
                    ("""
                     INSERT INTO project_configs (uuid, project_id, version, spec, spec_sha256, active)
                     VALUES ($1::uuid, $2::text, COALESCE((SELECT max(version) FROM project_configs WHERE project_id = $2::text), 0) + 1, $3::jsonb, $4, true)
                     """, [.text(UUIDv7.make()), .text(c.name), .json(spec.canonicalString), c.afterSHA256.map(PGValue.text)]),
                ])
                if c.action == .create { result.created += 1 } else { result.updated += 1 }
            case .delete:
                // Versions stay for history (executions pin them); the project just has no active config.
                _ = try await conn.query("UPDATE project_configs SET active = false WHERE project_id = $1 AND active", [.text(c.name)])
                result.deleted += 1
            default: break
            }
        }

        let triggers = plan.changes.filter { $0.kind == .execution && $0.action == .trigger }
        if !triggers.isEmpty {
            var statements: [(sql: String, params: [PGValue?])] = []
            var ids: [String] = []
            // Graph contents first (content-addressed): the execution runs exactly these bytes.
            let blobs = triggers.compactMap { c -> (sql: String, params: [PGValue?])? in
                guard let sha = c.graphSHA256, let content = c.graphContent, Data(base64Encoded: content) != nil else { return nil }
                return ("INSERT INTO graph_blobs (sha256, content) VALUES ($1, decode($2, 'base64')) ON CONFLICT (sha256) DO NOTHING",
                        [.text(sha), .text(content)])
            }
            if !blobs.isEmpty { _ = try await conn.pipeline(blobs) }
            for c in triggers {
                let id = UUIDv7.make()
                ids.append(id)
                statements.append(try executionInsert(id: id, c))
            }
            let results = try await conn.pipeline(statements)
            for (i, r) in results.enumerated() where r.affectedRows != 1 {
                throw ApplyConflict(message: "execution '\(triggers[i].name)': its deployment profile no longer resolves (missing, or not global or in project); nothing was applied")
            }
            for (c, id) in zip(triggers, ids) { result.executionIDs[c.name] = id }
            result.triggered = triggers.count
            // Their first step, as the ledger records it for executions created from the CLI.
            let idArray = PGValue.text("{" + ids.joined(separator: ",") + "}")
            _ = try await conn.pipeline([
                ("""
                 INSERT INTO execution_events (execution_id, step, status, detail)
                 SELECT e.uuid, 'created', 'pending',
                        jsonb_build_object('message', format('created by %s from %s with profile ''%s'' (revision %s)', e.created_by,
                                                              coalesce(e.source_revision, 'a working directory'), p.name,
                                                              e.deployment_profile_revision),
                                           'graph_sha256', e.graph_sha256)
                 FROM executions e JOIN daliuge_deployment_profile p ON p.uuid = e.deployment_profile_id
                 WHERE e.uuid = ANY($1::uuid[])
                 ORDER BY e.uuid
                 """, [idArray]),
                ("SELECT pg_notify('\(ExecutionLedger.eventChannel)', id::text || ' pending created') FROM unnest($1::uuid[]) AS id",
                 [idArray]),
            ])
            _ = try await conn.query("SELECT pg_notify('beamsync_executions', $1)", [.text(ids.joined(separator: ","))])
        }

        let deletions = profileChanges.filter { $0.action == .delete }
        try await run(deletions.map { c in
            ("DELETE FROM daliuge_deployment_profile WHERE uuid = $1::uuid AND revision = $2", [PGValue.text(c.liveID!), .int(c.liveRevision ?? 0)])
        }, expectingOneRowEach: deletions)
        result.deleted += deletions.count

        // Profile rows written here carry this transaction's id as their xmin (no savepoints are
        // used); the inventory records it so later plans can trust their hash (see Migration0004).
        let xid = try await conn.query("SELECT pg_current_xact_id()::text::bigint AS xid").single().int64("xid")
        let rowXmin = String(UInt64(xid) % (1 << 32))
        let origin = inventorySource ?? InventorySource(url: plan.source)
        for c in plan.changes where c.action != .noOp || c.reason == .adopted {
            switch c.action {
            case .delete:
                removedInventory.append((c.kind, c.name))
            default:
                let wroteRow = c.kind == .deploymentProfile && (c.action == .create || (c.action == .update && c.beforeSHA256 != c.afterSHA256))
                inventory.append([.text(c.kind.rawValue), .text(c.name), c.origin.map { .text($0.file) },
                                  c.origin?.blobID.map(PGValue.text),
                                  .text(c.afterSHA256 ?? ""), revision.map(PGValue.text), c.afterSHA256.map(PGValue.text),
                                  wroteRow ? .text(rowXmin) : nil, .int(xid), .text(origin.url), origin.ref.map(PGValue.text),
                                  origin.subdir.map(PGValue.text), c.origin.map { .int($0.line) }])
            }
            audit.append([.text(actor), .text(plan.source), .text(auditAction(c)), .text(c.kind.rawValue), .text(c.name),
                          c.beforeSHA256.map(PGValue.text), c.afterSHA256.map(PGValue.text), revision.map(PGValue.text),
                          .json(auditDetail(c, createdID: createdIDs[c.name] ?? result.executionIDs[c.name]).canonicalString)])
        }
        try await writeInventory(inventory, removing: removedInventory, on: conn)
        if !audit.isEmpty {
            _ = try await conn.copyIn(table: "audit_events",
                                      columns: ["actor", "source", "action", "object_kind", "object_name", "before_sha256", "after_sha256", "revision", "detail"],
                                      rows: audit)
        }
        result.serial = try await conn.query("UPDATE beamsync_plan_serial SET serial = serial + 1 WHERE id = 1 RETURNING serial").single().int64("serial")
        return result

        func run(_ statements: [(sql: String, params: [PGValue?])], expectingOneRowEach changes: [ResourceChange]) async throws {
            guard !statements.isEmpty else { return }
            let results = try await conn.pipeline(statements)
            for (i, r) in results.enumerated() where r.affectedRows != 1 {
                throw ApplyConflict(message: "\(changes[i].kind.rawValue) '\(changes[i].name)' changed in the database after it was planned; nothing was applied — plan again")
            }
        }
    }

    private func require(_ value: JSONValue?, _ c: ResourceChange) throws -> JSONValue {
        guard let value else { throw ApplyConflict(message: "plan has no new value for \(c.kind.rawValue) '\(c.name)'") }
        return value
    }

    private func profileColumns(_ c: ResourceChange) throws -> (description: PGValue?, project: PGValue?, isDefault: PGValue, max: PGValue?, translation: PGValue, deployment: PGValue) {
        let spec = try require(c.after, c)
        return (spec["description"]?.stringValue.map(PGValue.text), spec["project_module"]?.stringValue.map(PGValue.text),
                .bool(spec["is_default"]?.boolValue ?? false), spec["max_concurrent_executions"]?.intValue.map { PGValue.int($0) },
                .json((spec["translation"] ?? .object([:])).canonicalString), .json((spec["deployment"] ?? .object([:])).canonicalString))
    }

    private func profileRow(id: String, _ c: ResourceChange) throws -> [PGValue?] {
        let p = try profileColumns(c)
        return [.text(id), .text(c.name), p.description, p.project, p.isDefault, p.max, p.translation, p.deployment, .int(1), c.afterSHA256.map(PGValue.text)]
    }

    /// A malformed plan (an update without its new value) throws: the whole apply rolls back
    /// rather than writing defaults.
    private func updateStatement(_ c: ResourceChange) throws -> (sql: String, params: [PGValue?]) {
        guard let id = c.liveID, let revision = c.liveRevision else {
            throw ApplyConflict(message: "plan has no row id and revision for \(c.kind.rawValue) '\(c.name)'")
        }
        let p = try profileColumns(c)
        return ("""
                UPDATE daliuge_deployment_profile
                SET description = $2, project_module = $3, is_default = $4, max_concurrent_executions = $5,
                    translation = $6::jsonb, deployment = $7::jsonb, spec_sha256 = $8, revision = revision + 1, updated_at = now()
                WHERE uuid = $1::uuid AND revision = $9
                """,
                [.text(id), p.description, p.project, p.isDefault, p.max, p.translation, p.deployment,
                 c.afterSHA256.map(PGValue.text), .int(revision)])
    }

    /// From this many updates on, rows go through COPY and one UPDATE ... FROM instead of one
    /// pipelined statement each (10,000 statements took seconds of server time).
    private var bulkUpdateThreshold: Int { 32 }

    /// Updates many profiles with one statement; each row must still be at its planned revision.
    private func bulkUpdate(_ updates: [ResourceChange], on conn: PGConnection) async throws {
        _ = try await conn.execute("""
            CREATE TEMP TABLE IF NOT EXISTS beamsync_profile_updates
                (uuid UUID, revision INTEGER, description TEXT, project_module TEXT, is_default BOOLEAN,
                 max_concurrent_executions INTEGER, translation JSONB, deployment JSONB, spec_sha256 TEXT)
                ON COMMIT DELETE ROWS;
            TRUNCATE beamsync_profile_updates;
            """)
        let rows: [[PGValue?]] = try updates.map { c in
            guard let id = c.liveID, let revision = c.liveRevision else {
                throw ApplyConflict(message: "plan has no row id and revision for \(c.kind.rawValue) '\(c.name)'")
            }
            let p = try profileColumns(c)
            return [.text(id), .int(Int64(revision)), p.description, p.project, p.isDefault, p.max, p.translation, p.deployment,
                    c.afterSHA256.map(PGValue.text)]
        }
        _ = try await conn.copyIn(table: "beamsync_profile_updates",
                                  columns: ["uuid", "revision", "description", "project_module", "is_default", "max_concurrent_executions",
                                            "translation", "deployment", "spec_sha256"],
                                  rows: rows)
        let updated = try await conn.query("""
            UPDATE daliuge_deployment_profile p
            SET description = u.description, project_module = u.project_module, is_default = u.is_default,
                max_concurrent_executions = u.max_concurrent_executions, translation = u.translation, deployment = u.deployment,
                spec_sha256 = u.spec_sha256, revision = p.revision + 1, updated_at = now()
            FROM beamsync_profile_updates u
            WHERE p.uuid = u.uuid AND p.revision = u.revision
            RETURNING p.uuid::text AS id
            """)
        guard updated.rows.count == updates.count else {
            let done = Set(try updated.rows.map { try $0.string("id") })
            let missed = updates.first { !done.contains($0.liveID ?? "") }
            throw ApplyConflict(message: "\(missed?.kind.rawValue ?? "profile") '\(missed?.name ?? "?")' changed in the database after it was planned; "
                                + "nothing was applied — plan again")
        }
    }

    /// Creates the execution with its profile resolved and pinned in SQL, inside this transaction,
    /// so it sees the profiles this same apply just wrote.
    private func executionInsert(id: String, _ c: ResourceChange) throws -> (sql: String, params: [PGValue?]) {
        let doc = try require(c.after, c)
        let spec = doc["spec"] ?? .object([:])
        let project = spec["project_module"]?.stringValue ?? ""
        let selector: String
        let graph = spec["graph"] ?? .object([:])
        var params: [PGValue?] = [.text(id), .text(c.name), .text(project), revision.map(PGValue.text), c.graphSHA256.map(PGValue.text)]
        if let profileID = spec["deployment_profile_id"]?.stringValue {
            selector = "p.uuid = $6::uuid"
            params.append(.text(profileID))
        } else if let name = spec["deployment_profile_name"]?.stringValue {
            selector = "p.name = $6"
            params.append(.text(name))
        } else {
            // beampipe's resolution: the project's default, else the global default.
            selector = "p.is_default AND $6::text IS NULL"
            params.append(nil)
        }
        params += [graph["path"]?.stringValue.map(PGValue.text), graph["url"]?.stringValue.map(PGValue.text),
                   .bool(spec["do_submit"]?.boolValue ?? true), .text("\(actor) (git)")]
        let sql = """
            INSERT INTO executions (uuid, name, project_module, deployment_profile_id, deployment_profile_revision,
                                    deployment_profile_snapshot, project_config_id, source_revision, graph_sha256, status, submission_state, step,
                                    graph_path, graph_url, do_submit, created_by, next_poll_at)
            SELECT $1::uuid, $2, $3::text, p.uuid, p.revision,
                   jsonb_build_object('id', p.uuid, 'name', p.name, 'description', p.description, 'project_module', p.project_module,
                                      'is_default', p.is_default, 'max_concurrent_executions', p.max_concurrent_executions,
                                      'revision', p.revision, 'spec_sha256', p.spec_sha256,
                                      'translation', p.translation, 'deployment', p.deployment),
                   (SELECT c.uuid FROM project_configs c WHERE c.project_id = $3::text AND c.active),
                   $4, $5, 'pending', 'not_started', 'created', $7, $8, $9, $10, now()
            FROM daliuge_deployment_profile p
            WHERE \(selector) AND (p.project_module IS NULL OR p.project_module = $3::text)
            ORDER BY p.project_module IS NULL ASC, p.created_at DESC
            LIMIT 1
            """
        return (sql, params)
    }

    private func writeInventory(_ rows: [[PGValue?]], removing: [(DocumentKind, String)], on conn: PGConnection) async throws {
        if !removing.isEmpty {
            _ = try await conn.pipeline(removing.map { ("DELETE FROM gitops_objects WHERE kind = $1 AND name = $2", [.text($0.0.rawValue), .text($0.1)]) })
        }
        guard !rows.isEmpty else { return }
        // COPY into a scratch table, then one upsert: fast for 10,000 rows, correct for re-created objects.
        _ = try await conn.execute("""
            CREATE TEMP TABLE IF NOT EXISTS beamsync_inventory_load
                (kind TEXT, name TEXT, path TEXT, blob_id TEXT, spec_sha256 TEXT, applied_revision TEXT, live_hash TEXT,
                 row_xmin TEXT, written_xid BIGINT, source_url TEXT, source_ref TEXT, source_subdir TEXT, line INTEGER)
                ON COMMIT DELETE ROWS
            """)
        _ = try await conn.copyIn(table: "beamsync_inventory_load",
                                  columns: ["kind", "name", "path", "blob_id", "spec_sha256", "applied_revision", "live_hash", "row_xmin", "written_xid",
                                            "source_url", "source_ref", "source_subdir", "line"],
                                  rows: rows)
        _ = try await conn.execute("""
            INSERT INTO gitops_objects (kind, name, path, blob_id, spec_sha256, applied_revision, live_hash, row_xmin, written_xid,
                                        source_url, source_ref, source_subdir, line, applied_at)
            SELECT kind, name, path, blob_id, spec_sha256, applied_revision, live_hash, row_xmin, written_xid,
                   source_url, source_ref, source_subdir, line, now() FROM beamsync_inventory_load
            ON CONFLICT (kind, name) DO UPDATE SET path = EXCLUDED.path, blob_id = EXCLUDED.blob_id, spec_sha256 = EXCLUDED.spec_sha256,
                applied_revision = EXCLUDED.applied_revision, live_hash = EXCLUDED.live_hash, row_xmin = EXCLUDED.row_xmin,
                written_xid = EXCLUDED.written_xid, source_url = EXCLUDED.source_url, source_ref = EXCLUDED.source_ref,
                source_subdir = EXCLUDED.source_subdir, line = EXCLUDED.line, applied_at = now()
            """)
    }

    private func auditAction(_ c: ResourceChange) -> String {
        switch (c.action, c.reason) {
        case (_, .adopted): "adopt"
        case (_, .driftHealed): "heal"
        case (.create, _): "create"
        case (.update, _): c.defaultTransition.map { $0 == .promote ? "update+promote" : "update+demote" } ?? "update"
        case (.delete, _): c.kind == .projectConfig ? "deactivate" : "delete"
        case (.trigger, _): "trigger"
        case (.noOp, _): "no-op"
        }
    }

    private func auditDetail(_ c: ResourceChange, createdID: String?) -> JSONValue {
        var o: [String: JSONValue] = ["fields": .array(c.fieldChanges.map { .string($0.path) })]
        if let f = c.origin?.file { o["path"] = .string(f) }
        if let id = createdID ?? c.liveID { o["id"] = .string(id) }
        return .object(o)
    }
}
