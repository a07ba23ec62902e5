import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// A fresh database with a profile capped at `cap` concurrent executions and `count` pending
/// executions of it, created one after the other.
private func withCappedProfile<T>(cap: Int, count: Int, _ body: (ExecutionLedger, [ExecutionRecord], FreshDatabase) async throws -> T) async throws -> T {
    try await TestDatabase.withFreshDatabase { database in
        let conn = try await database.connect()
        _ = try await Migrator.beamsync.migrate(conn)
        _ = try await conn.query("""
            INSERT INTO daliuge_deployment_profile (name, is_default, translation, deployment, spec_sha256, max_concurrent_executions)
            VALUES ('capped', true, '{"tm_url": "http://tm.example.org"}', '{"kind": "rest_remote", "deploy_host": "dim.example.org"}', 'x', $1)
            """, [.int(cap)])
        let ledger = ExecutionLedger(conn: conn)
        var created: [ExecutionRecord] = []
        for i in 0..<count {
            created.append(try await ledger.create(ExecutionRequest(name: "e\(i)", projectModule: "wallaby",
                                                                    graph: .content(Array("{}".utf8), path: nil), createdBy: "test")))
        }
        let value = try await body(ledger, created, database)
        await conn.close()
        return value
    }
}

@Suite("Admission: max_concurrent_executions", .serialized, .requires(.postgres))
struct AdmissionTests {
    @Test("over the cap, executions wait in pending with the reason recorded once; a freed slot admits the oldest at once")
    func capHoldsAndReleases() async throws {
        try await withCappedProfile(cap: 1, count: 3) { ledger, created, _ in
            let first = try await ledger.due(limit: 10)
            #expect(first.map(\.name) == ["e0"] && first[0].admittedAt != nil && first[0].waitingReason == nil)
            let held = try #require(try await ledger.get(id: created[1].id))
            #expect(held.status == .pending && held.admittedAt == nil)
            #expect(held.waitingReason == "waiting: deployment profile 'capped' runs at most 1 execution at once (max_concurrent_executions) "
                    + "and 1 is in progress")
            let third = try #require(try await ledger.get(id: created[2].id))
            #expect(third.waitingReason?.hasSuffix("and 1 is in progress; 1 earlier execution waits before it") == true, "\(third.waitingReason ?? "")")
            #expect(try await ledger.events(of: held.id).map(\.step) == ["created", "waiting"])
            #expect(try await ledger.events(of: held.id).last?.message == held.waitingReason)

            // Asking again changes nothing and records nothing new.
            try await ledger.release(first[0].id, retryIn: .zero)
            #expect(try await ledger.due(limit: 10).map(\.name) == ["e0"], "the admitted one is due again; the others still wait")
            #expect(try await ledger.events(of: held.id).map(\.step) == ["created", "waiting"])

            // The admitted one ends: the next due admits e1 although its recheck time is ahead.
            try await ledger.transition(created[0].id, ExecutionTransition(status: .running, step: "x", message: "x"))
            try await ledger.transition(created[0].id, ExecutionTransition(status: .completed, step: "completed", message: "done"))
            let next = try await ledger.due(limit: 10)
            #expect(next.map(\.name) == ["e1"] && next[0].waitingReason == nil && next[0].admittedAt != nil)
            #expect(try await ledger.get(id: created[2].id)?.waitingReason?.hasSuffix("and 1 is in progress") == true,
                    "e2 now waits only for e1")
        }
    }

    @Test("runners on separate connections asking at the same moment never admit more than the cap")
    func concurrentRunnersRespectTheCap() async throws {
        try await withCappedProfile(cap: 2, count: 12) { ledger, created, database in
            var others: [ExecutionLedger] = []
            for _ in 0..<4 { others.append(ExecutionLedger(conn: try await database.connect())) }
            let taken = try await withThrowingTaskGroup(of: [ExecutionRecord].self) { group in
                for other in others { group.addTask { try await other.due(limit: 10) } }
                return try await group.reduce(into: [ExecutionRecord]()) { $0 += $1 }
            }
            #expect(taken.map(\.name).sorted() == ["e0", "e1"], "the two oldest, once each")
            let admitted = try await ledger.conn.query("SELECT count(*) AS n FROM executions WHERE admitted_at IS NOT NULL").single().int("n")
            #expect(admitted == 2)
            #expect(try await ledger.conn.query("SELECT count(*) AS n FROM executions WHERE waiting_reason IS NOT NULL").single().int("n") == 10)
            for other in others { await other.conn.close() }
            _ = created
        }
    }

    @Test("a waiting execution that is cancelled ends cancelled at once and is never admitted")
    func cancelWhileWaiting() async throws {
        try await withCappedProfile(cap: 1, count: 2) { ledger, created, _ in
            #expect(try await ledger.due(limit: 10).map(\.name) == ["e0"])
            let cancelled = try await ledger.requestCancel(idOrName: "e1", actor: "test")
            #expect(cancelled.status == .cancelled && cancelled.admittedAt == nil, "a cancel is not an admission")
            #expect(try await ledger.due(limit: 10).isEmpty, "nothing is left to hand over")
            _ = created
        }
    }

    @Test("a profile without a cap admits everything, and executions that left pending before count as in progress")
    func noCapAndOldRows() async throws {
        try await withCappedProfile(cap: 1, count: 2) { ledger, created, _ in
            // An execution already running without admitted_at (recorded before admission existed).
            try await ledger.transition(created[0].id, ExecutionTransition(status: .running, step: "x", message: "x"))
            #expect(try await ledger.get(id: created[0].id)?.admittedAt == nil)
            #expect(try await ledger.due(limit: 10).map(\.name) == ["e0"], "e1 waits behind the running one")
            _ = try await ledger.conn.query("UPDATE daliuge_deployment_profile SET max_concurrent_executions = NULL")
            try await ledger.release(created[1].id, retryIn: .zero)
            #expect(try await ledger.due(limit: 10).map(\.name) == ["e1"])
        }
    }
}
