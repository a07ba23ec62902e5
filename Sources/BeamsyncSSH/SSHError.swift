import Foundation

/// The steps of reaching a remote command, in order. Every `SSHError` belongs to one of them, so
/// a preflight can say which step failed.
public enum SSHStep: String, Sendable, CaseIterable {
    case credentials      // resolving the key, passphrase and known_hosts (the key policy)
    case resolve          // DNS
    case tcpConnect = "tcp_connect"
    case handshake        // SSH banner, key exchange
    case hostKey = "host_key"
    case authentication
    case command          // exec or SFTP on an authenticated session
}

/// Everything that can go wrong between beamsync and an sshd. Each message names the endpoint
/// (`host:port`, with the user where it matters) and what to check. Keys, passphrases and command
/// output never appear: keys are named by where they come from (a variable or a path).
public enum SSHError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key policy refused the configuration (each finding names the variable or file).
    case credentialsRejected(endpoint: String, findings: [SecurityFinding])
    case resolveFailed(endpoint: String, reason: String)
    case connectionRefused(endpoint: String)
    case connectFailed(endpoint: String, reason: String)
    case timedOut(endpoint: String, step: SSHStep, seconds: Double)
    case handshakeFailed(endpoint: String, reason: String)
    /// No plain entry for the host and port; `hashedEntries` counts `|1|` lines that were not consulted.
    case hostKeyNotListed(endpoint: String, knownHosts: String, hostPattern: String, fingerprint: String,
                          hashedEntries: Int)
    case hostKeyMismatch(endpoint: String, knownHosts: String, fingerprint: String, lines: [Int])
    /// The host is listed only with key types other than the one the server presented.
    case hostKeyTypeNotListed(endpoint: String, knownHosts: String, offered: String, listed: [String])
    case hostKeyRevoked(endpoint: String, knownHosts: String, line: Int)
    case knownHostsUnreadable(path: String, reason: String)
    case privateKeyUnusable(key: String, reason: String)
    case passphraseRequired(key: String)
    case wrongPassphrase(key: String, passphrase: String)
    case rsaKeyRefused(endpoint: String, user: String, key: String, server: String)
    case authenticationRefused(endpoint: String, user: String, key: String)
    case channelRefused(endpoint: String, reason: String)
    case commandTimedOut(endpoint: String, command: String, seconds: Double)
    /// The transport broke. `requestSent` says whether the command (or upload) may have reached
    /// the server: only requests that were never sent are safe to repeat.
    case connectionLost(endpoint: String, reason: String, requestSent: Bool)
    case commandFailed(endpoint: String, command: String, reason: String)
    case sftp(endpoint: String, operation: String, path: String, reason: String)
    case closed(endpoint: String)
    case cancelled(endpoint: String)
    case library(message: String)

    public var step: SSHStep {
        switch self {
        case .credentialsRejected: .credentials
        case .resolveFailed: .resolve
        case .connectionRefused, .connectFailed: .tcpConnect
        case .timedOut(_, let step, _): step
        case .handshakeFailed: .handshake
        case .hostKeyNotListed, .hostKeyMismatch, .hostKeyTypeNotListed, .hostKeyRevoked, .knownHostsUnreadable: .hostKey
        case .privateKeyUnusable, .passphraseRequired, .wrongPassphrase, .rsaKeyRefused, .authenticationRefused:
            .authentication
        case .channelRefused, .commandTimedOut, .connectionLost, .commandFailed, .sftp, .closed, .cancelled, .library:
            .command
        }
    }

    /// True when repeating the operation on a fresh connection cannot run anything twice.
    public var isSafeToRetryOnNewConnection: Bool {
        if case .connectionLost(_, _, let requestSent) = self { return !requestSent }
        return false
    }

    public var description: String {
        switch self {
        case let .credentialsRejected(endpoint, findings):
            return "ssh \(endpoint): the SSH credentials are not usable: "
                + findings.map { "\($0.message) (fix: \($0.fix))" }.joined(separator: "; ")
        case let .resolveFailed(endpoint, reason):
            return "ssh \(endpoint): cannot resolve the host name (\(reason)); check the profile's login_node"
        case let .connectionRefused(endpoint):
            return "ssh \(endpoint): connection refused; check the profile's login_node and ssh_port and that sshd listens there"
        case let .connectFailed(endpoint, reason):
            return "ssh \(endpoint): cannot connect (\(reason)); check login_node, ssh_port and the network path (firewall, VPN)"
        case let .timedOut(endpoint, step, seconds):
            return "ssh \(endpoint): no answer within \(Self.seconds(seconds)) during \(step.rawValue); "
                + "check login_node, ssh_port and firewalls between beamsync and the login node"
        case let .handshakeFailed(endpoint, reason):
            return "ssh \(endpoint): the SSH handshake failed (\(reason)); check that ssh_port is an SSH server's port"
        case let .hostKeyNotListed(endpoint, knownHosts, pattern, fingerprint, hashed):
            let skipped = hashed > 0 ? " (\(hashed) hashed entr\(hashed == 1 ? "y was" : "ies were") not consulted: beamsync reads plain entries only)" : ""
            return "ssh \(endpoint): the server's host key \(fingerprint) is not trusted: \(knownHosts) has no entry for \(pattern)\(skipped); "
                + "add a plain entry (e.g. from `ssh-keyscan \(Self.keyscanArguments(pattern))`) after checking the fingerprint with the cluster's administrators"
        case let .hostKeyMismatch(endpoint, knownHosts, fingerprint, lines):
            return "ssh \(endpoint): HOST KEY MISMATCH: the server presented \(fingerprint), which differs from \(knownHosts) "
                + "line\(lines.count == 1 ? "" : "s") \(lines.map(String.init).joined(separator: ", ")); the host key changed or the "
                + "connection is being intercepted; confirm the new fingerprint with the cluster's administrators before replacing the entry"
        case let .hostKeyTypeNotListed(endpoint, knownHosts, offered, listed):
            return "ssh \(endpoint): the server presented a \(offered) host key but \(knownHosts) lists only \(listed.joined(separator: ", ")) "
                + "for it; add the server's \(offered) key to known_hosts after checking its fingerprint"
        case let .hostKeyRevoked(endpoint, knownHosts, line):
            return "ssh \(endpoint): the server presented a host key marked @revoked in \(knownHosts) line \(line); refusing to connect"
        case let .knownHostsUnreadable(path, reason):
            return "known_hosts \(path) cannot be read (\(reason)); check the path and its permissions"
        case let .privateKeyUnusable(key, reason):
            return "the private key \(key) cannot be used (\(reason)); use an OpenSSH or PEM ed25519 or ECDSA private key"
        case let .passphraseRequired(key):
            return "the private key \(key) is protected by a passphrase but none is configured; "
                + "set SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE (or put the passphrase in the credential slot's passphrase file)"
        case let .wrongPassphrase(key, passphrase):
            return "the private key \(key) cannot be decrypted with the passphrase from \(passphrase); check that the passphrase file belongs to this key"
        case let .rsaKeyRefused(endpoint, user, key, server):
            return "ssh \(user)@\(endpoint) refused the RSA key \(key): libssh2 1.10 signs only with ssh-rsa (SHA-1), "
                + "which OpenSSH 8.8 and later refuse (the server is \(server)); use an ed25519 or ECDSA key"
        case let .authenticationRefused(endpoint, user, key):
            return "ssh \(user)@\(endpoint) refused public-key authentication with \(key); check the profile's remote_user and "
                + "that the key's public half is in that user's ~/.ssh/authorized_keys"
        case let .channelRefused(endpoint, reason):
            return "ssh \(endpoint): the server refused a new channel (\(reason)); check sshd's MaxSessions and the account's limits"
        case let .commandTimedOut(endpoint, command, seconds):
            return "ssh \(endpoint): `\(command)` did not finish within \(Self.seconds(seconds)); its channel was closed "
                + "(the remote process may keep running until it next writes output)"
        case let .connectionLost(endpoint, reason, requestSent):
            return "ssh \(endpoint): the connection was lost (\(reason))"
                + (requestSent ? "; the request may have reached the server" : "; the request was not sent")
        case let .commandFailed(endpoint, command, reason):
            return "ssh \(endpoint): `\(command)` could not be run (\(reason))"
        case let .sftp(endpoint, operation, path, reason):
            return "ssh \(endpoint): SFTP \(operation) of \(path) failed (\(reason)); check that the remote user may write there"
        case let .closed(endpoint):
            return "ssh \(endpoint): the session is closed"
        case let .cancelled(endpoint):
            return "ssh \(endpoint): cancelled"
        case let .library(message):
            return "libssh2: \(message)"
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    /// `[host]:port` → `-p port host`; `host` → `host`.
    private static func keyscanArguments(_ pattern: String) -> String {
        if pattern.hasPrefix("["), let close = pattern.lastIndex(of: "]"),
           pattern.index(after: close) < pattern.endIndex, pattern[pattern.index(after: close)] == ":" {
            let host = pattern[pattern.index(after: pattern.startIndex)..<close]
            let port = pattern[pattern.index(close, offsetBy: 2)...]
            return "-p \(port) \(host)"
        }
        return pattern
    }
}
