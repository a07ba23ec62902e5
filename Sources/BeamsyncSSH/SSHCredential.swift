/// What authenticates a session and decides whether to trust the server: the output of the key
/// policy (`SSHKeyPolicy`), the input of `SSHSession.connect`. Holds no secret in a printable form.
public struct SSHCredential: Sendable {
    public enum PrivateKey: Sendable {
        /// A key file, read by libssh2 when the session authenticates (a rotated file is picked
        /// up by the next connection).
        case file(path: String)
        /// PEM text held in memory (an inline variable); handed to libssh2 without touching disk.
        case inline(SSHSecret, source: String)
    }

    public enum HostKeyCheck: Sendable, Equatable {
        /// The server's key must match a plain entry for the host and port in this file.
        case knownHosts(path: String)
        /// Any key is accepted: development without known_hosts, or production's break-glass
        /// BEAMPIPE_ALLOW_INSECURE_SSH_HOST_KEYS=true.
        case acceptAny
    }

    public var privateKey: PrivateKey
    public var passphrase: SSHSecret?
    public var hostKeyCheck: HostKeyCheck
    /// Where the key comes from, for messages: `SLURM_SSH_PRIVATE_KEY_FILE (/run/secrets/key)`.
    public var keySource: String
    /// Where the passphrase comes from, for messages; nil without a passphrase.
    public var passphraseSource: String?

    public init(privateKey: PrivateKey, passphrase: SSHSecret? = nil, hostKeyCheck: HostKeyCheck,
                keySource: String? = nil, passphraseSource: String? = nil) {
        self.privateKey = privateKey
        self.passphrase = passphrase
        self.hostKeyCheck = hostKeyCheck
        switch privateKey {
        case .file(let path): self.keySource = keySource ?? path
        case .inline(_, let source): self.keySource = keySource ?? source
        }
        self.passphraseSource = passphrase == nil ? nil : (passphraseSource ?? "the configured passphrase")
    }
}
