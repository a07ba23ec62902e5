import Foundation

/// Exponential backoff with jitter for failed revisions: never a hot loop, never an endless wait.
public struct Backoff: Sendable {
    public var base: Duration
    public var maximum: Duration
    /// Fraction of the delay added or removed at random (0.2 = ±20 %).
    public var jitter: Double

    public init(base: Duration = .seconds(5), maximum: Duration = .seconds(15 * 60), jitter: Double = 0.2) {
        self.base = base
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The wait after the `failures`-th consecutive failure (1 = first failure).
    public func delay<R: RandomNumberGenerator>(afterFailures failures: Int, using rng: inout R) -> Duration {
        let exponent = min(max(failures - 1, 0), 30)
        let raw = min(seconds(base) * pow(2, Double(exponent)), seconds(maximum))
        let factor = 1 + Double.random(in: -jitter...jitter, using: &rng)
        return .milliseconds(Int64(max(raw * factor, 0.05) * 1000))
    }

    public func delay(afterFailures failures: Int) -> Duration {
        var rng = SystemRandomNumberGenerator()
        return delay(afterFailures: failures, using: &rng)
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// Poll interval with jitter, so replicas and sources do not poll in lockstep.
public func jittered(_ interval: Duration, by fraction: Double = 0.1) -> Duration {
    let ms = Double(interval.components.seconds) * 1000 + Double(interval.components.attoseconds) / 1e15
    return .milliseconds(Int64(ms * (1 + Double.random(in: -fraction...fraction))))
}
