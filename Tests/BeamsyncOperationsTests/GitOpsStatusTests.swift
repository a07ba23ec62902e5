import BeamsyncModel
import BeamsyncOperations
import BeamsyncStore
import Foundation
import Testing

@Suite("The status document's JSON contract")
struct GitOpsStatusTests {
    let sample = GitOpsStatus(
        sources: [.init(status: SourceStatus(id: 7, url: "file:///srv/config", branch: "main", path: "site", status: .stalled,
                                             reason: .validationFailed, message: "profiles/a.yaml:2:3: error", failures: 2,
                                             nextAttemptAt: Date(timeIntervalSince1970: 1_800_000_000), suspended: false),
                        history: [SyncRun(revision: "abc", startedAt: Date(timeIntervalSince1970: 1_799_999_000), finishedAt: nil,
                                          result: .applied, summary: .object(["drift": .int(3)]), error: nil)])],
        liveVersion: 12, leader: true, inventory: .init(profiles: 3, projectConfigs: 1, executions: 2),
        executions: ["pending": 1, "completed": 4])

    @Test("a source's own fields sit beside its history and drift, in snake case, with ISO 8601 times")
    func flattenedSource() throws {
        let json = try JSONValue.parse(bytes: Array(try sample.json().utf8))
        let source = try #require(json["sources"]?.arrayValue?.first)
        #expect(source["url"] == .string("file:///srv/config"))
        #expect(source["status"] == .string("Stalled"))
        #expect(source["reason"] == .string("ValidationFailed"))
        #expect(source["next_attempt_at"] == .string("2027-01-15T08:00:00Z"))
        #expect(source["drift"] == .int(3), "drift is read from the newest completed run's summary")
        #expect(source["history"]?.arrayValue?.first?["result"] == .string("applied"))
        #expect(json["live_version"] == .int(12))
        #expect(json["inventory"]?["project_configs"] == .int(1))
        #expect(json["executions"]?["pending"] == .int(1))
    }

    @Test("the document decodes back to the same value")
    func roundTrip() throws {
        let decoded = try GitOpsStatus.decode(Array(try sample.json().utf8))
        #expect(decoded == sample)
    }

    @Test("a source with only failed runs reports no drift figure")
    func driftUnknownAfterFailures() {
        let source = GitOpsStatus.Source(
            status: SourceStatus(id: 1, url: "u", branch: "b", path: ""),
            history: [SyncRun(revision: nil, startedAt: Date(), finishedAt: nil, result: .failed, summary: nil, error: "boom")])
        #expect(source.drift == nil)
    }

    @Test("a source whose last pass is older than three intervals and a minute reads Stale, with the recorded status kept")
    func staleness() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var row = SourceStatus(id: 1, url: "u", branch: "main", path: "", status: .ready, reason: .upToDate, message: "applied")
        row.pollIntervalMilliseconds = 60_000
        row.lastReconciledAt = now.addingTimeInterval(-239)
        let fresh = GitOpsStatus.Source(status: row, history: [], now: now)
        #expect(!fresh.stale && fresh.status.status == .ready && fresh.condition(.ready)?.status == .isTrue)
        #expect(fresh.nextPollAt == now.addingTimeInterval(-179), "the last pass plus one interval")
        row.lastReconciledAt = now.addingTimeInterval(-241)
        let stale = GitOpsStatus.Source(status: row, history: [], now: now)
        #expect(stale.stale && stale.status.status == .stale && stale.recordedStatus == .ready)
        let ready = try #require(stale.condition(.ready))
        #expect(ready.status == .unknown && ready.reason == "Stale" && ready.message.contains("Last recorded: Ready (UpToDate)"))
        let json = try JSONValue.parse(bytes: Array(try GitOpsStatus(sources: [stale], liveVersion: 1, leader: nil, inventory: .init(),
                                                                     executions: [:]).json().utf8))
        let source = try #require(json["sources"]?.arrayValue?.first)
        #expect(source["status"] == .string("Stale") && source["recorded_status"] == .string("Ready") && source["stale"] == .bool(true))
        #expect(source["conditions"]?.arrayValue?.first?["type"] == .string("Ready"))
        #expect(source["conditions"]?.arrayValue?.first?["status"] == .string("Unknown"))
    }

    @Test("the Drifted condition counts every drifted object and names the first ones with their fields")
    func driftedCondition() throws {
        var row = SourceStatus(id: 1, url: "u", branch: "main", path: "", status: .ready)
        row.driftCount = 7
        let objects = (0..<7).map { DriftedObject(kind: .deploymentProfile, name: "p\($0)", fields: $0 == 0 ? ["deployment.deploy_port"] : []) }
        let source = GitOpsStatus.Source(status: row, history: [], driftedObjects: objects)
        let drifted = try #require(source.condition(.drifted))
        #expect(drifted.status == .isTrue && drifted.reason == "ChangedOutsideGit")
        #expect(drifted.message.hasPrefix("7 managed objects were changed outside git: DeploymentProfile/p0 (deployment.deploy_port), DeploymentProfile/p1"))
        #expect(drifted.message.contains("and 2 more"), "\(drifted.message)")
        row.driftCount = 0
        #expect(GitOpsStatus.Source(status: row, history: []).condition(.drifted)?.status == .isFalse)
        row.driftCount = nil
        #expect(GitOpsStatus.Source(status: row, history: []).condition(.drifted)?.status == .unknown)
    }

    @Test("sync runs carry their trigger and duration; pending executions without a runner are flagged")
    func runsAndRunners() throws {
        let run = SyncRun(revision: "r", startedAt: Date(timeIntervalSince1970: 100), finishedAt: Date(timeIntervalSince1970: 101.25),
                          result: .applied, summary: nil, error: nil, trigger: .webhook)
        let json = try JSONValue.parse(bytes: Array(try GitOpsStatus(
            sources: [.init(status: SourceStatus(id: 1, url: "u", branch: "b", path: ""), history: [run])], liveVersion: 1, leader: nil,
            inventory: .init(), executions: ["pending": 2], runnersActive: 0).json().utf8))
        let first = try #require(json["sources"]?.arrayValue?.first?["history"]?.arrayValue?.first)
        #expect(first["trigger"] == .string("webhook") && first["duration_ms"] == .int(1250))
        #expect(json["runners_active"] == .int(0))
        let document = try GitOpsStatus.decode(Array(try GitOpsStatus(sources: [], liveVersion: 1, leader: nil, inventory: .init(),
                                                                         executions: ["pending": 2], runnersActive: 0).json().utf8))
        #expect(document.pendingWithoutRunner)
    }
}
