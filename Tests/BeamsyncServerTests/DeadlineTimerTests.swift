@testable import BeamsyncServer
import Foundation
import Hummingbird
import Testing

/// Request deadlines are waits that nearly always end by cancellation. A cancelled wait must
/// return at once and leave nothing behind, or a busy server holds one dead timer per request
/// for the whole deadline.
@Suite("Deadlines that are usually cancelled")
struct DeadlineTimerTests {
    /// Polls until `condition` holds or five seconds pass.
    private func within5s(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test("a wait that is not cancelled ends after its duration, and the timer forgets it")
    func waitEnds() async throws {
        let timer = DeadlineTimer(resolution: .milliseconds(20))
        let start = ContinuousClock.now
        await timer.wait(for: .milliseconds(150))
        #expect(ContinuousClock.now - start >= .milliseconds(150))
        #expect(timer.pending == 0)
    }

    @Test("a cancelled wait returns at once and leaves nothing pending, however far its deadline")
    func cancelledWaitIsForgotten() async throws {
        let timer = DeadlineTimer()
        let ended = Flag()
        let waiter = Task {
            await timer.wait(for: .seconds(3600))
            ended.set()
        }
        #expect(try await within5s { timer.pending == 1 })
        waiter.cancel()
        #expect(try await within5s { ended.isSet }, "the wait did not return when cancelled")
        #expect(timer.pending == 0)
    }

    @Test("waits cancelled before, while and after they register all return, and none stays pending")
    func cancellationRaces() async throws {
        let timer = DeadlineTimer(resolution: .milliseconds(10))
        let ended = Counter()
        var tasks: [Task<Void, Never>] = []
        for i in 0..<2_000 {
            let task = Task {
                if i % 3 == 0 { withUnsafeCurrentTask { $0?.cancel() } }
                await timer.wait(for: i % 3 == 1 ? .milliseconds(30) : .seconds(3600))
                ended.increment()
            }
            tasks.append(task)
            if i % 3 == 2 { task.cancel() }
        }
        // The long waits not yet cancelled: those of i % 3 == 2 already are; cancel the rest.
        for task in tasks { task.cancel() }
        #expect(try await within5s { ended.value == 2_000 }, "\(2_000 - ended.value) waits never returned")
        #expect(timer.pending == 0)
    }

    @Test("reading request bodies leaves no body deadline behind")
    func bodyReadsReleaseTheirDeadline() async throws {
        let timer = DeadlineTimer()
        for n in 0..<500 {
            let body = RequestBody(buffer: ByteBuffer(string: String(repeating: "x", count: n)))
            let outcome = await RequestBodyGuard<BasicRequestContext>.read(body, limit: 1 << 20, within: .seconds(30), timer: timer)
            guard case .complete(let buffer) = outcome else { Issue.record("body \(n): \(outcome)"); return }
            #expect(buffer.readableBytes == n)
        }
        #expect(try await within5s { timer.pending == 0 })
    }
}

private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
