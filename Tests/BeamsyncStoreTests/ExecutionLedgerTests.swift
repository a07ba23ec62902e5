import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// A fresh, migrated database and a ledger on it.
private func withLedger<T>(_ body: (ExecutionLedger, PGConnection, FreshDatabase) async throws -> T) async throws -> T {
    try await TestDatabase.withFreshDatabase { database in
        let conn = try await database.connect()
        _ = try await Migrator.beamsync.migrate(conn)
        let value = try await body(ExecutionLedger(conn: conn), conn, database)
        await conn.close()
        return value
    }
}

/// Inserts a rest_remote profile row and returns its id.
@discardableResult
private func insertProfile(_ conn: PGConnection, _ name: String, project: String? = nil, isDefault: Bool = false,
                           port: Int = 8001) async throws -> UUID {
    let deployment = #"{"kind": "rest_remote", "deploy_host": "dim.example.org", "deploy_port": \#(port), "dim_host_for_tm": "dim.example.org", "dim_port_for_tm": \#(port)}"#
    let row = try await conn.query("""
        INSERT INTO daliuge_deployment_profile (name, project_module, is_default, translation, deployment, spec_sha256)
        VALUES ($1, $2, $3, $4, $5, 'x') RETURNING uuid
        """, [.text(name), project.map(PGValue.text), .bool(isDefault), .json(#"{"algo": "metis", "num_par": 1, "num_islands": 1, "tm_url": "http://tm.example.org:8084"}"#),
              .json(deployment)]).single()
    return try row.uuid("uuid")
}

private let graphBytes = Array(#"{"nodeDataArray": [], "linkDataArray": []}"#.utf8)

private func request(_ name: String? = nil, project: String = "wallaby", id: String? = nil, profile: String? = nil) -> ExecutionRequest {
    ExecutionRequest(name: name, projectModule: project, profileID: id, profileName: profile,
                     graph: .content(graphBytes, path: "hello.graph"), createdBy: "test")
}

@Suite("Execution ledger: creation and profile resolution", .serialized, .requires(.postgres))
struct ExecutionLedgerCreateTests {
    @Test("an explicit profile id wins; the row pins id, revision, snapshot and the active project config")
    func byID() async throws {
        try await withLedger { ledger, conn, _ in
            let id = try await insertProfile(conn, "dim-a")
            try await insertProfile(conn, "dim-default", isDefault: true)
            let configID = try await conn.query("""
                INSERT INTO project_configs (project_id, version, spec, active) VALUES ('wallaby', 1, '{}', true) RETURNING uuid
                """).single().uuid("uuid")
            let e = try await ledger.create(request("run-1", id: id.uuidString))
            #expect(e.status == .pending && e.step == "created" && e.submissionState == .notStarted)
            #expect(e.deploymentProfileID == id && e.deploymentProfileRevision == 1 && e.projectConfigID == configID)
            #expect(e.profileName == "dim-a")
            #expect(e.deploymentProfileSnapshot?["deployment"]?["deploy_host"]?.stringValue == "dim.example.org")
            // The same snapshot shape as PlanApplier (beampipe's create_execution_internal).
            #expect(Set(e.deploymentProfileSnapshot?.objectValue?.keys ?? [:].keys) == [
                "id", "name", "description", "project_module", "is_default", "max_concurrent_executions",
                "revision", "spec_sha256", "translation", "deployment"])
            #expect(e.graphSHA256 == SHA256Digest.hex(graphBytes) && e.graphPath == "hello.graph" && e.nextPollAt != nil)
            #expect(try await ledger.graph(sha256: e.graphSHA256!) == graphBytes)
            #expect(try await ledger.events(of: e.id).map(\.step) == ["created"])
        }
    }

    @Test("by name, else the project's default, else the global default")
    func precedence() async throws {
        try await withLedger { ledger, conn, _ in
            try await insertProfile(conn, "global-default", isDefault: true)
            #expect(try await ledger.create(request("a")).profileName == "global-default")
            try await insertProfile(conn, "wallaby-default", project: "wallaby", isDefault: true)
            #expect(try await ledger.create(request("b")).profileName == "wallaby-default")
            try await insertProfile(conn, "named")
            #expect(try await ledger.create(request("c", profile: "named")).profileName == "named")
            // Another project still falls back to the global default.
            #expect(try await ledger.create(request("d", project: "other")).profileName == "global-default")
        }
    }

    @Test("every resolution failure names the missing piece")
    func resolutionErrors() async throws {
        try await withLedger { ledger, conn, _ in
            await #expect(throws: ExecutionLedgerError.profileNotFound(
                "project 'wallaby' has no default deployment profile and there is no global default; select one explicitly (deployment_profile_name or deployment_profile_id)")) {
                try await ledger.create(request("a"))
            }
            await #expect(throws: ExecutionLedgerError.profileNotFound("deployment profile 'nope' does not exist")) {
                try await ledger.create(request("a", profile: "nope"))
            }
            let missing = UUID()
            await #expect(throws: ExecutionLedgerError.profileNotFound("deployment profile id \(missing.uuidString.lowercased()) does not exist")) {
                try await ledger.create(request("a", id: missing.uuidString))
            }
            await #expect(throws: ExecutionLedgerError.invalidRequest("provide only one of deployment_profile_id or deployment_profile_name")) {
                try await ledger.create(request("a", id: missing.uuidString, profile: "x"))
            }
            await #expect(throws: ExecutionLedgerError.invalidRequest("deployment_profile_id 'not-a-uuid' is not a UUID")) {
                try await ledger.create(request("a", id: "not-a-uuid"))
            }
            try await insertProfile(conn, "askap-only", project: "askap")
            await #expect(throws: ExecutionLedgerError.profileOutOfScope(profile: "askap-only", profileProject: "askap", project: "wallaby")) {
                try await ledger.create(request("a", profile: "askap-only"))
            }
            #expect(try await ledger.list().isEmpty, "a refused create writes nothing")
        }
    }

    @Test("names are unique; graphs are stored once per content")
    func uniqueNamesAndContentAddressedGraphs() async throws {
        try await withLedger { ledger, conn, _ in
            try await insertProfile(conn, "p", isDefault: true)
            let first = try await ledger.create(request("same"))
            await #expect(throws: ExecutionLedgerError.duplicateName("same")) { try await ledger.create(request("same")) }
            let second = try await ledger.create(request())
            #expect(second.name.hasPrefix("wallaby-") && second.graphSHA256 == first.graphSHA256)
            #expect(try await conn.query("SELECT count(*) AS n FROM graph_blobs").single().int("n") == 1)
        }
    }

    @Test("get by id or name, list by project and status, newest first")
    func reads() async throws {
        try await withLedger { ledger, conn, _ in
            try await insertProfile(conn, "p", isDefault: true)
            let a = try await ledger.create(request("a"))
            let b = try await ledger.create(request("b", project: "askap"))
            #expect(try await ledger.get(idOrName: "a")?.id == a.id)
            #expect(try await ledger.get(idOrName: a.id.uuidString)?.name == "a")
            #expect(try await ledger.get(idOrName: "missing") == nil)
            #expect(try await ledger.list().map(\.name) == ["b", "a"])
            #expect(try await ledger.list(project: "askap").map(\.id) == [b.id])
            try await ledger.transition(a.id, ExecutionTransition(status: .failed, step: "failed", message: "x", lastError: "x"))
            #expect(try await ledger.list(status: .failed).map(\.name) == ["a"])
        }
    }
}

