import Foundation

/// What a remote command did.
public struct SSHCommandResult: Sendable {
    /// The exit status, or nil when the command was killed by a signal.
    public let exitStatus: Int32?
    /// The signal's name (e.g. `KILL`) when the command was killed by one.
    public let exitSignal: String?
    public let stdout: Data
    public let stderr: Data
    public let stdoutTruncated: Bool
    public let stderrTruncated: Bool
    public let duration: Duration

    public var succeeded: Bool { exitStatus == 0 }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}
