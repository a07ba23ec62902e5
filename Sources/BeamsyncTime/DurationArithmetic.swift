/// The conversions and jitter every module needs, written once.
extension Duration {
    /// The duration in seconds, with its fraction.
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Whole milliseconds, rounded down (never negative).
    public var inMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// A duration of `seconds`, rounded to the millisecond.
    public static func fromSeconds(_ seconds: Double) -> Duration {
        .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// This duration scaled by a random factor in `1 ± fraction` (never below 5 % of it), so
    /// replicas, sources and pollers do not act in lockstep. `random` is a draw from `0..<1`,
    /// injected so tests can fix it.
    public func jittered(by fraction: Double, random: Double = Double.random(in: 0..<1)) -> Duration {
        self * max(0.05, 1 + fraction * (2 * random - 1))
    }
}
