import BeamsyncController
import BeamsyncPostgres
import BeamsyncTestSupport
import Foundation
import Testing

/// `Controller.run()`: when it reconciles, how long it sleeps on its clock, what wakes it and how
/// it stops. A pass is over and the loop asleep when the source was fetched once more and one
/// task sleeps on the manual clock.
@Suite("The controller's loop, in-process on a manual clock", .serialized, .requires(.postgres))
struct ControllerLoopTests {
    /// Runs the loop for `body`, then stops it and waits for it to end.
    private func running(_ h: ControllerHarness, _ body: (StopSwitch) async throws -> Void) async throws {
        let stop = StopSwitch()
        let controller = h.controller
        let loop = Task { await controller.run(shouldStop: { stop.isStopped }) }
        do {
            try await body(stop)
        } catch {
            stop.stop()
            controller.wake()
            await loop.value
            throw error
        }
        stop.stop()
        controller.wake()
        await loop.value
    }

    private func asleep(after fetches: Int, _ h: ControllerHarness) async -> Bool {
        await eventually { h.source.fetches == fetches && h.clock.sleeperCount == 1 }
    }

    @Test("the loop reconciles, sleeps the interval on its clock, reconciles again when the clock has passed it, and a wake-up cuts the sleep short")
    func sleepsAndWakes() async throws {
        try await ControllerHarness.with(interval: .seconds(60)) { h in
            let revision = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            try await running(h) { _ in
                #expect(await asleep(after: 1, h), "the first pass runs at once")
                #expect(await h.controller.lastOutcome == .applied(revision: revision, changes: 1, triggered: 0))

                // The interval is jittered by ±10 %: 54 to 66 s.
                h.clock.advance(by: .seconds(53))
                try await Task.sleep(for: .milliseconds(300))
                #expect(h.source.fetches == 1, "no pass before the interval has passed")
                h.clock.advance(by: .seconds(14))
                #expect(await asleep(after: 2, h), "a pass once the interval has passed")
                #expect(await h.controller.lastOutcome == .upToDate(revision: revision))

                // A webhook wakes the loop without the clock moving.
                let next = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8002)])
                h.controller.wake()
                #expect(await asleep(after: 3, h))
                #expect(await h.controller.lastOutcome == .applied(revision: next, changes: 1, triggered: 0))
                #expect(try await h.port(of: "a") == 8002)
            }
        }
    }

    @Test("a reconcile request (NOTIFY beamsync_reconcile) wakes the sleeping loop, which reconciles even an up-to-date commit")
    func reconcileRequestWakesTheLoop() async throws {
        try await ControllerHarness.with(interval: .seconds(600)) { h in
            let revision = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            try await running(h) { _ in
                #expect(await asleep(after: 1, h))
                // The listener may still be connecting: ask until the loop wakes.
                var woken = false
                for _ in 0..<10 where !woken {
                    try await h.store.requestReconcile()
                    woken = await eventually(within: 3) { h.source.fetches >= 2 && h.clock.sleeperCount == 1 }
                }
                #expect(woken, "the request woke the loop without the clock moving")
                let runs = try await h.history()
                #expect(runs.map(\.result) == [.noOp, .applied], "applied again, not skipped as up to date")
                #expect(runs.allSatisfy { $0.revision == revision })
                #expect(try await h.status().reconcileRequestedAt == nil)
            }
        }
    }

    @Test("in the loop a failing revision is retried when its backoff ends, long before the interval")
    func retriesWhenTheBackoffEnds() async throws {
        try await ControllerHarness.with(interval: .seconds(3600)) { h in
            let broken = h.source.commit(["profiles/b.yaml": brokenProfile])
            try await running(h) { _ in
                #expect(await asleep(after: 1, h))
                #expect(try await h.status().failures == 1)
                h.clock.advance(by: .seconds(10))
                #expect(await asleep(after: 2, h), "retried after the first delay, 10 s")
                #expect(try await h.status().failures == 2)
                h.clock.advance(by: .seconds(19))
                try await Task.sleep(for: .milliseconds(300))
                #expect(h.source.fetches == 2, "the second delay is 20 s")
                h.clock.advance(by: .seconds(1))
                #expect(await asleep(after: 3, h))
                let status = try await h.status()
                #expect(status.failures == 3 && status.lastAttemptedRevision == broken)
            }
        }
    }

    @Test("asked to stop, the loop ends without another pass and gives leadership up")
    func stopsWhenAsked() async throws {
        try await ControllerHarness.with(interval: .seconds(60)) { h in
            h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            try await running(h) { stop in
                #expect(await asleep(after: 1, h))
                #expect(await h.controller.isLeader)
                stop.stop()
                h.controller.wake()
                #expect(await eventually { await !h.controller.isLeader })
            }
            #expect(h.source.fetches == 1, "no pass after the stop")
            #expect(h.clock.sleeperCount == 0)
            // The leader lock is free: another replica takes it at once.
            let other = try await h.database.connect()
            let key = try await other.advisoryLockKey(for: LeaderElection.lockName)
            #expect(try await other.advisoryLock(key: key, wait: false))
            await other.close()
        }
    }

    @Test("a stop asked for during a pass ends the loop when the pass is done, without sleeping first")
    func stopDuringAPass() async throws {
        try await ControllerHarness.with(interval: .seconds(60)) { h in
            let revision = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            let stop = StopSwitch()
            h.source.onRead { _ in stop.stop() }
            let controller = h.controller
            let loop = Task { await controller.run(shouldStop: { stop.isStopped }) }
            let ended = await eventually {
                let leading = await controller.isLeader
                return h.source.reads == 1 && h.clock.sleeperCount == 0 && !leading
            }
            if !ended { controller.wake() }
            await loop.value
            #expect(ended, "the loop ended by itself")
            #expect(await controller.lastOutcome == .applied(revision: revision, changes: 1, triggered: 0), "the pass in flight finished")
            let port = try await h.port(of: "a")
            #expect(port == 8001)
        }
    }
}
