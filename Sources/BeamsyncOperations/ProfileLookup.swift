import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore

/// Finds one profile by name for the commands that check a target (`dim ping`, `slurm ping`):
/// in the repository at a directory first (as the next apply would write it), else in the database.
public enum ProfileLookup {
    public struct RepositoryResult: Sendable {
        public var profile: Located<DeploymentProfile>?
        /// Errors in the repository's files: a profile in a file that does not parse is not found.
        public var errors: Int
    }

    public static func inRepository(_ directory: String, named name: String) -> RepositoryResult {
        let parsed = ParsedSource(DirectoryTree.snapshot(of: directory))
        let errors = (parsed.snapshot.readDiagnostics + parsed.tree.fileDiagnostics).errors.count
        return RepositoryResult(profile: parsed.tree.profiles.first { $0.value.name == name }, errors: errors)
    }

    /// nil when the database has no such profile (or no beamsync schema yet).
    public static func inDatabase(_ conn: PGConnection, named name: String) async throws -> DeploymentProfile? {
        if try await Migrator.beamsync.pending(conn).count == BeamsyncMigrations.all.count { return nil }
        guard let row = try await LiveStateReader.read(conn).profiles.first(where: { $0.name == name }) else { return nil }
        return try ProfileSnapshot.decode(row.canonicalSpec)
    }
}
