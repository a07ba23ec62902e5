import Foundation
import Hummingbird

/// Finished list responses, keyed by their normalised query, valid until the next write to
/// profiles or the inventory. Every such write, by any process, notifies `beamsync_profiles_changed`
/// (an apply, beampipe or psql through a statement trigger; an API replica after its commit, through
/// `ProfileChangeAnnouncer`); `APIChangeFeed` passes that on as `invalidate()` (and so does its
/// once-a-second live-version check, should a notification never come), and this server's own
/// writes invalidate before they answer. A write by another process is therefore seen as soon as
/// its notification arrives (a few milliseconds after its commit). While the feed's session is
/// down nothing is answered from here. A response computed across an invalidation is not kept
/// (generations).
public final class ResponseCache: @unchecked Sendable {
    public let maxBytes: Int
    private let lock = NSLock()
    private var generation: UInt64 = 0
    private var live = false
    private var entries: [String: ByteBuffer] = [:]
    private var bytes = 0

    /// `maxBytes` 0 turns the cache off.
    public init(maxBytes: Int) { self.maxBytes = maxBytes }

    public var isEnabled: Bool { maxBytes > 0 }

    /// The cached response, or the generation to store a freshly computed one under.
    public func lookup(_ key: String) -> (hit: ByteBuffer?, generation: UInt64?) {
        guard maxBytes > 0 else { return (nil, nil) }
        return lock.withLock {
            guard live else { return (nil, nil) }
            return (entries[key], generation)
        }
    }

    public func store(_ key: String, _ body: ByteBuffer, generation: UInt64?) {
        guard let generation, body.readableBytes <= maxBytes / 4 else { return }
        lock.withLock {
            guard live, generation == self.generation else { return }
            if bytes + body.readableBytes > maxBytes {
                entries.removeAll()
                bytes = 0
            }
            bytes += body.readableBytes - (entries[key]?.readableBytes ?? 0)
            entries[key] = body
        }
    }

    public func invalidate() {
        lock.withLock {
            generation &+= 1
            entries.removeAll()
            bytes = 0
        }
    }

    /// Whether changes are being followed; the cache answers only while they are.
    public func setLive(_ value: Bool) {
        lock.withLock {
            generation &+= 1
            entries.removeAll()
            bytes = 0
            live = value
        }
    }

    public var entryCount: Int { lock.withLock { entries.count } }
}
