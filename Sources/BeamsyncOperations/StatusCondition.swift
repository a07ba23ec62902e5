import BeamsyncModel
import BeamsyncStore
import BeamsyncTime
import Foundation

/// A condition in the Kubernetes style: a type, True / False / Unknown, a machine reason, a
/// sentence and when the status last changed.
public struct Condition: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The source's last revision is applied and the controller is alive.
        case ready = "Ready"
        /// Managed objects were changed outside git.
        case drifted = "Drifted"
    }

    public enum Status: String, Sendable, Codable {
        case isTrue = "True"
        case isFalse = "False"
        case unknown = "Unknown"
    }

    public var type: Kind
    public var status: Status
    public var reason: String
    public var message: String
    public var lastTransitionTime: Date?

    public init(type: Kind, status: Status, reason: String, message: String, lastTransitionTime: Date?) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
    }

    enum CodingKeys: String, CodingKey {
        case type, status, reason, message, lastTransitionTime = "last_transition_time"
    }

    /// Whether the condition is in the state people want: Ready true, Drifted false.
    public var isHealthy: Bool {
        switch type {
        case .ready: status == .isTrue
        case .drifted: status == .isFalse
        }
    }

    static func ready(_ s: SourceStatus, stale: Bool, interval: Duration?) -> Condition {
        let recorded = [s.status?.rawValue, s.reason.map { "(\($0.rawValue))" }].compactMap { $0 }.joined(separator: " ")
        if stale {
            let last = s.lastReconciledAt ?? s.updatedAt
            let limit = Staleness.limit(interval: interval ?? Staleness.defaultInterval)
            return Condition(type: .ready, status: .unknown, reason: "Stale",
                             message: "no controller has passed over this source since \(last.map { UTCTimestamp($0).iso8601() } ?? "-")"
                                + " (limit \(DurationWords.text(limit))): is the controller running?"
                                + (recorded.isEmpty ? "" : " Last recorded: \(recorded)."),
                             lastTransitionTime: last.map { $0.addingTimeInterval(limit.inSeconds) })
        }
        switch s.status {
        case .ready?:
            return Condition(type: .ready, status: .isTrue, reason: s.reason?.rawValue ?? "Applied", message: s.message ?? "",
                             lastTransitionTime: s.readyTransitionAt)
        case .stalled?:
            return Condition(type: .ready, status: .isFalse, reason: s.reason?.rawValue ?? "Failed", message: s.message ?? "",
                             lastTransitionTime: s.readyTransitionAt)
        case .reconciling?:
            return Condition(type: .ready, status: .unknown, reason: s.reason?.rawValue ?? StatusReason.progressing.rawValue,
                             message: s.message ?? "", lastTransitionTime: s.updatedAt)
        case .stale?, nil:
            return Condition(type: .ready, status: .unknown, reason: "NotReconciled", message: "waiting for the first reconcile",
                             lastTransitionTime: nil)
        }
    }

    /// Objects named in the message (the count is always complete).
    static let namedObjects = 5

    static func drifted(_ s: SourceStatus, count: Int?, objects: [DriftedObject]) -> Condition {
        guard let count else {
            return Condition(type: .drifted, status: .unknown, reason: "NotChecked", message: "no reconcile has planned against the database yet",
                             lastTransitionTime: nil)
        }
        if count == 0 {
            return Condition(type: .drifted, status: .isFalse, reason: "NoDrift", message: "every managed object matches git",
                             lastTransitionTime: s.driftTransitionAt)
        }
        var message = "\(count) managed object\(count == 1 ? " was" : "s were") changed outside git"
        if !objects.isEmpty {
            let named = min(objects.count, namedObjects)
            message += ": " + objects.prefix(named).map(\.label).joined(separator: ", ")
            if count > named { message += ", and \(count - named) more" }
        }
        return Condition(type: .drifted, status: .isTrue, reason: "ChangedOutsideGit",
                         message: message + ". Commit the change to git, or reconcile with heal to restore the git version.",
                         lastTransitionTime: s.driftTransitionAt)
    }
}

/// `3m`, `1h30m`, `45s`: durations as the command line takes them.
public enum DurationWords {
    public static func text(_ d: Duration) -> String {
        var seconds = Int(d.inSeconds.rounded())
        if seconds < 60 { return "\(seconds)s" }
        var out = ""
        if seconds >= 3600 { out += "\(seconds / 3600)h"; seconds %= 3600 }
        if seconds >= 60 { out += "\(seconds / 60)m"; seconds %= 60 }
        if seconds > 0 { out += "\(seconds)s" }
        return out
    }
}
