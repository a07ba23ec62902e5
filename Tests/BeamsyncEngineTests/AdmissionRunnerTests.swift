@testable import BeamsyncEngine
import BeamsyncModel
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("Admission in the runner", .serialized, .requires(.postgres))
struct AdmissionRunnerTests {
    @Test("a runner with room for eight runs a profile capped at one execution one at a time, the others waiting with the reason shown")
    func oneAtATime() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("capped", isDefault: true, deployPort: 18999)
            _ = try await h.conn.query("UPDATE daliuge_deployment_profile SET max_concurrent_executions = 1")
            var ids: [UUID] = []
            for i in 0..<3 { ids.append(try await h.create("HelloWorld", name: "capped-\(i)").id) }
            var configuration = testRunnerConfiguration(real: false)
            configuration.concurrency = 8
            configuration.admissionRecheck = .seconds(30)
            let runner = h.runner(configuration)
            let started = ContinuousClock.now
            await runner.run(until: {
                let done = (try? await h.ledger.list(limit: 10).filter(\.isTerminal).count) ?? 0
                return done == 3 || ContinuousClock.now - started > .seconds(60)
            })
            await runner.close()
            let records = try await ids.asyncMap { try await h.record($0) }
            #expect(records.allSatisfy { $0.status == .completed }, "\(records.map(\.status))")
            #expect(ContinuousClock.now - started < .seconds(20), "a freed slot admits the next at once, not at the 30 s recheck")
            let spans = records.map { ($0.admittedAt!, $0.completedAt!) }.sorted { $0.0 < $1.0 }
            for (previous, next) in zip(spans, spans.dropFirst()) {
                #expect(next.0 >= previous.1, "admitted only after the previous one ended")
            }
            for id in ids.dropFirst() {
                let waiting = try await h.ledger.events(of: id).filter { $0.step == "waiting" }
                #expect(!waiting.isEmpty && waiting[0].message?.hasPrefix("waiting: deployment profile 'capped' runs at most 1 execution at once") == true)
                #expect(try await h.record(id).waitingReason == nil, "cleared once admitted")
            }
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
