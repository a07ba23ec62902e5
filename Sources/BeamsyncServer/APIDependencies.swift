import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import Foundation
import Hummingbird

/// What the API v2 routes need: the application-layer services, the token table, the write
/// rate limit and the list cache.
public struct APIDependencies: Sendable {
    public var profiles: ProfileService
    public var executions: ExecutionService
    public var authenticator: TokenAuthenticator
    public var rateLimiter: WriteRateLimiter
    public var listCache: ResponseCache
    /// Keeps the token table and the cache current; run with the server (nil in tests that
    /// drive the table by hand).
    public var feed: APIChangeFeed?

    public init(profiles: ProfileService, executions: ExecutionService, authenticator: TokenAuthenticator,
                rateLimiter: WriteRateLimiter, listCache: ResponseCache, feed: APIChangeFeed?) {
        self.profiles = profiles
        self.executions = executions
        self.authenticator = authenticator
        self.rateLimiter = rateLimiter
        self.listCache = listCache
        self.feed = feed
    }

    /// The usual wiring over one connection pool: tokens looked up on a miss, the cache fed by
    /// `APIChangeFeed` on its own session, profile writes announced after they commit (open the
    /// pool with `apiPoolOverrides` so that the trigger leaves them to the announcer).
    public static func standard(conninfo: String, pool: PGPool, writesPerSecond: Double, cacheBytes: Int,
                                versionCheckInterval: Duration = .seconds(1),
                                onFeedError: @escaping @Sendable (String) -> Void = { _ in },
                                onAnnouncementError: @escaping @Sendable (String) -> Void = { _ in }) -> APIDependencies {
        let authenticator = TokenAuthenticator(lookup: { keyID in
            try await pool.withConnection { try await TokenStore(conn: $0).find(keyID: keyID) }
        })
        let cache = ResponseCache(maxBytes: cacheBytes)
        let feed = APIChangeFeed(conninfo: conninfo, authenticator: authenticator, versionCheckInterval: versionCheckInterval,
                                 onProfilesChanged: { cache.invalidate() },
                                 onLive: { cache.setLive($0) }, onError: onFeedError)
        let announcer = ProfileChangeAnnouncer(pool: pool, onError: onAnnouncementError)
        return APIDependencies(profiles: ProfileService(pool: pool, announcer: announcer), executions: ExecutionService(pool: pool), authenticator: authenticator,
                               rateLimiter: WriteRateLimiter(perSecond: writesPerSecond), listCache: cache, feed: feed)
    }

    /// The API pool's size unless told otherwise: twice the processors, from 2 to 8. More sessions
    /// than the cores can run at once only queue inside PostgreSQL: on two cores, 8 writing
    /// sessions had a p99 of 56–145 ms where 4 had 8–20 ms, at the same throughput.
    public static func defaultPoolSize(processors: Int) -> Int {
        min(8, max(2, 2 * processors))
    }

    /// Connection overrides for the pool the API runs on.
    public static func apiPoolOverrides(applicationName: String) -> [String: String] {
        ProfileChangeNotices.announcedAfterCommit.merging(["application_name": applicationName]) { $1 }
    }

    /// 429 when `token` has used up its writes.
    func admitWrite(_ token: AuthenticatedToken) throws {
        guard let wait = rateLimiter.admit(token.name) else { return }
        var headers = HTTPFields()
        headers[.retryAfter] = String(wait)
        throw APIError(.tooManyRequests, code: "rate_limited",
                       "token '\(token.name)' sent more than \(Self.rate(rateLimiter.perSecond)) writes per second; retry after \(wait) s",
                       details: ["retry_after_seconds": .int(Int64(wait))], headers: headers)
    }

    static func rate(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
