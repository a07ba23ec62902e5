import BeamsyncModel
import Foundation

/// A DALiuGE session state (`dlg/manager/session.py` SessionStates), plus what the wire can say
/// that is not a state.
public enum DIMSessionState: Sendable, Hashable, CustomStringConvertible {
    case pristine      // 0
    case building      // 1: graph appended
    case deploying     // 2
    case running       // 3
    case finished      // 4
    case cancelled     // 5
    case failed        // 6
    /// The manager does not know the session: DALiuGE answers `{"Status": "Success"}` instead of
    /// a state for an unknown session id (for example after an NM restart).
    case missing
    /// A value that is not a state we know; kept verbatim.
    case unrecognised(String)

    public init(number: Int64) {
        switch number {
        case 0: self = .pristine
        case 1: self = .building
        case 2: self = .deploying
        case 3: self = .running
        case 4: self = .finished
        case 5: self = .cancelled
        case 6: self = .failed
        default: self = .unrecognised(String(number))
        }
    }

    /// Names, case-insensitively: FINISHED/COMPLETED, CANCELLED/CANCELED, FAILED/FAIL/ERROR,
    /// RUNNING, DEPLOYING, BUILDING, PRISTINE; a numeric string reads as its number.
    public init(name: String) {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if let number = Int64(trimmed) {
            self.init(number: number)
            return
        }
        switch trimmed.uppercased() {
        case "PRISTINE": self = .pristine
        case "BUILDING": self = .building
        case "DEPLOYING": self = .deploying
        case "RUNNING": self = .running
        case "FINISHED", "COMPLETED": self = .finished
        case "CANCELLED", "CANCELED": self = .cancelled
        case "FAILED", "FAIL", "ERROR": self = .failed
        default: self = .unrecognised(name)
        }
    }

    /// DALiuGE's number for the state, when it has one.
    public var number: Int? {
        switch self {
        case .pristine: 0
        case .building: 1
        case .deploying: 2
        case .running: 3
        case .finished: 4
        case .cancelled: 5
        case .failed: 6
        case .missing, .unrecognised: nil
        }
    }

    /// FINISHED, CANCELLED and FAILED never change again.
    public var isTerminal: Bool { self == .finished || self == .cancelled || self == .failed }

    public var description: String {
        switch self {
        case .pristine: "PRISTINE"
        case .building: "BUILDING"
        case .deploying: "DEPLOYING"
        case .running: "RUNNING"
        case .finished: "FINISHED"
        case .cancelled: "CANCELLED"
        case .failed: "FAILED"
        case .missing: "MISSING"
        case .unrecognised(let raw): "UNRECOGNISED(\(raw))"
        }
    }

    /// The order in which a still-active node dominates an aggregate.
    fileprivate var activity: Int {
        switch self {
        case .running: 4
        case .deploying: 3
        case .building: 2
        case .pristine: 1
        default: 0
        }
    }
}

/// A session's status as `GET /api/sessions/{id}/status` reports it: the aggregate state and,
/// for a DIM, each node's own state.
public struct SessionStatus: Sendable, Hashable, CustomStringConvertible {
    public var state: DIMSessionState
    /// node → state; empty when the reply was a bare state (an NM, or a test double).
    public var nodes: [String: DIMSessionState]

    public init(state: DIMSessionState, nodes: [String: DIMSessionState] = [:]) {
        self.state = state
        self.nodes = nodes
    }

    /// Reads any shape beampipe accepts:
    /// - an int (`4`), a string (`"Finished"`), a float with an integral value;
    /// - a wrapper `{"status": x}`;
    /// - DALiuGE's unknown-session answer `{"Status": "Success"}` → `.missing`;
    /// - a per-node map `{"host:port:...": x, ...}`, aggregated by `aggregate`.
    public init(json: JSONValue) {
        switch json {
        case .object(let object):
            if let inner = object["status"] {
                self = SessionStatus(json: inner)
            } else if object.keys.contains("Status") && object.count == 1 {
                self.init(state: .missing)
            } else if object.isEmpty {
                self.init(state: .unrecognised("{}"))
            } else {
                var nodes: [String: DIMSessionState] = [:]
                for (node, value) in object { nodes[node] = SessionStatus(json: value).state }
                self.init(state: Self.aggregate(Array(nodes.values)), nodes: nodes)
            }
        default:
            self.init(state: Self.scalarState(json))
        }
    }

    static func scalarState(_ json: JSONValue) -> DIMSessionState {
        switch json {
        case .int(let n): DIMSessionState(number: n)
        case .double(let d) where d.rounded() == d && abs(d) < 1e6: DIMSessionState(number: Int64(d))
        case .string(let s): DIMSessionState(name: s)
        default: .unrecognised(json.canonicalString)
        }
    }

    /// One state for many nodes: any failed → failed; all finished → finished; all cancelled →
    /// cancelled; finished and cancelled only → cancelled (nothing more will run); any node that
    /// lost the session → missing; otherwise the most active of running > deploying > building >
    /// pristine, or unrecognised.
    public static func aggregate(_ states: [DIMSessionState]) -> DIMSessionState {
        guard !states.isEmpty else { return .unrecognised("no nodes") }
        if states.contains(.failed) { return .failed }
        if states.allSatisfy({ $0 == .finished }) { return .finished }
        if states.allSatisfy({ $0 == .cancelled }) { return .cancelled }
        if states.allSatisfy({ $0 == .finished || $0 == .cancelled }) { return .cancelled }
        if states.contains(.missing) { return .missing }
        if let busiest = states.max(by: { $0.activity < $1.activity }), busiest.activity > 0 { return busiest }
        return states.first { if case .unrecognised = $0 { true } else { false } } ?? .unrecognised("mixed")
    }

    public var description: String {
        guard nodes.count > 1 else { return state.description }
        let perNode = nodes.keys.sorted().map { "\($0)=\(nodes[$0]!)" }.joined(separator: ", ")
        return "\(state) (\(perNode))"
    }
}
