import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing


@Suite("Drift, heartbeats, deliveries and the inventory browser in PostgreSQL", .serialized,
       .requires(.postgres))
struct StatusStateTests {
    @Test("replacing a source's drift keeps the first detection time, counts, and moves the transition only when drift starts or ends")
    func driftReplace() async throws {
        try await withStore { tx, conn in
            try await tx.applyRepo(["profiles/a.yaml": profileYAML("a"), "profiles/b.yaml": profileYAML("b")])
            let source = try await SourceStatusStore(conn: conn).register(url: "file:///r", branch: "main", path: "")
            let drift = DriftStore(conn: conn)
            try await drift.replace(sourceID: source.id, revision: "r1", with: [])
            var row = try #require(try await SourceStatusStore(conn: conn).get(id: source.id))
            #expect(row.driftCount == 0 && row.driftTransitionAt != nil)
            let cleanSince = row.driftTransitionAt

            try await drift.replace(sourceID: source.id, revision: "r2", with: [
                DriftedObject(kind: .deploymentProfile, name: "a", fields: ["deployment.deploy_port"]),
                DriftedObject(kind: .deploymentProfile, name: "missing", fields: []),  // not in the inventory: skipped
            ])
            row = try #require(try await SourceStatusStore(conn: conn).get(id: source.id))
            #expect(row.driftCount == 1 && row.driftTransitionAt != cleanSince)
            let first = try #require(try await drift.list(sourceID: source.id).first)
            #expect(first.name == "a" && first.fields == ["deployment.deploy_port"] && first.revision == "r2")

            try await drift.replace(sourceID: source.id, revision: "r3", with: [
                DriftedObject(kind: .deploymentProfile, name: "a", fields: ["description", "deployment.deploy_port"]),
                DriftedObject(kind: .deploymentProfile, name: "b", fields: []),
            ])
            let again = try await drift.list(sourceID: source.id)
            #expect(again.map(\.name) == ["a", "b"])
            #expect(again[0].detectedAt == first.detectedAt && again[0].revision == "r2", "an object that stays drifted keeps when it was first seen")
            #expect(again[0].fields == ["description", "deployment.deploy_port"])
            let still = try #require(try await SourceStatusStore(conn: conn).get(id: source.id))
            #expect(still.driftCount == 2 && still.driftTransitionAt == row.driftTransitionAt, "more drift is not a transition")
            #expect(try await drift.total() == 2)

            // Pruning the object removes its drift with it.
            try await conn.query("DELETE FROM gitops_objects WHERE name = 'b'")
            #expect(try await drift.list().map(\.name) == ["a"])
        }
    }

    @Test("the inventory is searched and paged in SQL: drifted objects first, LIKE characters matched literally")
    func inventoryPages() async throws {
        try await withStore { _, conn in
            var rows: [[PGValue?]] = []
            for i in 0..<1_000 {
                rows.append([.text("DeploymentProfile"), .text(String(format: "p%04d", i)), .text("profiles/p\(i % 10).yaml"), .int(i + 1),
                             .text(String(repeating: "a", count: 64)), .text("rev")])
            }
            rows.append([.text("DeploymentProfile"), .text("odd_name%"), .text("profiles/odd.yaml"), .int(1), .text("b"), .text("rev")])
            _ = try await conn.copyIn(table: "gitops_objects", columns: ["kind", "name", "path", "line", "spec_sha256", "applied_revision"],
                                      rows: rows)
            let source = try await SourceStatusStore(conn: conn).register(url: "file:///r", branch: "main", path: "")
            try await DriftStore(conn: conn).replace(sourceID: source.id, revision: "r", with: [DriftedObject(kind: .deploymentProfile, name: "p0500",
                                                                                                            fields: ["description"])])
            let browser = InventoryBrowser(conn: conn)
            let first = try await browser.page(InventoryQuery(page: 1, perPage: 50))
            #expect(first.total == 1_001 && first.rows.count == 50 && first.pageCount == 21)
            #expect(first.rows.first?.name == "p0500" && first.rows.first?.drift?.fields == ["description"], "drifted objects come first")
            #expect(first.rows[1].name == "odd_name%")
            let last = try await browser.page(InventoryQuery(page: 21, perPage: 50))
            #expect(last.rows.count == 1)
            let beyond = try await browser.page(InventoryQuery(page: 99, perPage: 50))
            #expect(beyond.rows.isEmpty && beyond.total == 1_001)
            let search = try await browser.page(InventoryQuery(search: "P012", perPage: 500))
            #expect(search.rows.map(\.name) == (120...129).map { String(format: "p%04d", $0) }, "case-insensitive substring of the name")
            #expect(try await browser.page(InventoryQuery(search: "_name%")).rows.map(\.name) == ["odd_name%"])
            #expect(try await browser.page(InventoryQuery(search: "%")).total == 1, "% is a character, not a wildcard")
            #expect(try await browser.page(InventoryQuery(search: "p3.yaml")).total == 100, "the file path is searched too")
            #expect(try await browser.page(InventoryQuery(driftedOnly: true)).rows.map(\.name) == ["p0500"])
            #expect(InventoryQuery(page: -3, perPage: 100_000) == InventoryQuery(page: 1, perPage: InventoryQuery.maxPerPage))
        }
    }

