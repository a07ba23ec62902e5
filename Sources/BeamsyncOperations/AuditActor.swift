import Foundation

/// Who makes a change, as the audit trail names them: `cli:alice@host`, `controller:host`,
/// later `token:NAME` for the HTTP API.
public struct AuditActor: Sendable, Equatable, CustomStringConvertible {
    public let name: String

    public init(name: String) { self.name = name }

    /// The person at the command line: `BEAMSYNC_ACTOR`, else `cli:USER@HOST`.
    public static func commandLine(environment: [String: String] = ProcessInfo.processInfo.environment) -> AuditActor {
        if let actor = environment["BEAMSYNC_ACTOR"], !actor.isEmpty { return AuditActor(name: actor) }
        let user = environment["USER"] ?? environment["LOGNAME"] ?? "unknown"
        return AuditActor(name: "cli:\(user)@\(ProcessInfo.processInfo.hostName)")
    }

    /// The controller on this host.
    public static var controller: AuditActor { AuditActor(name: "controller:\(ProcessInfo.processInfo.hostName)") }

    public var description: String { name }
}
