import BeamsyncController
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

extension TestRepository {
    /// The repository followed through a real `GitSource` (its mirror inside `.git`, removed with it).
    var source: GitSource { GitSource(url: url, ref: "main", cacheDirectory: dir.appendingPathComponent(".git/beamsync-cache").path) }
}

@Suite("Drift and heartbeats as the controller records them", .serialized,
       .requires(.postgres))
struct DriftStatusTests {
    @Test("a psql edit of a managed profile becomes a Drifted condition naming the object and field, with the run's trigger")
    func psqlEditBecomesDrift() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            let revision = try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001), "profiles/b.yaml": restProfile("b", port: 8002)],
                                           message: "two profiles\n\nbody")
            var options = ControllerOptions()
            options.identity = "test-host:1"
            let controller = Controller(source: repo.source, conninfo: db.url, options: options)
            defer { Task { await controller.close() } }
            #expect(await controller.reconcile(trigger: .start) == .applied(revision: revision, changes: 2, triggered: 0))
            let conn = try await db.connect()
            defer { Task { await conn.close() } }
            var status = try await GitOpsStatus.read(conn: conn)
            var source = try #require(status.sources.first)
            #expect(source.drift == 0 && source.condition(.drifted)?.status == .isFalse)
            #expect(source.condition(.ready)?.status == .isTrue)
            #expect(source.status.lastAppliedSubject == "two profiles", "the subject line of the applied commit")
            #expect(source.status.reconciledBy == "test-host:1" && status.leaderIdentity == "test-host:1")
            #expect(source.history.first?.trigger == .start)

            try await conn.query("UPDATE daliuge_deployment_profile SET deployment = jsonb_set(deployment, '{deploy_port}', '9999') WHERE name = 'b'")
            // The live version moved, so the next pass plans again instead of stopping at the no-op check.
            #expect(await controller.reconcile(trigger: .poll) == .applied(revision: revision, changes: 0, triggered: 0))
            status = try await GitOpsStatus.read(conn: conn)
            source = try #require(status.sources.first)
            #expect(source.drift == 1)
            let drifted = try #require(source.condition(.drifted))
            #expect(drifted.status == .isTrue && drifted.reason == "ChangedOutsideGit")
            #expect(drifted.message.contains("DeploymentProfile/b (deployment.deploy_port)"), "\(drifted.message)")
            #expect(drifted.lastTransitionTime != nil)
            #expect(source.driftedObjects.map(\.name) == ["b"])
            #expect(source.status.status == .ready, "drift is its own condition; the source stays Ready")
            #expect(source.status.message?.contains("1 object changed outside git") == true, "\(source.status.message ?? "")")
            #expect(source.history.first?.trigger == .poll)

            // A pass with nothing new changes nothing: the drift stays recorded.
            #expect(await controller.reconcile(trigger: .poll) == .upToDate(revision: revision))
            #expect(try await GitOpsStatus.read(conn: conn).sources.first?.drift == 1)
            let page = try await InventoryBrowser(conn: conn).page(InventoryQuery(driftedOnly: true))
            #expect(page.rows.map(\.name) == ["b"] && page.rows.first?.drift?.fields == ["deployment.deploy_port"])
            #expect(page.rows.first?.path == "profiles/b.yaml" && page.rows.first?.line == 1)

            // Committing the change to git ends the drift.
            let fixed = try repo.commit(["profiles/b.yaml": restProfile("b", port: 9999)], message: "take the port from the database")
            #expect(await controller.reconcile(trigger: .webhook) == .applied(revision: fixed, changes: 0, triggered: 0))
            source = try #require(try await GitOpsStatus.read(conn: conn).sources.first)
            #expect(source.drift == 0 && source.driftedObjects.isEmpty && source.condition(.drifted)?.status == .isFalse)
            #expect(source.history.first?.trigger == .webhook)
        }
    }

    @Test("a restarted controller reports the recorded drift and managed objects before it plans again")
    func gaugesSurviveRestart() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)], message: "one")
            let conninfo = db.url
            let firstMetrics = ControllerMetrics()
            let first = Controller(source: repo.source, conninfo: conninfo, metrics: firstMetrics)
            _ = await first.reconcile()
            let conn = try await db.connect()
            defer { Task { await conn.close() } }
            try await conn.query("UPDATE daliuge_deployment_profile SET description = 'edited by hand' WHERE name = 'a'")
            _ = await first.reconcile()
            #expect(firstMetrics.render().contains("beamsync_drift_objects 1"))
            await first.close()

            let metrics = ControllerMetrics()
            let restarted = Controller(source: repo.source, conninfo: conninfo, metrics: metrics)
            defer { Task { await restarted.close() } }
            guard case .upToDate = await restarted.reconcile() else {
                Issue.record("the restarted controller's first pass should find nothing new")
                return
            }
            let text = metrics.render()
            #expect(text.contains("beamsync_drift_objects 1"), "\(text)")
            #expect(text.contains(#"beamsync_managed_objects{kind="DeploymentProfile"} 1"#), "\(text)")
        }
    }

    @Test("a controller that stops passing over its source makes the source Stale, not Ready")
    func staleWhenStopped() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)], message: "one")
            var options = ControllerOptions()
            options.interval = .seconds(1)
            let controller = Controller(source: repo.source, conninfo: db.url, options: options)
            defer { Task { await controller.close() } }
            _ = await controller.reconcile()
            let conn = try await db.connect()
            defer { Task { await conn.close() } }
            #expect(try await GitOpsStatus.read(conn: conn).sources.first?.status.status == .ready)
            // The limit is 3 × 1 s + 60 s; the last pass is moved back instead of waiting for it.
            try await conn.query("UPDATE gitops_sources SET last_reconciled_at = now() - interval '64 seconds'")
            try await conn.query("UPDATE gitops_controllers SET heartbeat_at = now() - interval '64 seconds'")
            let status = try await GitOpsStatus.read(conn: conn)
            let source = try #require(status.sources.first)
            #expect(source.stale && source.status.status == .stale && source.recordedStatus == .ready)
            let ready = try #require(source.condition(.ready))
            #expect(ready.status == .unknown && ready.reason == "Stale" && ready.message.contains("Last recorded: Ready (Applied)"), "\(ready.message)")
            #expect(status.leaderIdentity == nil && status.controllers.first?.stale == true, "a silent leader is not shown as the leader")
            try await conn.query("UPDATE gitops_sources SET last_reconciled_at = now() - interval '62 seconds'")
            #expect(try await GitOpsStatus.read(conn: conn).sources.first?.stale == false, "within the limit")
        }
    }
}
