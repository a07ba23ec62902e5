import Foundation

/// Writes per token: a token bucket per token name, `perSecond` tokens refilled per second up to
/// `burst`. Kept per server process (each replica limits on its own).
public final class WriteRateLimiter: @unchecked Sendable {
    public let perSecond: Double
    public let burst: Double
    private let lock = NSLock()
    private var buckets: [String: (level: Double, at: Double)] = [:]

    public init(perSecond: Double, burst: Double? = nil) {
        self.perSecond = perSecond
        self.burst = max(1, burst ?? perSecond * 2)
    }

    /// nil when the write may go ahead; otherwise the seconds until it may (for `Retry-After`).
    public func admit(_ key: String, now: Double = ProcessInfo.processInfo.systemUptime) -> Int? {
        lock.withLock {
            var bucket = buckets[key] ?? (burst, now)
            bucket.level = min(burst, bucket.level + (now - bucket.at) * perSecond)
            bucket.at = now
            defer { buckets[key] = bucket }
            if bucket.level >= 1 {
                bucket.level -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.level) / perSecond).rounded(.up)))
        }
    }
}
