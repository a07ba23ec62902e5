import Foundation

/// The time as the controller and the runner see it. Production uses `SystemWallClock`; tests
/// drive a `ManualWallClock` so backoff and schedules are checked without waiting for them.
public protocol WallClock: Sendable {
    func now() -> Date
    /// Returns after `duration` of this clock's time, or throws `CancellationError`.
    func sleep(for duration: Duration) async throws
}

public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// A clock that moves only when told to. Sleepers wake when `advance` passes their deadline.
public final class ManualWallClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    private var sleepers: [(deadline: Date, id: UInt64, continuation: CheckedContinuation<Void, Error>)] = []
    private var nextID: UInt64 = 0

    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }

    public func now() -> Date {
        lock.lock(); defer { lock.unlock() }
        return current
    }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int {
        lock.lock(); defer { lock.unlock() }
        return sleepers.count
    }

    public func sleep(for duration: Duration) async throws {
        let id: UInt64 = lock.withLock { nextID += 1; return nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                lock.lock()
                if Task.isCancelled {
                    lock.unlock()
                    continuation.resume(throwing: CancellationError())
                    return
                }
                let deadline = current.addingTimeInterval(duration.inSeconds)
                if deadline <= current {
                    lock.unlock()
                    continuation.resume()
                    return
                }
                sleepers.append((deadline, id, continuation))
                lock.unlock()
            }
        } onCancel: {
            let cancelled: CheckedContinuation<Void, Error>? = lock.withLock {
                guard let i = sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return sleepers.remove(at: i).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let woken: [CheckedContinuation<Void, Error>] = lock.withLock {
            current = current.addingTimeInterval(duration.inSeconds)
            let due = sleepers.filter { $0.deadline <= current }
            sleepers.removeAll { $0.deadline <= current }
            return due.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }
}
