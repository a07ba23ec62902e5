/// Tunables of one session. The defaults suit a Slurm login node.
public struct SSHSessionOptions: Sendable {
    /// Channels (commands, uploads) open at once on the connection; more callers queue. OpenSSH
    /// refuses channels beyond its MaxSessions (10 by default), so stay below it.
    public var maxConcurrentChannels: Int = 8
    /// A keepalive is sent after this much idle time, so a NAT or firewall does not drop a pooled
    /// connection and a dead server is noticed.
    public var keepaliveInterval: Duration = .seconds(30)
    /// How long closing a timed-out command's channel may take before the connection is dropped.
    public var abandonGrace: Duration = .seconds(5)
    /// How long an orderly disconnect may take on close.
    public var closeGrace: Duration = .seconds(2)

    public init() {}
}

/// Bounds on what `exec` keeps of a command's output; the rest is read and discarded, and the
/// result says it was truncated.
public struct SSHOutputLimits: Sendable {
    public var stdout: Int
    public var stderr: Int

    public init(stdout: Int = 1 << 20, stderr: Int = 256 << 10) {
        self.stdout = stdout
        self.stderr = stderr
    }

    public static let standard = SSHOutputLimits()
}
