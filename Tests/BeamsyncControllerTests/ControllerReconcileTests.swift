import BeamsyncController
import BeamsyncModel
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// One reconcile at a time, driven by the test: suspension, backoff, fetch failures, superseding
/// commits and the status and history they leave. The source is in memory; PostgreSQL is real.
@Suite("The controller's reconcile, in-process on a manual clock", .serialized, .requires(.postgres))
struct ControllerReconcileTests {
    @Test("a suspended source is not fetched or applied and reports suspended; resuming applies the commit it missed")
    func suspendAndResume() async throws {
        try await ControllerHarness.with { h in
            let first = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            #expect(await h.controller.reconcile() == .applied(revision: first, changes: 1, triggered: 0))

            #expect(try await h.store.setSuspended(true) == 1)
            let missed = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8002)])
            let fetches = h.source.fetches
            #expect(await h.controller.reconcile() == .suspended)
            #expect(await h.controller.reconcile() == .suspended)
            #expect(h.source.fetches == fetches, "a suspended source is not even fetched")
            #expect(try await h.port(of: "a") == 8001)
            let suspended = try await h.status()
            #expect(suspended.suspended && suspended.reason == .suspended)
            #expect(suspended.lastAppliedRevision == first)
            #expect(try await h.history().count == 1, "suspended passes record no runs")
            #expect(h.metrics.render().contains(#"beamsync_reconciles_total{result="suspended"} 2"#))

            // What `beamsync resume` does.
            #expect(try await h.store.setSuspended(false) == 1)
            try await h.store.requestReconcile()
            #expect(await h.controller.reconcile() == .applied(revision: missed, changes: 1, triggered: 0))
            #expect(try await h.port(of: "a") == 8002)
            let resumed = try await h.status()
            #expect(!resumed.suspended && resumed.status == .ready && resumed.reason == .applied)
            #expect(resumed.lastAppliedRevision == missed && resumed.reconcileRequestedAt == nil)
        }
    }

    @Test("a revision that fails validation is retried after a delay that doubles up to the maximum, and backs off until then")
    func backoffDoublesForOneRevision() async throws {
        try await ControllerHarness.with(backoff: ControllerHarness.exactBackoff(maximum: .seconds(60))) { h in
            let good = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            #expect(await h.controller.reconcile() == .applied(revision: good, changes: 1, triggered: 0))
            let broken = h.source.commit(["profiles/b.yaml": brokenProfile])

            for (attempt, delay) in [10.0, 20, 40, 60, 60].enumerated().map({ ($0.offset + 1, $0.element) }) {
                let failedAt = h.clock.now()
                guard case .failed(.validationFailed, _) = await h.controller.reconcile() else {
                    Issue.record("attempt \(attempt) did not fail validation")
                    return
                }
                let status = try await h.status()
                #expect(status.failures == attempt)
                let next = after(failedAt, seconds: delay)
                #expect(status.nextAttemptAt == next, "attempt \(attempt) waits \(delay) s")
                #expect(status.status == .stalled && status.lastAttemptedRevision == broken && status.lastAppliedRevision == good)

                // Until the clock reaches the next attempt the revision is not read again.
                let reads = h.source.reads
                h.clock.advance(by: .seconds(delay - 1))
                #expect(await h.controller.reconcile() == .backingOff(revision: broken, until: next))
                #expect(h.source.reads == reads)
                #expect(try await h.status().failures == attempt, "backing off is not another failure")
                h.clock.advance(by: .seconds(1))
            }
            let runs = try await h.history()
            #expect(runs.filter { $0.result == .failed }.count == 5, "one failed run per attempt, none for the passes that backed off")
            #expect(runs.allSatisfy { $0.result != .failed || $0.revision == broken })
            #expect(try await h.port(of: "b") == nil)
        }
    }

    @Test("while fetches fail the backoff grows, and the first fetch that works again reconciles at once instead of waiting it out")
    func fetchFailuresAndRecovery() async throws {
        try await ControllerHarness.with { h in
            let revision = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            #expect(await h.controller.reconcile() == .applied(revision: revision, changes: 1, triggered: 0))

            h.source.failFetches(true)
            for (attempt, delay) in [(1, 10.0), (2, 20), (3, 40)] {
                let failedAt = h.clock.now()
                #expect(await h.controller.reconcile()
                        == .failed(reason: .fetchFailed, message: "fetching memory://fleet failed: connection refused"))
                let status = try await h.status()
                #expect(status.failures == attempt && status.nextAttemptAt == after(failedAt, seconds: delay))
                #expect(status.status == .stalled && status.reason == .fetchFailed)
                #expect(status.lastAppliedRevision == revision, "the applied state is kept")
                // The loop sleeps until the next attempt before it fetches again.
                if attempt < 3 { h.clock.advance(by: .seconds(delay)) }
            }
            #expect(try await h.port(of: "a") == 8001)

            // The remote answers again, 40 s before the backoff would end, with the same commit.
            h.source.failFetches(false)
            #expect(await h.controller.reconcile() == .applied(revision: revision, changes: 0, triggered: 0))
            let recovered = try await h.status()
            #expect(recovered.status == .ready && recovered.reason == .upToDate)
            #expect(recovered.failures == 0 && recovered.nextAttemptAt == nil)
            #expect(recovered.message == "memory://fleet@main (\(revision.prefix(12))) is applied; no changes")
            #expect(await h.controller.reconcile() == .upToDate(revision: revision))
        }
    }

    @Test("a new commit replaces a failing one at once, without waiting for the failing one's backoff, and starts its own count")
    func newCommitSupersedesFailingOne() async throws {
        try await ControllerHarness.with { h in
            let good = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            #expect(await h.controller.reconcile() == .applied(revision: good, changes: 1, triggered: 0))
            let broken = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8002), "profiles/b.yaml": brokenProfile])
            _ = await h.controller.reconcile()
            h.clock.advance(by: .seconds(10))
            _ = await h.controller.reconcile()
            #expect(try await h.status().failures == 2)
            #expect(await h.controller.reconcile() == .backingOff(revision: broken, until: after(h.clock.now(), seconds: 20)))

            // Another broken commit is tried at once; its backoff starts from the first delay.
            let alsoBroken = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8003)])
            guard case .failed(.validationFailed, _) = await h.controller.reconcile() else {
                Issue.record("the second broken commit was not tried at once")
                return
            }
            let status = try await h.status()
            #expect(status.lastAttemptedRevision == alsoBroken && status.failures == 1)
            #expect(status.nextAttemptAt == after(h.clock.now(), seconds: 10))

            // The fix is applied at once as well.
            let fixed = h.source.commit(["profiles/b.yaml": nil])
            #expect(await h.controller.reconcile() == .applied(revision: fixed, changes: 1, triggered: 0))
            #expect(try await h.port(of: "a") == 8003)
            let ready = try await h.status()
            #expect(ready.status == .ready && ready.failures == 0 && ready.nextAttemptAt == nil && ready.lastAppliedRevision == fixed)
        }
    }

    @Test("a source is Reconciling while it applies, Ready after, Stalled on a broken commit and Ready again; each attempt is in its history")
    func statusTransitionsAndHistory() async throws {
        try await ControllerHarness.with { h in
            let observed = StatusLog()
            let conn = h.conn
            h.source.onRead { _ in
                if let status = try? await SourceStatusStore(conn: conn).all().first { observed.add(status) }
            }
            let label = { (revision: String) in "memory://fleet@main (\(revision.prefix(12)))" }

            let first = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            #expect(await h.controller.reconcile() == .applied(revision: first, changes: 1, triggered: 0))
            let during = try #require(observed.all.last)
            #expect(during.status == .reconciling && during.reason == .progressing && during.message == "reconciling \(first)")
            var status = try await h.status()
            #expect(status.status == .ready && status.reason == .applied)
            #expect(status.message == "applied \(label(first)): 1 created, 0 changed, 0 deleted, 0 executions triggered")
            #expect(await h.controller.reconcile() == .upToDate(revision: first))
            #expect(observed.all.count == 1, "an up-to-date pass reads nothing")

            let broken = h.source.commit(["profiles/a.yaml": restProfile("a", port: 9001), "profiles/b.yaml": brokenProfile])
            guard case .failed(.validationFailed, let reason) = await h.controller.reconcile() else {
                Issue.record("the broken commit did not fail validation")
                return
            }
            status = try await h.status()
            #expect(status.status == .stalled && status.reason == .validationFailed && status.message == reason)
            #expect(reason.hasPrefix("1 error at \(label(broken)): profiles/b.yaml:2:"), "\(reason)")
            #expect(status.lastAppliedRevision == first && status.lastAttemptedRevision == broken)
            #expect(try await h.port(of: "a") == 8001, "nothing of the broken commit is applied")

            let fixed = h.source.commit(["profiles/b.yaml": nil])
            #expect(await h.controller.reconcile() == .applied(revision: fixed, changes: 1, triggered: 0))
            status = try await h.status()
            #expect(status.status == .ready && status.reason == .applied && status.lastAppliedRevision == fixed)
            #expect(status.message == "applied \(label(fixed)): 0 created, 1 changed, 0 deleted, 0 executions triggered")

            let empty = h.source.commit([:])
            #expect(await h.controller.reconcile() == .applied(revision: empty, changes: 0, triggered: 0))
            status = try await h.status()
            #expect(status.reason == .upToDate && status.message == "\(label(empty)) is applied; no changes")

            let runs = try await h.history()
            #expect(runs.map(\.result) == [.noOp, .applied, .failed, .applied], "newest first")
            #expect(runs.map(\.revision) == [empty, fixed, broken, first])
            #expect(runs[1].summary?["update"] == .int(1) && runs[3].summary?["create"] == .int(1))
            #expect(runs[2].error == reason && runs[2].summary == nil)
            #expect(runs.allSatisfy { $0.finishedAt != nil })
        }
    }

    @Test("a revision whose files cannot be read fails naming it, is retried after a delay that doubles, and is applied once it can be read")
    func unreadableRevision() async throws {
        try await ControllerHarness.with { h in
            let revision = h.source.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            h.source.failReads(true)
            for (attempt, delay) in [(1, 10.0), (2, 20), (3, 40)] {
                let failedAt = h.clock.now()
                #expect(await h.controller.reconcile() == .failed(reason: .readFailed, message: "reading \(revision) failed: object not found"))
                let status = try await h.status()
                #expect(status.failures == attempt && status.nextAttemptAt == after(failedAt, seconds: delay), "attempt \(attempt)")
                #expect(status.status == .stalled && status.reason == .readFailed)
                #expect(status.lastAttemptedRevision == revision && status.lastAppliedRevision == nil)
                #expect(await h.controller.reconcile() == .backingOff(revision: revision, until: after(failedAt, seconds: delay)))
                h.clock.advance(by: .seconds(delay))
            }
            #expect(h.source.reads == 3, "read once per attempt")
            h.source.failReads(false)
            #expect(await h.controller.reconcile() == .applied(revision: revision, changes: 1, triggered: 0))
        }
    }
}

/// Statuses seen from inside a reconcile.
final class StatusLog: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [SourceStatus] = []
    func add(_ status: SourceStatus) { lock.withLock { seen.append(status) } }
    var all: [SourceStatus] { lock.withLock { seen } }
}
