import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// Why a profile request was refused; nothing was written.
public enum ProfileServiceError: Error, Sendable, Equatable {
    /// The body is not JSON.
    case malformedJSON(String)
    /// The profile does not pass the validation profile files go through; every problem.
    case invalid([Diagnostic])
    /// The id in the path is not a UUID.
    case badID(String)
    case write(ProfileWriteError)
}

/// A profile as the API answers it.
public struct RenderedProfile: Sendable {
    public var id: String
    public var json: [UInt8]
    public var etag: String
}

/// Deployment profiles through the HTTP API: the same validation as files (`ProfileRequestBody`),
/// the writes of `ProfileRepository`. The API only ever creates unmanaged profiles; those git
/// manages are refused with the file to change instead.
public struct ProfileService: Sendable {
    public let pool: PGPool
    public let hashes: ProfileHashCache
    /// Told after every committed write; other replicas' caches hear of it through it.
    public let announcer: ProfileChangeAnnouncer

    public init(pool: PGPool, hashes: ProfileHashCache = ProfileHashCache(), announcer: ProfileChangeAnnouncer? = nil) {
        self.pool = pool
        self.hashes = hashes
        self.announcer = announcer ?? ProfileChangeAnnouncer(pool: pool)
    }

    public func list(_ query: ProfileQuery) async throws -> [UInt8] {
        let (rows, total) = try await pool.withConnection { try await ProfileRepository(conn: $0).list(query) }
        let perPage = max(1, min(query.itemsPerPage, ProfileQuery.maxItemsPerPage))
        return try ProfileJSON.renderPage(rows, total: total, page: max(1, query.page), itemsPerPage: perPage, hashes: hashes)
    }

    public func get(id: String) async throws -> RenderedProfile? {
        let uuid = try Self.uuid(id)
        guard let row = try await pool.withConnection({ try await ProfileRepository(conn: $0).get(id: uuid) }) else { return nil }
        return try render(row)
    }

    public func create(body: [UInt8], actor: AuditActor) async throws -> RenderedProfile {
        let profile: DeploymentProfile
        switch ProfileRequestBody.decode(json: body) {
        case .success(let decoded): profile = decoded.profile
        case .failure(let problem): throw Self.error(problem)
        }
        let row = try await writing { try await ProfileRepository(conn: $0).create(profile, actor: actor.name) }
        return try render(row)
    }

    /// A JSON merge patch against the stored profile; the result is validated as a whole.
    public func update(id: String, patch: [UInt8], ifMatch: String?, actor: AuditActor) async throws -> RenderedProfile {
        let uuid = try Self.uuid(id)
        let row = try await writing { conn in
            try await ProfileRepository(conn: conn).update(id: uuid, ifMatch: ifMatch, actor: actor.name) { current in
                switch ProfileRequestBody.merge(base: try current.document(), patch: patch) {
                case .success(let decoded): return decoded.profile
                case .failure(let problem): throw Self.error(problem)
                }
            }
        }
        return try render(row)
    }

    /// Returns the deleted row as it was.
    @discardableResult
    public func delete(id: String, ifMatch: String?, actor: AuditActor) async throws -> RenderedProfile {
        let uuid = try Self.uuid(id)
        let row = try await writing { try await ProfileRepository(conn: $0).delete(id: uuid, ifMatch: ifMatch, actor: actor.name) }
        return try render(row)
    }

    /// Runs a write and announces it once it committed. The pool's sessions may skip the
    /// trigger's notification (`ProfileChangeNotices.announcedAfterCommit`); announcing is right
    /// either way.
    private func writing<T: Sendable>(_ body: (PGConnection) async throws -> T) async throws -> T {
        do {
            let value = try await pool.withConnection(body)
            announcer.announce()
            return value
        } catch let error as ProfileWriteError {
            throw ProfileServiceError.write(error)
        }
    }

    private func render(_ row: ProfileRow) throws -> RenderedProfile {
        RenderedProfile(id: row.id, json: try ProfileJSON.render(row, hashes: hashes), etag: row.etag)
    }

    static func uuid(_ text: String) throws -> UUID {
        guard let uuid = UUID(uuidString: text) else { throw ProfileServiceError.badID(text) }
        return uuid
    }

    static func error(_ problem: RequestBodyProblem) -> ProfileServiceError {
        switch problem {
        case .malformedJSON(let m): .malformedJSON(m)
        case .invalid(let d): .invalid(d)
        }
    }
}
