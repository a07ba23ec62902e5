import ArgumentParser
import BeamsyncModel
import BeamsyncOperations

/// How `dim ping` and `slurm ping` find the profile they check: in the repository at `--dir`
/// (uncommitted edits included) when given, else in the database; the same rule for both.
enum TargetProfile {
    static func find(_ name: String, dir: String?, database: DatabaseOptions) async throws -> DeploymentProfile {
        do {
            if let dir { return try await ProfileLookup.directory(dir, name: name) }
            let session = try await database.connect()
            do {
                let found = try await ProfileLookup.database(session.conn, name: name)
                await session.close()
                return found
            } catch {
                await session.close()
                throw error
            }
        } catch let error as ProfileLookupError {
            if !error.diagnostics.isEmpty { reportLoadFailure(error.diagnostics) }
            StandardError.write("beamsync: \(error)")
            throw ExitCode(1)
        }
    }
}
