import BeamsyncTime
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
    public func delay(afterFailures failures: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let exponent = min(max(failures - 1, 0), 30)
        let raw = Duration.fromSeconds(min(base.inSeconds * pow(2, Double(exponent)), maximum.inSeconds))
        return max(raw.jittered(by: jitter, random: random), .milliseconds(50))
    }
}
