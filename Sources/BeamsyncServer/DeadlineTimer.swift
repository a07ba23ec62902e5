import Foundation

/// Waits that are nearly always cancelled long before they end, such as a request body's 30 s
/// deadline. `Task.sleep` keeps its timer scheduled until the deadline even when the sleeping task
/// is cancelled, so a server answering 2,000 requests a second held 60,000 dead timers (tens of
/// megabytes). Here a cancelled wait is forgotten at once, and one ticking task serves all of them;
/// a wait ends within `resolution` after its deadline.
public final class DeadlineTimer: @unchecked Sendable {
    /// One wait; its state changes only under the timer's lock.
    private final class Wait: @unchecked Sendable {
        enum State {
            case new
            case waiting(CheckedContinuation<Void, Never>)
            case done
        }
        let deadline: ContinuousClock.Instant
        var state = State.new
        init(deadline: ContinuousClock.Instant) { self.deadline = deadline }
    }

    public let resolution: Duration
    private let lock = NSLock()
    private var waits: [ObjectIdentifier: Wait] = [:]
    private var ticking = false

    public init(resolution: Duration = .milliseconds(100)) {
        self.resolution = resolution
    }

    /// Waits currently registered (for tests).
    public var pending: Int { lock.withLock { waits.count } }

    /// Returns after `duration`, or as soon as the calling task is cancelled.
    public func wait(for duration: Duration) async {
        let wait = Wait(deadline: ContinuousClock.now + duration)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                enum Registration { case cancelledAlready, registered(startTicker: Bool) }
                let registration: Registration = lock.withLock {
                    if case .done = wait.state { return .cancelledAlready }
                    wait.state = .waiting(continuation)
                    waits[ObjectIdentifier(wait)] = wait
                    defer { ticking = true }
                    return .registered(startTicker: !ticking)
                }
                switch registration {
                case .cancelledAlready: continuation.resume()
                case .registered(let startTicker): if startTicker { Task.detached { await self.tick() } }
                }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, Never>? = lock.withLock {
                defer { wait.state = .done }
                guard case .waiting(let continuation) = wait.state else { return nil }
                waits.removeValue(forKey: ObjectIdentifier(wait))
                return continuation
            }
            continuation?.resume()
        }
    }

    /// Resumes the waits whose deadline passed, until none is left.
    private func tick() async {
        while true {
            try? await Task.sleep(for: resolution)
            let now = ContinuousClock.now
            let (due, idle): ([CheckedContinuation<Void, Never>], Bool) = lock.withLock {
                var due: [CheckedContinuation<Void, Never>] = []
                for id in waits.compactMap({ $0.value.deadline <= now ? $0.key : nil }) {
                    guard let wait = waits.removeValue(forKey: id) else { continue }
                    if case .waiting(let continuation) = wait.state { due.append(continuation) }
                    wait.state = .done
                }
                if waits.isEmpty { ticking = false }
                return (due, waits.isEmpty)
            }
            for continuation in due { continuation.resume() }
            if idle { return }
        }
    }
}
