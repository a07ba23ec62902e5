import Foundation

extension PGConnection {
    /// Calls made to the server by every connection of this process so far (statements, and
    /// waits for notifications): one per `query`, `execute`, transaction BEGIN/COMMIT and so on.
    /// For metrics and benchmarks.
    public static var callsMade: Int { PGCallCounter.shared.value }
}

final class PGCallCounter: @unchecked Sendable {
    static let shared = PGCallCounter()
    private let lock = NSLock()
    private var count = 0

    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
