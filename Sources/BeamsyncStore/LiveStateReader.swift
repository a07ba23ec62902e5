import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres

/// Reads the planner's view of the database in one go (call inside a transaction for a
/// consistent snapshot).
public enum LiveStateReader {
    public static func read(_ conn: PGConnection) async throws -> LiveState {
        let results = try await conn.pipeline([
            ("""
             SELECT uuid::text AS id, name, description, project_module, is_default, max_concurrent_executions,
                    translation::text AS translation, deployment::text AS deployment, revision, spec_sha256,
                    xmin::text AS row_xmin
             FROM daliuge_deployment_profile ORDER BY name
             """, []),
            ("SELECT uuid::text AS id, project_id, version, spec::text AS spec, spec_sha256 FROM project_configs WHERE active ORDER BY project_id", []),
            ("""
             SELECT kind, name, path, line, blob_id, spec_sha256, applied_revision, \(Migration0004.trustedRowXmin) AS row_xmin
             FROM gitops_objects ORDER BY kind, name
             """, []),
            ("SELECT name, project_module, deployment_profile_id::text AS profile_id, status FROM executions ORDER BY name", []),
            ("SELECT serial FROM beamsync_plan_serial WHERE id = 1", []),
        ])
        var live = LiveState()
        live.profiles = try results[0].rows.map { row in
            LiveProfile(id: try row.string("id"), name: try row.string("name"), description: try row.optionalString("description"),
                        projectModule: try row.optionalString("project_module"), isDefault: try row.bool("is_default"),
                        maxConcurrentExecutions: try row.optionalInt("max_concurrent_executions"),
                        translationJSON: try row.json("translation"), deploymentJSON: try row.json("deployment"),
                        revision: try row.int("revision"), storedSHA256: try row.optionalString("spec_sha256"),
                        rowVersion: try row.optionalString("row_xmin"))
        }
        live.projects = try results[1].rows.map { row in
            LiveProjectConfig(id: try row.string("id"), projectID: try row.string("project_id"), version: try row.int("version"),
                              spec: try JSONValue.parse(try row.json("spec")), storedSHA256: try row.optionalString("spec_sha256"))
        }
        live.inventory = try results[2].rows.compactMap { row in
            guard let kind = DocumentKind(rawValue: try row.string("kind")) else { return nil }
            var entry = InventoryEntry(kind: kind, name: try row.string("name"), path: try row.optionalString("path"),
                                       blobID: try row.optionalString("blob_id"), specSHA256: try row.string("spec_sha256"),
                                       appliedRevision: try row.optionalString("applied_revision"), rowVersion: try row.optionalString("row_xmin"))
            entry.line = try row.optionalInt("line")
            return entry
        }
        live.executions = try results[3].rows.map { row in
            let statusText = try row.string("status")
            guard let status = ExecutionStatus(rawValue: statusText) else {
                throw PostgresError.decoding("executions.status has an unknown value")
            }
            return LiveExecution(name: try row.string("name"), projectModule: try row.string("project_module"),
                                 profileID: try row.optionalString("profile_id"), status: status)
        }
        live.serial = try results[4].single().int64("serial")
        return live
    }
}
