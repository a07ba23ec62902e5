/// How a session was opened, step by step, for `slurm ping` and preflight reports.
public struct SSHConnectReport: Sendable {
    /// Time spent in each step that ran (resolve, tcp_connect, handshake, host_key, authentication).
    public let timings: [SSHStep: Duration]
    /// The server's identification, e.g. `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3`.
    public let serverBanner: String
    public let hostKeyType: String
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    public let hostKeyFingerprint: String
    /// The known_hosts line that vouched for the key; nil when the key was accepted without one.
    public let knownHostsLine: Int?
    /// The local TCP port of the connection (what the server sees in SSH_CONNECTION).
    public let localPort: Int
}
