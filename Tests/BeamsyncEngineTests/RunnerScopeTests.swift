@testable import BeamsyncEngine
import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("Runner scope and presence", .serialized, .requires(.postgres))
struct RunnerScopeTests {
    @Test("a runner limited to one execution advances only that one")
    func limitedToOne() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            let other = try await h.create("HelloWorld", name: "other")
            let mine = try await h.create("HelloWorld", name: "mine")
            let runner = ExecutionRunner(conninfo: h.conninfo, configuration: testRunnerConfiguration(real: false), only: mine.id)
            let done = try await h.drive(runner, mine.id)
            #expect(done.status == .completed)
            let untouched = try await h.record(other.id)
            #expect(untouched.status == .pending && (untouched.step == nil || untouched.step == CommonStep.created.rawValue))
            #expect(try await h.ledger.events(of: other.id).count == 1)
            await runner.close()
        }
    }

    @Test("a running runner is visible to the CLI through its application name; a foreground follower is not")
    func presence() async throws {
        try await RunnerHarness.with { h in
            let presence = RunnerPresence(conn: h.conn)
            #expect(try await presence.activeRunners() == 0)
            let runner = ExecutionRunner(conninfo: h.conninfo, configuration: testRunnerConfiguration(real: false))
            let loop = Task { await runner.run() }
            #expect(try await waitFor { try await presence.activeRunners() == 1 }, "the runner's session is seen")
            loop.cancel()
            await loop.value
            await runner.close()
            #expect(try await waitFor { try await presence.activeRunners() == 0 }, "and gone once it stopped")

            try await h.restProfile("dim", isDefault: true)
            let mine = try await h.create("HelloWorld", name: "mine")
            let follower = ExecutionRunner(conninfo: h.conninfo, configuration: testRunnerConfiguration(real: false), only: mine.id)
            _ = await follower.runOnce()
            #expect(try await presence.activeRunners() == 0, "a runner limited to one execution does not count")
            await follower.close()
        }
    }

    @Test("cancelling a pending execution ends it at once; a runner that took it meanwhile leaves it alone")
    func cancelPending() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            let e = try await h.create("HelloWorld", name: "later")
            let cancelled = try await h.ledger.requestCancel(idOrName: "later", actor: "test")
            #expect(cancelled.status == .cancelled && cancelled.completedAt != nil)
            #expect(try await h.ledger.events(of: e.id).map(\.step).last == CommonStep.cancelled.rawValue)
            let runner = h.runner(testRunnerConfiguration(real: false))
            #expect(await runner.runOnce() == 0, "nothing is left to run")
            await runner.close()
        }
    }

    private func waitFor(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
