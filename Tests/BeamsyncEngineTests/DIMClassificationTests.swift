@testable import BeamsyncEngine
import BeamsyncModel
import Testing

/// Mirrors beampipe's `beampipe-orchestration/tests/dim_classification.rs`, plus the DALiuGE
/// quirks beampipe gets wrong (`{"Status": "Success"}` for an unknown session).
@Suite("DIM state classification")
struct DIMClassificationTests {
    private func state(_ json: String) throws -> DIMSessionState {
        SessionStatus(json: try JSONValue.parse(json)).state
    }

    private func ledger(_ json: String) throws -> String {
        switch try state(json) {
        case .finished: "completed"
        case .cancelled: "cancelled"
        case .failed: "failed"
        default: "running"
        }
    }

    @Test("DALiuGE's integer session states map to completed, cancelled, failed or running",
          arguments: [("4", "completed"), ("5", "cancelled"), ("6", "failed"), ("3", "running"), ("2", "running")])
    func integerStates(json: String, expected: String) throws {
        #expect(try ledger(json) == expected)
    }

    @Test("state names are read case-insensitively, and a number given as a string counts as that number", arguments: [
        (#""FINISHED""#, "completed"), (#""Finished""#, "completed"), (#""COMPLETED""#, "completed"),
        (#""CANCELLED""#, "cancelled"), (#""canceled""#, "cancelled"),
        (#""FAILED""#, "failed"), (#""fail""#, "failed"), (#""ERROR""#, "failed"),
        (#""Running""#, "running"), (#""4""#, "completed"),
    ])
    func stringStatesAreCaseInsensitive(json: String, expected: String) throws {
        #expect(try ledger(json) == expected)
    }

    @Test("a state wrapped in a status object is unwrapped", arguments: [
        (#"{"status": 4}"#, "completed"), (#"{"status": "FINISHED"}"#, "completed"),
        (#"{"status": 5}"#, "cancelled"), (#"{"status": 6}"#, "failed"),
    ])
    func statusWrappersAreUnwrapped(json: String, expected: String) throws {
        #expect(try ledger(json) == expected)
    }

    @Test("a map of per-node states is aggregated into one session state", arguments: [
        (#"{"nm1:8000": 4, "nm2:8000": 4}"#, "completed"),
        (#"{"nm1:8000": 4, "nm2:8000": 6}"#, "failed"),
        (#"{"nm1:8000": 5, "nm2:8000": 5}"#, "cancelled"),
        (#"{"nm1:8000": 2, "nm2:8000": 4}"#, "running"),
    ])
    func perNodeMapsAreAggregated(json: String, expected: String) throws {
        #expect(try ledger(json) == expected)
    }

    @Test("DALiuGE's state numbers 0 to 6 round-trip exactly, and an unknown number is kept as unrecognised")
    func exactUpstreamNumbersArePreserved() {
        for n in 0...6 { #expect(DIMSessionState(number: Int64(n)).number == n) }
        #expect(DIMSessionState(number: 7) == .unrecognised("7"))
    }

    @Test("a per-node status keeps each node's state next to the aggregate")
    func compositeStateRetainsPerNodeValues() throws {
        let status = SessionStatus(json: try JSONValue.parse(#"{"a:1:2:3": 2, "b:1:2:3": 4}"#))
        #expect(status.state == .deploying)
        #expect(status.nodes == ["a:1:2:3": .deploying, "b:1:2:3": .finished])
    }

    @Test("aggregation ranks failed over missing over running and deploying over building, cancelled over finished; no nodes is unrecognised")
    func aggregationPriority() {
        #expect(SessionStatus.aggregate([.running, .building, .pristine]) == .running)
        #expect(SessionStatus.aggregate([.deploying, .building]) == .deploying)
        #expect(SessionStatus.aggregate([.finished, .cancelled]) == .cancelled)
        #expect(SessionStatus.aggregate([.missing, .running]) == .missing)
        #expect(SessionStatus.aggregate([.failed, .missing]) == .failed)
        #expect(SessionStatus.aggregate([]) == .unrecognised("no nodes"))
    }

    @Test("the Success answer of a DIM or Node Manager for a session it does not know is missing, not running; odd values are unrecognised")
    func unknownSessionAnswersAreMissingNotRunning() throws {
        // DIM: 200 {"<node>": {"Status": "Success"}}; NM: 200 {"Status": "Success"}.
        #expect(try state(#"{"127.0.0.1:18000:15555:16666": {"Status": "Success"}}"#) == .missing)
        #expect(try state(#"{"Status": "Success"}"#) == .missing)
        #expect(try state(#""SOMETHING""#) == .unrecognised("SOMETHING"))
        #expect(try state("null") == .unrecognised("null"))
        #expect(try state("4.0") == .finished)
    }

    @Test("the drops in error are read from a graph status given as numbers, objects or names, sorted; expired and cancelled drops are not errors")
    func graphStatusErrorDrops() throws {
        #expect(GraphStatus(json: try JSONValue.parse(#"{"drop_a": 3, "drop_b": 2}"#)).errorDrops == ["drop_a"])
        let full = GraphStatus(json: try JSONValue.parse("""
            {"x_data": {"status": 3}, "a_app": {"status": 3, "execStatus": 3}, "ok": {"status": 2, "execStatus": 2},
             "s": {"status": "ERROR"}, "t": {"status": "Failed"}, "expired": {"status": 4}, "cancelled": {"status": 6}}
            """))
        #expect(full.errorDrops == ["a_app", "s", "t", "x_data"])
        #expect(GraphStatus(json: try JSONValue.parse("{}")).errorDrops.isEmpty)
    }

    @Test("the DIM's error bodies become typed errors: unknown session, session exists, node failure and rejected graph")
    func dimErrorBodiesAreTyped() throws {
        func classify(_ status: Int, _ body: String, session: String? = "s") -> DIMError {
            let response = HTTPResponse(status: status, body: Array(body.utf8))
            return DIMClient.classify(HTTPError(method: .get, url: "http://dim/api", response: response),
                                      response: response, session: session)
        }
        let node = "127.0.0.1:18000:15555:16666"
        #expect(classify(555, #"{"type": "SubManagerException", "args": {"\#(node)": {"type": "NoSessionException", "args": "dummy"}}}"#)
                == .sessionUnknown(sessionID: "s"))
        #expect(classify(404, #"{"type": "NoSessionException", "args": ["s"]}"#) == .sessionUnknown(sessionID: "s"))
        #expect(classify(555, #"{"type": "SubManagerException", "args": {"\#(node)": {"type": "SessionAlreadyExistsException", "args": "dummy"}}}"#)
                == .sessionExists(sessionID: "s"))
        if case .nodeFailure(let n, let reason, _) = classify(555, #"{"type": "SubManagerException", "args": {"\#(node)": {"type": "SubManagerException", "args": "x"}}}"#) {
            #expect(n == node)
            #expect(reason == "SubManagerException")
        } else {
            Issue.record("expected nodeFailure")
        }
        if case .rejected(let e) = classify(400, #"{"type": "InvalidGraphException", "args": ["Drop a doesn't specify a node attribute"]}"#) {
            #expect(e.message.contains("doesn't specify a node attribute"))
        } else {
            Issue.record("expected rejected")
        }
    }
}
