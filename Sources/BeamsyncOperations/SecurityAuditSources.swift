import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore

/// Where `security check` finds the profiles to check.
extension SecurityAuditInput {
    /// The profiles of the repository at `directory` that parse; files that do not are reported
    /// as one finding (run `validate` for the details).
    public mutating func addRepository(_ directory: String) async {
        let parsed = ParsedSource(DirectoryTree.snapshot(of: directory))
        for located in parsed.tree.profiles {
            let file = parsed.snapshot.displayPrefix + located.origin.location.description
            profiles.append(Profile(located.value, source: file))
        }
        let errors = (parsed.snapshot.readDiagnostics + parsed.tree.fileDiagnostics).errors
        if let unreadable = errors.first(where: { $0.location == nil }) {
            findings.append(AuditFinding(.error, .repositoryInvalid, subject: directory, problem: unreadable.message,
                                         fix: unreadable.hint ?? "check the path"))
        } else if !errors.isEmpty {
            let files = Set(errors.compactMap { $0.location?.file }).count
            findings.append(AuditFinding(.error, .repositoryInvalid, subject: directory,
                                         problem: "\(errors.count) error\(errors.count == 1 ? "" : "s") in \(files) file\(files == 1 ? "" : "s"); "
                                             + "documents that do not parse were not checked",
                                         fix: "run `beamsync validate \(directory)` and correct them"))
        }
    }

    /// The profiles the database holds. A database without beamsync's schema holds none; one whose
    /// schema is behind this beamsync is reported, not migrated (the check writes nothing).
    public mutating func addDatabase(_ conn: PGConnection) async throws {
        let pending = try await Migrator.beamsync.pending(conn)
        if pending.count == BeamsyncMigrations.all.count { return }
        guard pending.isEmpty else {
            findings.append(AuditFinding(.warning, .databaseSchemaOutdated, subject: "database",
                                         problem: "the schema is at an older version than this beamsync reads, so its profiles were not checked",
                                         fix: "run `beamsync migrate` (or any plan or apply) first"))
            return
        }
        let live = try await LiveStateReader.read(conn)
        for row in live.profiles.sorted(by: { $0.name < $1.name }) {
            do {
                profiles.append(Profile(try ProfileSnapshot.decode(row.canonicalSpec), source: "database"))
            } catch {
                findings.append(AuditFinding(.warning, .databaseProfileUnreadable, subject: "profile \(row.name) (database)",
                                             problem: "the row is not a valid deployment profile, so it was not checked (\(error))",
                                             fix: "correct or delete the row through beampipe, or manage the profile in git"))
            }
        }
    }
}
