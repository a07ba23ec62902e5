import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import Foundation

/// Deployment profiles as the HTTP API reads and writes them. Every write is one transaction that:
/// holds the apply lock in shared mode (an apply, which takes it exclusively, never interleaves
/// with an API write), refuses objects git manages, takes beampipe's per-scope default lock
/// (`beampipe:default-profile:<module>`, the key beampipe itself takes) before a default moves,
/// demotes the scope's previous default in the same transaction, checks `If-Match`, and writes
/// one audit row per changed row.
public struct ProfileRepository: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    // MARK: Reads

    /// One page in a stable order (newest first, then by id) and the number of matching rows.
    public func list(_ q: ProfileQuery) async throws -> (rows: [ProfileRow], total: Int) {
        let perPage = max(1, min(q.itemsPerPage, ProfileQuery.maxItemsPerPage))
        let offset = (max(1, q.page) - 1) * perPage
        let filters: [PGValue?] = [q.globalOnly ? nil : q.projectModule.map(PGValue.text), q.name.map(PGValue.text),
                                   q.isDefault.map(PGValue.bool), .bool(q.globalOnly)]
        let result = try await conn.query(Self.listSQL, filters + [.int(perPage), .int(offset)], name: "list deployment profiles")
        let rows = try result.rows.map(ProfileRow.init(row:))
        if let first = result.rows.first { return (rows, try first.int("total")) }
        // Past the last page, or nothing matches: count on its own.
        let total = try await conn.query(Self.countSQL, filters, name: "count deployment profiles").single().int("total")
        return (rows, total)
    }

    static let filter = """
        ($1::text IS NULL OR p.project_module = $1::text) AND ($2::text IS NULL OR p.name = $2::text)
        AND ($3::boolean IS NULL OR p.is_default = $3::boolean) AND (NOT $4::boolean OR p.project_module IS NULL)
        """

    /// The list statement ($1 project_module, $2 name, $3 is_default, $4 global_only, $5 limit,
    /// $6 offset); `beamsync-bench api` runs exactly this text under pgbench as the floor.
    public static let listSQL = """
        SELECT \(ProfileRow.columns), p.total
        FROM (SELECT p.*, p.xmin AS row_xmin, count(*) OVER () AS total FROM daliuge_deployment_profile p
              WHERE \(filter)
              ORDER BY p.created_at DESC, p.uuid DESC LIMIT $5 OFFSET $6) p
        \(ProfileRow.ownershipJoin)
        ORDER BY p.created_at DESC, p.uuid DESC
        """

    static let countSQL = "SELECT count(*) AS total FROM daliuge_deployment_profile p WHERE \(filter)"

    public func get(id: UUID) async throws -> ProfileRow? {
        try await Self.row(id: id, lock: false, on: conn)
    }

    static func row(id: UUID, lock: Bool, on conn: PGConnection) async throws -> ProfileRow? {
        try await conn.query(rowSQL(lock: lock), [.uuid(id)], name: lock ? "lock deployment profile" : "get deployment profile")
            .first.map(ProfileRow.init(row:))
    }

    /// The row `$1` with its inventory entry, locked for update when `lock`.
    static func rowSQL(lock: Bool) -> String {
        """
        SELECT \(ProfileRow.columns)
        FROM (SELECT p.*, p.xmin AS row_xmin FROM daliuge_deployment_profile p WHERE p.uuid = $1\(lock ? " FOR UPDATE" : "")) p
        \(ProfileRow.ownershipJoin)
        """
    }

    // MARK: Writes

    /// Inserts `profile` (already validated). When it is a default, the scope's previous default
    /// is demoted in the same transaction, unless git manages that one.
    public func create(_ profile: DeploymentProfile, actor: String) async throws -> ProfileRow {
        profile.isDefault ? try await createDefault(profile, actor: actor) : try await createNonDefault(profile, actor: actor)
    }

    /// A profile that moves no default needs no scope lock, so the whole write goes to the server
    /// in one round trip: two statements under one Sync are one transaction (the shared apply
    /// lock, then the insert with its audit row unless git manages the name). Refusals are worked
    /// out afterwards, when nothing was written.
    private func createNonDefault(_ profile: DeploymentProfile, actor: String) async throws -> ProfileRow {
        let id = UUID(uuidString: UUIDv7.make())!
        let detail = JSONValue.object(["id": .string(id.lowercased), "fields": .array([])])
        let inserted: PGResult
        do {
            inserted = try await conn.pipeline([
                (Self.shareApplyLockSQL, [.text(ApplyTransaction.applyLockName)]),
                (Self.insertUnlessGitManagedSQL,
                 [.uuid(id)] + Self.columnValues(profile) + [.text(profile.name), .text(actor), .json(detail.canonicalString)]),
            ])[1]
        } catch let error as PostgresError where error.isUniqueViolation {
            try await Self.refuseTakenName(profile.name, except: nil, on: conn)
            throw Self.uniqueViolation(error, name: profile.name)
        }
        if let row = inserted.first { return try ProfileRow(row: row) }
        try await Self.refuseGitManagedName(profile.name, on: conn)
        throw ProfileWriteError.conflict("git managed the name '\(profile.name)' a moment ago and no longer does; send the request again")
    }

    /// $1 uuid, $2–$8 `columnValues`, $9 name, $10 actor, $11 audit detail.
    static let insertUnlessGitManagedSQL = """
        WITH owner AS (SELECT 1 FROM gitops_objects WHERE kind = 'DeploymentProfile' AND name = $9::text),
        p AS (INSERT INTO daliuge_deployment_profile (uuid, description, project_module, is_default, max_concurrent_executions,
                                                      translation, deployment, spec_sha256, name, revision)
              SELECT $1::uuid, $2::text, $3::text, $4::boolean, $5::integer, $6::jsonb, $7::jsonb, $8::text, $9::text, 1
              WHERE NOT EXISTS (SELECT 1 FROM owner)
              RETURNING *, xmin AS row_xmin),
        audit AS (INSERT INTO audit_events (actor, source, action, object_kind, object_name, before_sha256, after_sha256, detail)
                  SELECT $10::text, 'api', 'create', 'DeploymentProfile', p.name, NULL, p.spec_sha256, $11::jsonb FROM p)
        SELECT \(ProfileRow.columns) FROM p
        \(ProfileRow.ownershipJoin)
        """

    private func createDefault(_ profile: DeploymentProfile, actor: String) async throws -> ProfileRow {
        try await conn.transaction { conn in
            try await Self.shareApplyLock(conn)
            try await Self.refuseGitManagedName(profile.name, on: conn)
            try await Self.refuseTakenName(profile.name, except: nil, on: conn)
            try await Self.lockScopes([profile.scope], on: conn)
            try await Self.demoteDefault(of: profile.scope, except: nil, actor: actor, on: conn)
            let id = UUID(uuidString: UUIDv7.make())!
            do {
                try await conn.query("""
                    INSERT INTO daliuge_deployment_profile (uuid, description, project_module, is_default, max_concurrent_executions,
                                                            translation, deployment, spec_sha256, name, revision)
                    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, 1)
                    """, [.uuid(id)] + Self.columnValues(profile) + [.text(profile.name)], name: "insert deployment profile")
            } catch let error as PostgresError where error.isUniqueViolation {
                throw Self.uniqueViolation(error, name: profile.name)
            }
            try await Self.audit(actor: actor, action: "create+promote", name: profile.name, id: id,
                                 before: nil, after: profile.specSHA256, fields: [], on: conn)
            guard let stored = try await Self.row(id: id, lock: false, on: conn) else { throw ProfileWriteError.notFound(id.lowercased) }
            return stored
        }
    }

    /// Changes the profile `id`: `change` turns the current row (locked, and checked against
    /// `ifMatch`) into the new profile, or throws to abandon the write. Returns the row as stored
    /// (unchanged, without a new revision, when the new profile equals the old one).
    public func update(id: UUID, ifMatch: String?, actor: String,
                       _ change: @Sendable (ProfileRow) throws -> DeploymentProfile) async throws -> ProfileRow {
        try await conn.transaction { conn in
            try await Self.shareApplyLock(conn)
            // The scopes whose default may move are locked before the row (beampipe's order:
            // scope lock, then rows), so they are learnt from an unlocked read first; should the
            // row change before it is locked, the scopes are worked out again.
            var lockedScopes = Set<ProfileScope>()
            while true {
                guard let peek = try await Self.row(id: id, lock: false, on: conn) else { throw ProfileWriteError.notFound(id.lowercased) }
                try Self.checkWritable(peek, ifMatch: ifMatch)
                let planned = try change(peek)
                let scopes = Self.defaultScopes(before: peek, after: planned).subtracting(lockedScopes)
                try await Self.lockScopes(scopes, on: conn)
                lockedScopes.formUnion(scopes)
                guard let current = try await Self.row(id: id, lock: true, on: conn) else { throw ProfileWriteError.notFound(id.lowercased) }
                guard current.rowVersion == peek.rowVersion else { continue }
                return try await Self.write(planned, over: current, actor: actor, on: conn)
            }
        }
    }

    /// Deletes the profile `id`, unless git manages it or executions record it. Two round trips:
    /// the row (locked) and the executions that pin it with BEGIN, the delete and its audit row
    /// with COMMIT.
    public func delete(id: UUID, ifMatch: String?, actor: String) async throws -> ProfileRow {
        try await conn.twoStepTransaction(reads: [
            (Self.shareApplyLockSQL, [.text(ApplyTransaction.applyLockName)]),
            (Self.rowSQL(lock: true), [.uuid(id)]),
            (Self.pinsSQL, [.uuid(id)]),
        ]) { results in
            guard let row = results[1].first else { throw ProfileWriteError.notFound(id.lowercased) }
            let current = try ProfileRow(row: row)
            try Self.checkWritable(current, ifMatch: ifMatch)
            if let first = results[2].first {
                throw ProfileWriteError.pinnedByExecutions(
                    profile: current.name,
                    executions: try results[2].rows.map { ExecutionPin(name: try $0.string("name"), status: try $0.string("status")) },
                    total: try first.int("total"))
            }
            return (writes: [
                ("DELETE FROM daliuge_deployment_profile WHERE uuid = $1", [.uuid(id)]),
                Self.auditStatement(actor: actor, action: "delete", name: current.name, id: id,
                                    before: try? SHA256Digest.hex(current.canonicalSpec().canonicalBytes), after: nil, fields: []),
            ], value: current)
        }
    }

    static let pinsSQL = """
        SELECT name, status, count(*) OVER () AS total FROM executions WHERE deployment_profile_id = $1
        ORDER BY created_at DESC, uuid DESC LIMIT 20
        """

    // MARK: Pieces of a write

    private static func write(_ new: DeploymentProfile, over current: ProfileRow, actor: String, on conn: PGConnection) async throws -> ProfileRow {
        let before = try current.canonicalSpec()
        let after = new.canonicalSpec
        if before == after { return current }
        let id = UUID(uuidString: current.id)!
        if new.name != current.name {
            try await refuseGitManagedName(new.name, on: conn)
            try await refuseTakenName(new.name, except: id, on: conn)
        }
        if new.isDefault && (!current.isDefault || new.scope != current.scope) {
            try await demoteDefault(of: new.scope, except: id, actor: actor, on: conn)
        }
        do {
            try await conn.query("""
                UPDATE daliuge_deployment_profile
                SET description = $2, project_module = $3, is_default = $4, max_concurrent_executions = $5,
                    translation = $6::jsonb, deployment = $7::jsonb, spec_sha256 = $8, name = $9,
                    revision = revision + 1, updated_at = now()
                WHERE uuid = $1
                """, [.uuid(id)] + columnValues(new) + [.text(new.name)], name: "update deployment profile")
        } catch let error as PostgresError where error.isUniqueViolation {
            throw uniqueViolation(error, name: new.name)
        }
        let transition = new.isDefault == current.isDefault ? "" : (new.isDefault ? "+promote" : "+demote")
        try await audit(actor: actor, action: "update" + transition, name: new.name, id: id,
                        before: SHA256Digest.hex(before.canonicalBytes), after: new.specSHA256,
                        fields: JSONDiff.fields(before: before, after: after).map(\.path), on: conn)
        guard let stored = try await Self.row(id: id, lock: false, on: conn) else { throw ProfileWriteError.notFound(current.id) }
        return stored
    }

    /// The transaction-scoped lock on `beamsync:apply`, shared: API writes run side by side, an
    /// apply (which takes it exclusively) waits for them and they for it.
    static func shareApplyLock(_ conn: PGConnection) async throws {
        try await conn.query(shareApplyLockSQL, [.text(ApplyTransaction.applyLockName)], name: "share the apply lock")
    }

    static let shareApplyLockSQL = "SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))"

    /// beampipe's lock name for the defaults of one scope.
    public static func defaultLockName(_ scope: ProfileScope) -> String {
        "beampipe:default-profile:" + (scope.projectModule ?? "<global>")
    }

    /// Scope locks in a fixed order, so two writers can never wait for each other in a circle.
    static func lockScopes(_ scopes: Set<ProfileScope>, on conn: PGConnection) async throws {
        for scope in scopes.sorted() {
            try await conn.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [.text(defaultLockName(scope))],
                                 name: "lock the default of a scope")
        }
    }

    /// The scopes whose default a change from `before` to `after` touches.
    static func defaultScopes(before: ProfileRow, after: DeploymentProfile) -> Set<ProfileScope> {
        var scopes = Set<ProfileScope>()
        if before.isDefault && (!after.isDefault || after.scope != before.scope) { scopes.insert(before.scope) }
        if after.isDefault && (!before.isDefault || after.scope != before.scope) { scopes.insert(after.scope) }
        return scopes
    }

    static func checkWritable(_ row: ProfileRow, ifMatch: String?) throws {
        if let git = row.git { throw ProfileWriteError.gitManaged(name: row.name, git) }
        if let ifMatch, !ETagMatch.matches(ifMatch, row.etag) { throw ProfileWriteError.preconditionFailed(current: row.etag) }
    }

    /// A name git manages may not be taken by an API profile, even while its row is missing.
    static func refuseGitManagedName(_ name: String, on conn: PGConnection) async throws {
        let found = try await conn.query("""
            SELECT source_url, source_ref, CASE WHEN source_subdir IS NULL OR source_subdir = '' THEN path
                                                ELSE source_subdir || '/' || path END AS path, line, applied_revision
            FROM gitops_objects WHERE kind = 'DeploymentProfile' AND name = $1
            """, [.text(name)], name: "inventory entry")
        if let row = found.first {
            throw ProfileWriteError.gitManaged(name: name, GitOwnership(
                repository: try row.optionalString("source_url"), branch: try row.optionalString("source_ref"),
                path: try row.optionalString("path"), line: try row.optionalInt("line"), revision: try row.optionalString("applied_revision")))
        }
    }

    static func refuseTakenName(_ name: String, except id: UUID?, on conn: PGConnection) async throws {
        let found = try await conn.query("SELECT uuid::text AS id FROM daliuge_deployment_profile WHERE name = $1 AND ($2::uuid IS NULL OR uuid <> $2::uuid)",
                                         [.text(name), id.map(PGValue.uuid)], name: "profile name in use")
        if let row = found.first { throw ProfileWriteError.duplicateName(name, existingID: try row.string("id")) }
    }

    /// Demotes the default of `scope` (other than `except`), which git must not manage.
    static func demoteDefault(of scope: ProfileScope, except id: UUID?, actor: String, on conn: PGConnection) async throws {
        let holders = try await conn.query("""
            SELECT \(ProfileRow.columns)
            FROM (SELECT p.*, p.xmin AS row_xmin FROM daliuge_deployment_profile p
                  WHERE p.is_default AND p.project_module IS NOT DISTINCT FROM $1::text AND ($2::uuid IS NULL OR p.uuid <> $2::uuid)
                  FOR UPDATE) p
            \(ProfileRow.ownershipJoin)
            """, [scope.projectModule.map(PGValue.text), id.map(PGValue.uuid)], name: "default of a scope").rows.map(ProfileRow.init(row:))
        for holder in holders {
            if let git = holder.git { throw ProfileWriteError.defaultHeldByGit(scope: scope, holder: holder.name, git) }
        }
        for holder in holders {
            var spec = try holder.canonicalSpec()
            let before = SHA256Digest.hex(spec.canonicalBytes)
            if case .object(var o) = spec { o["is_default"] = .bool(false); spec = .object(o) }
            let after = SHA256Digest.hex(spec.canonicalBytes)
            try await conn.query("""
                UPDATE daliuge_deployment_profile SET is_default = false, spec_sha256 = $2, revision = revision + 1, updated_at = now()
                WHERE uuid = $1::uuid
                """, [.text(holder.id), .text(after)], name: "demote the previous default")
            try await audit(actor: actor, action: "update+demote", name: holder.name, id: UUID(uuidString: holder.id)!,
                            before: before, after: after, fields: ["is_default"], on: conn)
        }
    }

    /// description, project_module, is_default, max_concurrent_executions, translation, deployment, spec_sha256.
    static func columnValues(_ p: DeploymentProfile) -> [PGValue?] {
        [p.description.map(PGValue.text), p.projectModule.map(PGValue.text), .bool(p.isDefault), p.maxConcurrentExecutions.map { .int($0) },
         .json(p.translation.json.canonicalString), .json(p.deployment.json.canonicalString), .text(p.specSHA256)]
    }

    static func uniqueViolation(_ error: PostgresError, name: String) -> ProfileWriteError {
        if error.constraint == "uq_daliuge_profile_single_default" {
            return .conflict("another default appeared in the scope while this write ran; send the request again")
        }
        return .conflict("a profile named '\(name)' was created while this write ran; pick another name")
    }

    static func audit(actor: String, action: String, name: String, id: UUID, before: String?, after: String?, fields: [String],
                      on conn: PGConnection) async throws {
        let statement = auditStatement(actor: actor, action: action, name: name, id: id, before: before, after: after, fields: fields)
        try await conn.query(statement.sql, statement.params, name: "audit a profile write")
    }

    static func auditStatement(actor: String, action: String, name: String, id: UUID, before: String?, after: String?,
                               fields: [String]) -> PGConnection.Statement {
        let detail = JSONValue.object(["id": .string(id.lowercased), "fields": .array(fields.map(JSONValue.string))])
        return ("""
            INSERT INTO audit_events (actor, source, action, object_kind, object_name, before_sha256, after_sha256, detail)
            VALUES ($1, 'api', $2, 'DeploymentProfile', $3, $4, $5, $6)
            """, [.text(actor), .text(action), .text(name), before.map(PGValue.text), after.map(PGValue.text), .json(detail.canonicalString)])
    }
}

/// `If-Match` (RFC 9110 §13.1.1): `*` or a list of entity tags, compared strongly.
public enum ETagMatch {
    public static func matches(_ header: String, _ etag: String) -> Bool {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return true }
        return trimmed.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == etag }
    }
}

extension UUID {
    /// As PostgreSQL and beampipe print it.
    var lowercased: String { uuidString.lowercased() }
}
