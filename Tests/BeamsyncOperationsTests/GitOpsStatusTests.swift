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
}