    @Test("an apply records each document's line, and a document that only moved gets its new place without a change")
    func inventoryLines() async throws {
        try await withStore { tx, conn in
            try await tx.applyRepo(["profiles/a.yaml": profileYAML("a") + "---\n" + profileYAML("b")])
            func place(_ name: String) async throws -> (String?, Int?) {
                let row = try await conn.query("SELECT path, line FROM gitops_objects WHERE name = $1", [.text(name)]).single()
                return (try row.optionalString("path"), try row.optionalInt("line"))
            }
            #expect(try await place("a") == ("profiles/a.yaml", 1))
            #expect(try await place("b") == ("profiles/a.yaml", 6))
            let serial = try await conn.query("SELECT serial FROM beamsync_plan_serial").single().int64("serial")
            let (plan, _) = try await tx.applyRepo(["profiles/a.yaml": "# moved down\n" + profileYAML("a"), "profiles/b.yaml": profileYAML("b")])
            #expect(!plan.summary.hasChanges)
            #expect(try await place("a") == ("profiles/a.yaml", 2))
            #expect(try await place("b") == ("profiles/b.yaml", 1))
            #expect(try await conn.query("SELECT serial FROM beamsync_plan_serial").single().int64("serial") == serial,
                    "moving a document is not a change")
        }
    }

    @Test("webhook deliveries are kept to the newest hundred, newest first")
    func deliveriesBounded() async throws {
        try await withStore { _, conn in
            let log = WebhookDeliveryLog(conn: conn)
            for i in 0..<105 {
                try await log.record(WebhookDelivery(provider: "github", result: i % 2 == 0 ? "accepted" : "rejected", httpStatus: i % 2 == 0 ? 202 : 401,
                                                     event: "push", delivery: "d\(i)", message: i % 2 == 0 ? nil : "X-Hub-Signature-256 does not match"))
            }
            #expect(try await conn.query("SELECT count(*) AS n FROM gitops_webhook_deliveries").single().int("n") == WebhookDeliveryLog.limit)
            let recent = try await log.recent(limit: 3)
            #expect(recent.map(\.delivery) == ["d104", "d103", "d102"])
            #expect(recent[1].result == "rejected" && recent[1].httpStatus == 401 && recent[1].receivedAt != nil)
            let long = WebhookDelivery(provider: "generic", result: "rejected", httpStatus: 401, event: String(repeating: "e", count: 500))
            #expect(long.event?.count == 100, "header values are clipped")
        }
    }

    @Test("replica heartbeats: a silent replica is stale; a stopped one leaves the list")
    func heartbeats() async throws {
        try await withStore { _, conn in
            let registry = ControllerRegistry(conn: conn)
            try await registry.beat(identity: "a:1", startedAt: Date(), leader: true, interval: .seconds(10))
            try await registry.beat(identity: "b:2", startedAt: Date(), leader: false, interval: .seconds(10))
            let now = try await StatusQueries(conn: conn).databaseNow()
            #expect(try await registry.all(now: now).allSatisfy { !$0.stale })
            try await conn.query("UPDATE gitops_controllers SET heartbeat_at = now() - interval '91 seconds' WHERE identity = 'a:1'")
            let later = try await registry.all(now: now)
            #expect(later.first { $0.identity == "a:1" }?.stale == true, "3 × 10 s + 60 s have passed")
            #expect(later.first { $0.identity == "b:2" }?.stale == false)
            try await registry.leave(identity: "b:2")
            #expect(try await registry.all(now: now).map(\.identity) == ["a:1"])
        }
    }

    @Test("a runner is active exactly while a session with the runner's application_name is connected")
    func runnerPresence() async throws {
        try await withStore { _, conn in
            let presence = RunnerPresence(conn: conn)
            #expect(try await presence.activeRunners() == 0)
            let database = try await conn.query("SELECT current_database() AS d").single().string("d")
            let runner = try await PGConnection.connect(conninfo: try #require(TestDatabase.url),
                                                        overrides: ["dbname": database, "application_name": RunnerPresence.applicationName])
            let worker = try await PGConnection.connect(conninfo: try #require(TestDatabase.url),
                                                        overrides: ["dbname": database, "application_name": RunnerPresence.workerApplicationName])
            #expect(try await presence.activeRunners() == 1, "one runner, whatever its other sessions")
            await runner.close()
            await worker.close()
            var gone = false
            for _ in 0..<100 where !gone {
                gone = try await presence.activeRunners() == 0
                if !gone { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(gone)
        }
    }
}