@Suite("Execution ledger: status machine and hand-over", .serialized, .requires(.postgres))
struct ExecutionLedgerTransitionTests {
    @Test("the status machine is beampipe's: completed and cancelled are locked terminal")
    func machineTable() {
        #expect(ExecutionStatusMachine.allowedNext(.pending) == [.running, .cancelled, .failed])
        #expect(ExecutionStatusMachine.allowedNext(.running) == [.awaitingScheduler, .completed, .notSubmitted, .failed, .cancelled])
        #expect(ExecutionStatusMachine.allowedNext(.awaitingScheduler) == [.running, .completed, .failed, .cancelled])
        #expect(ExecutionStatusMachine.allowedNext(.notSubmitted) == [.running, .cancelled])
        #expect(ExecutionStatusMachine.allowedNext(.failed) == [.retrying, .running, .cancelled])
        #expect(ExecutionStatusMachine.allowedNext(.retrying) == [.running, .failed, .cancelled])
        #expect(ExecutionStatusMachine.allowedNext(.completed).isEmpty)
        #expect(ExecutionStatusMachine.allowedNext(.cancelled).isEmpty)
    }

    @Test("transition enforces the machine, writes an event with the change, and sets the times")
    func transitions() async throws {
        try await withLedger { ledger, conn, _ in
            try await insertProfile(conn, "p", isDefault: true)
            let e = try await ledger.create(request("t"))
            await #expect(throws: ExecutionLedgerError.illegalTransition(execution: "t", from: .pending, to: .completed)) {
                try await ledger.transition(e.id, ExecutionTransition(status: .completed, step: "completed", message: "no"))
            }
            #expect(try await ledger.events(of: e.id).count == 1, "a refused transition records nothing")
            let running = try await ledger.transition(e.id, expecting: (.pending, "created"),
                                                      ExecutionTransition(status: .running, step: "translating", message: "go"))
            #expect(running.status == .running && running.startedAt != nil && running.completedAt == nil)
            // A caller that read an old state loses.
            await #expect(throws: ExecutionLedgerError.self) {
                try await ledger.transition(e.id, expecting: (.pending, "created"), ExecutionTransition(status: .failed, step: "failed", message: "late"))
            }
            let done = try await ledger.transition(e.id, ExecutionTransition(status: .completed, step: "completed", message: "done"))
            #expect(done.completedAt != nil && done.nextPollAt == nil)
            for target in ExecutionStatus.allCases {
                await #expect(throws: ExecutionLedgerError.self, "completed is locked terminal (→ \(target))") {
                    try await ledger.transition(e.id, ExecutionTransition(status: target, step: "x", message: "x"))
                }
            }
            let events = try await ledger.events(of: e.id)
            #expect(events.map(\.step) == ["created", "translating", "completed"])
            #expect(events.map(\.status) == [.pending, .running, .completed])
            #expect(events[1].message == "go" && events[1].detail?["from_status"]?.stringValue == "pending")
        }
    }

    @Test("two runners asking for due work at once never get the same execution")
    func dueSkipsLocked() async throws {
        try await withLedger { ledger, conn, database in
            try await insertProfile(conn, "p", isDefault: true)
            for i in 0..<20 { _ = try await ledger.create(request("e\(i)")) }
            let other = try await database.connect()
            let second = ExecutionLedger(conn: other)
            async let a = ledger.due(limit: 15)
            async let b = second.due(limit: 15)
            let (first, next) = try await (a, b)
            #expect(first.count + next.count == 20)
            #expect(Set(first.map(\.id)).isDisjoint(with: Set(next.map(\.id))))
            // Taken executions are leased: nothing is due again until the lease runs out or a step is recorded.
            #expect(try await ledger.due().isEmpty)
            try await ledger.release(first[0].id, retryIn: .zero)
            #expect(try await second.due().map(\.id) == [first[0].id])
            await other.close()
        }
    }

    @Test("cancel ends a pending execution at once, is a request for one under way, and a terminal execution refuses it")
    func cancelRequests() async throws {
        try await withLedger { ledger, conn, _ in
            try await insertProfile(conn, "p", isDefault: true)
            let waiting = try await ledger.create(request("w"))
            let ended = try await ledger.requestCancel(idOrName: "w", actor: "tester")
            #expect(ended.status == .cancelled && ended.cancelRequestedAt != nil && ended.completedAt != nil && ended.nextPollAt == nil)
            let last = try #require(try await ledger.events(of: waiting.id).last)
            #expect(last.step == "cancelled" && last.message == "cancelled by tester before any runner started it; nothing was sent to a backend")

            let e = try await ledger.create(request("c"))
            try await ledger.transition(e.id, ExecutionTransition(status: .running, step: "deployed", message: "x"))
            let asked = try await ledger.requestCancel(idOrName: "c", actor: "tester")
            #expect(asked.cancelRequestedAt != nil && asked.status == .running)
            #expect(try await ledger.events(of: e.id).last?.message == "cancel requested by tester")
            try await ledger.transition(e.id, ExecutionTransition(status: .cancelled, step: "cancelled", message: "ok"))
            await #expect(throws: ExecutionLedgerError.alreadyTerminal(execution: "c", status: .cancelled)) {
                try await ledger.requestCancel(idOrName: "c", actor: "tester")
            }
            await #expect(throws: ExecutionLedgerError.executionNotFound("nope")) {
                try await ledger.requestCancel(idOrName: "nope", actor: "tester")
            }
        }
    }

    @Test("a cancel makes a waiting execution due at once, but never takes one a runner holds")
    func cancelRespectsLease() async throws {
        try await withLedger { ledger, conn, _ in
            try await insertProfile(conn, "p", isDefault: true)
            let held = try await ledger.create(request("held"))
            let waiting = try await ledger.create(request("waiting"))
            #expect(try await ledger.due(limit: 2).count == 2)
            // Both under way (a pending one is cancelled by the ledger itself); a runner holds the first.
            try await ledger.transition(held.id, ExecutionTransition(status: .running, step: "deployed", message: "x", nextPollIn: .seconds(300)))
            try await ledger.transition(waiting.id, ExecutionTransition(status: .running, step: "deployed", message: "x", nextPollIn: .seconds(10)))
            try await ledger.requestCancel(idOrName: "held", actor: "t")
            try await ledger.requestCancel(idOrName: "waiting", actor: "t")
            #expect(try await ledger.due().map(\.name) == ["waiting"], "the held one stays with its runner")
        }
    }

    @Test("the pinned snapshot decodes back into the profile it was taken from")
    func snapshotDecodes() async throws {
        try await withLedger { ledger, conn, _ in
            try await insertProfile(conn, "p", isDefault: true, port: 18001)
            let e = try await ledger.create(request("s"))
            let profile = try ProfileSnapshot.decode(try #require(e.deploymentProfileSnapshot))
            #expect(profile.name == "p" && profile.translation.tmURL == "http://tm.example.org:8084")
            guard case .restRemote(let rest) = profile.deployment else { Issue.record("not rest_remote"); return }
            #expect(rest.deployPort == 18001 && rest.dimHostForTM == "dim.example.org")
        }
    }
}
