/// Where commands run: a login node, a port, a remote user and the credential that opens it.
/// The pool keeps one session per target, so two profiles that share all four share a session.
/// `credential` is the profile's `ssh_credential` slot, or nil for the process-wide credential.
public struct SSHTarget: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var credential: String?

    public init(host: String, port: Int = 22, user: String, credential: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.credential = credential
    }

    /// `host:port`, as every message names the server (IPv6 literals in brackets).
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The name known_hosts uses for this server: `host` on port 22, `[host]:port` otherwise.
    public var knownHostsName: String {
        port == 22 ? host.lowercased() : "[\(host.lowercased())]:\(port)"
    }

    public var description: String {
        "\(user)@\(endpoint)" + (credential.map { " (credential \($0))" } ?? "")
    }
}
