import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// One dedicated session that keeps the API's in-memory state exact: it reloads the token table
/// when `beamsync_api_tokens` is notified (and every `reloadInterval` in case a notification was
/// lost while it reconnected), reports every write to profiles or the inventory
/// (`beamsync_profiles_changed`: sent by a statement trigger, or by the API's
/// `ProfileChangeAnnouncer` after its commits), and records when tokens were last used, in one
/// statement per interval.
///
/// Every `versionCheckInterval` it also reads the live version, which every committed profile
/// write moves: a write whose announcement was lost (its process died between commit and
/// announcement) is still reported within that interval.
///
/// While the session is down, `onLive(false)` tells caches to stop answering from memory; after
/// it reconnects everything is reloaded before `onLive(true)`.
public struct APIChangeFeed: Sendable {
    public static let profilesChannel = ProfileChangeNotices.channel

    public let conninfo: String
    public let authenticator: TokenAuthenticator
    public let reloadInterval: Duration
    public let versionCheckInterval: Duration
    public let onProfilesChanged: @Sendable () -> Void
    public let onLive: @Sendable (Bool) -> Void
    public let onError: @Sendable (String) -> Void

    public init(conninfo: String, authenticator: TokenAuthenticator, reloadInterval: Duration = .seconds(30),
                versionCheckInterval: Duration = .seconds(1),
                onProfilesChanged: @escaping @Sendable () -> Void, onLive: @escaping @Sendable (Bool) -> Void,
                onError: @escaping @Sendable (String) -> Void = { _ in }) {
        self.conninfo = conninfo
        self.authenticator = authenticator
        self.reloadInterval = reloadInterval
        self.versionCheckInterval = versionCheckInterval
        self.onProfilesChanged = onProfilesChanged
        self.onLive = onLive
        self.onError = onError
    }

    /// Loads the token table once (before the server accepts requests).
    public func loadTokens() async throws {
        let conn = try await PGConnection.connect(conninfo: conninfo, overrides: ["application_name": "beamsync-api"])
        defer { Task { await conn.close() } }
        try await Migrator.beamsync.migrateIfPending(conn)
        authenticator.replaceAll(try await TokenStore(conn: conn).all())
    }

    /// Runs until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            var conn: PGConnection? = nil
            do {
                let c = try await PGConnection.connect(conninfo: conninfo, overrides: ["application_name": "beamsync-api-listener"])
                conn = c
                try await Migrator.beamsync.migrateIfPending(c)
                try await c.listen(TokenStore.changeChannel)
                try await c.listen(Self.profilesChannel)
                authenticator.replaceAll(try await TokenStore(conn: c).all())
                let versions = SourceStatusStore(conn: c)
                var version = try await versions.liveVersion()
                onProfilesChanged()
                onLive(true)
                var nextReload = ContinuousClock.now + reloadInterval
                var nextVersionCheck = ContinuousClock.now + versionCheckInterval
                while !Task.isCancelled {
                    let wait = min(.seconds(1), max(.zero, nextVersionCheck - ContinuousClock.now))
                    if let note = try await c.waitForNotification(timeout: wait) {
                        // Under a write load notes arrive faster than one wake-up each; whatever
                        // is already there is handled together.
                        var channels: Set<String> = [note.channel]
                        while let more = try await c.waitForNotification(timeout: .zero) { channels.insert(more.channel) }
                        if channels.contains(TokenStore.changeChannel) {
                            authenticator.replaceAll(try await TokenStore(conn: c).all())
                        }
                        if channels.contains(Self.profilesChannel) { onProfilesChanged() }
                    }
                    if ContinuousClock.now >= nextVersionCheck {
                        let current = try await versions.liveVersion()
                        if current != version {
                            version = current
                            onProfilesChanged()
                        }
                        nextVersionCheck = ContinuousClock.now + versionCheckInterval
                    }
                    if ContinuousClock.now >= nextReload {
                        try await TokenStore(conn: c).touch(ids: authenticator.drainUsed(), at: Date())
                        authenticator.replaceAll(try await TokenStore(conn: c).all())
                        nextReload = ContinuousClock.now + reloadInterval
                    }
                }
            } catch {
                if !Task.isCancelled { onError("\(error)") }
            }
            onLive(false)
            if let conn {
                if !conn.isBroken { _ = try? await TokenStore(conn: conn).touch(ids: authenticator.drainUsed(), at: Date()) }
                await conn.close()
            }
            if Task.isCancelled { break }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
