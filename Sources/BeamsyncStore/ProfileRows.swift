import BeamsyncModel
import BeamsyncPostgres
import Foundation

/// Where git keeps a managed object: what to change instead of writing it through the API.
public struct GitOwnership: Sendable, Hashable, Codable {
    /// The repository URL (credentials removed), or the label of a working directory.
    public var repository: String?
    public var branch: String?
    /// The file, relative to the repository root.
    public var path: String?
    /// The line the document starts on.
    public var line: Int?
    /// The commit last applied for this object.
    public var revision: String?

    /// `profiles/a.yaml:3` (or just the path when the line is not known).
    public var location: String {
        guard let path else { return "an unknown file" }
        return line.map { "\(path):\($0)" } ?? path
    }

    enum CodingKeys: String, CodingKey {
        case repository, branch, path, line, revision
    }
}

/// One `daliuge_deployment_profile` row as the API shows it, with its row version (`xmin`) and,
/// when git manages it, where.
public struct ProfileRow: Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String?
    public var projectModule: String?
    public var isDefault: Bool
    public var maxConcurrentExecutions: Int?
    /// The JSONB columns as the server prints them (valid JSON).
    public var translationJSON: String
    public var deploymentJSON: String
    public var revision: Int
    /// RFC 3339 UTC with microseconds.
    public var createdAt: String
    public var updatedAt: String?
    /// The row version: any write by anyone (beamsync, beampipe, psql) changes it.
    public var rowVersion: String
    public var git: GitOwnership?

    public var scope: ProfileScope { projectModule.map(ProfileScope.project) ?? .global }

    /// Strong entity tag: the revision and the row version, so a write that did not bump the
    /// revision (psql) still changes it.
    public var etag: String { "\"\(revision)-\(rowVersion)\"" }

    /// The hashed spec, rebuilt from the columns.
    public func canonicalSpec() throws -> JSONValue {
        DeploymentProfile.canonicalSpec(name: name, description: description, projectModule: projectModule, isDefault: isDefault,
                                        maxConcurrentExecutions: maxConcurrentExecutions,
                                        translation: try JSONValue.parse(translationJSON), deployment: try JSONValue.parse(deploymentJSON))
    }

    /// The row as a profile document (`ProfileRequestBody.document`), the base a merge patch applies to.
    public func document() throws -> JSONValue {
        ProfileRequestBody.document(name: name, description: description, projectModule: projectModule, isDefault: isDefault,
                                    maxConcurrentExecutions: maxConcurrentExecutions,
                                    translation: try JSONValue.parse(translationJSON), deployment: try JSONValue.parse(deploymentJSON))
    }

    /// `2026-12-06 15:04:05.123456` (a UTC timestamp as PostgreSQL prints it with DateStyle ISO,
    /// which every connection sets) as RFC 3339: `2026-12-06T15:04:05.123456Z`. Formatted here
    /// rather than with `to_char`, whose `:MI` pgbench would take for a variable.
    static func rfc3339(_ text: String) -> String {
        text.replacingOccurrences(of: " ", with: "T") + "Z"
    }

    /// The select list for `p` (a profile row with `row_xmin`) and `o` (its inventory entry or NULLs).
    static let columns = """
        p.uuid::text AS id, p.row_xmin::text AS row_xmin, p.name, p.description, p.project_module, p.is_default,
        p.max_concurrent_executions, p.revision, p.translation::text AS translation, p.deployment::text AS deployment,
        (p.created_at AT TIME ZONE 'UTC')::text AS created_at, (p.updated_at AT TIME ZONE 'UTC')::text AS updated_at,
        o.name IS NOT NULL AS managed, o.source_url AS git_repository, o.source_ref AS git_branch,
        CASE WHEN o.source_subdir IS NULL OR o.source_subdir = '' THEN o.path ELSE o.source_subdir || '/' || o.path END AS git_path,
        o.line AS git_line, o.applied_revision AS git_revision
        """

    /// The inventory entry of `p`, looked up per row (an index probe, never a scan of the inventory).
    static let ownershipJoin = """
        LEFT JOIN LATERAL (SELECT * FROM gitops_objects o WHERE o.kind = 'DeploymentProfile' AND o.name = p.name) o ON true
        """

    init(row: PGRow) throws {
        id = try row.string("id")
        rowVersion = try row.string("row_xmin")
        name = try row.string("name")
        description = try row.optionalString("description")
        projectModule = try row.optionalString("project_module")
        isDefault = try row.bool("is_default")
        maxConcurrentExecutions = try row.optionalInt("max_concurrent_executions")
        revision = try row.int("revision")
        translationJSON = try row.json("translation")
        deploymentJSON = try row.json("deployment")
        createdAt = Self.rfc3339(try row.string("created_at"))
        updatedAt = try row.optionalString("updated_at").map(Self.rfc3339)
        if try row.bool("managed") {
            git = GitOwnership(repository: try row.optionalString("git_repository"), branch: try row.optionalString("git_branch"),
                               path: try row.optionalString("git_path"), line: try row.optionalInt("git_line"),
                               revision: try row.optionalString("git_revision"))
        }
    }
}

/// Filters and page of `GET /api/v2/deployment-profiles`.
public struct ProfileQuery: Sendable, Hashable {
    public var projectModule: String?
    public var name: String?
    public var isDefault: Bool?
    /// Only profiles without a project.
    public var globalOnly = false
    public var page = 1
    public var itemsPerPage = ProfileQuery.defaultItemsPerPage

    public static let defaultItemsPerPage = 500
    public static let maxItemsPerPage = 500

    public init(projectModule: String? = nil, name: String? = nil, isDefault: Bool? = nil, globalOnly: Bool = false,
                page: Int = 1, itemsPerPage: Int = ProfileQuery.defaultItemsPerPage) {
        self.projectModule = projectModule
        self.name = name
        self.isDefault = isDefault
        self.globalOnly = globalOnly
        self.page = page
        self.itemsPerPage = itemsPerPage
    }
}

/// An execution that pins a profile (and so keeps it from being deleted).
public struct ExecutionPin: Sendable, Hashable, Codable {
    public var name: String
    public var status: String
}

/// Why a profile write was refused; nothing was written.
public enum ProfileWriteError: Error, Sendable, Equatable {
    case notFound(String)
    /// Another profile already has this name (names are unique across scopes).
    case duplicateName(String, existingID: String)
    /// Git manages this profile (or this name): change it there.
    case gitManaged(name: String, GitOwnership)
    /// Making the profile the default would demote the scope's default, which git manages.
    case defaultHeldByGit(scope: ProfileScope, holder: String, GitOwnership)
    /// `If-Match` names another version than the stored one.
    case preconditionFailed(current: String)
    /// Executions record the profile; beampipe's foreign key has no ON DELETE.
    case pinnedByExecutions(profile: String, executions: [ExecutionPin], total: Int)
    /// A concurrent writer made the same change first (a unique index refused this one).
    case conflict(String)
}
