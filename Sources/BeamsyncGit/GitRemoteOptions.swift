import Foundation

/// How to authenticate to a remote and verify it. Secrets are read from files when a transfer
/// starts, never stored in the repository or shown in messages.
public struct GitRemoteOptions: Sendable, Equatable {
    public var credentials: GitCredentials
    /// HTTPS: verify the server certificate against the CA certificates (PEM or DER) in this
    /// file instead of the system trust store. Per remote, unlike libgit2's process-wide option.
    public var caFile: String?
    /// HTTPS: accept any server certificate. Never the default; meant for break-glass use.
    public var insecureSkipTLSVerify: Bool

    public init(credentials: GitCredentials = .none, caFile: String? = nil, insecureSkipTLSVerify: Bool = false) {
        self.credentials = credentials
        self.caFile = caFile
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
    }

    /// No credentials (file://, public https).
    public static let none = GitRemoteOptions()

    /// HTTPS with a token as the basic-auth password (GitHub/GitLab style).
    public static func https(tokenFile: String? = nil, username: String = GitCredentials.defaultTokenUser,
                             caFile: String? = nil, insecureSkipTLSVerify: Bool = false) -> GitRemoteOptions {
        GitRemoteOptions(credentials: tokenFile.map { .token(file: $0, username: username) } ?? .none,
                         caFile: caFile, insecureSkipTLSVerify: insecureSkipTLSVerify)
    }

    /// SSH with a private key; the server's host key must be listed in `knownHostsFile`.
    public static func ssh(privateKeyFile: String, passphraseFile: String? = nil, knownHostsFile: String,
                           user: String? = nil, publicKeyFile: String? = nil) -> GitRemoteOptions {
        GitRemoteOptions(credentials: .sshKey(GitSSHKey(privateKeyFile: privateKeyFile, publicKeyFile: publicKeyFile,
                                                         passphraseFile: passphraseFile,
                                                         knownHostsFile: knownHostsFile, user: user)))
    }
}

public enum GitCredentials: Sendable, Equatable {
    public static let defaultTokenUser = "x-access-token"

    case none
    /// HTTPS basic auth: `username` and the token read from `file` (surrounding whitespace trimmed).
    case token(file: String, username: String)
    case sshKey(GitSSHKey)
}

public struct GitSSHKey: Sendable, Equatable {
    /// OpenSSH or PEM private key. Use ed25519 or ECDSA: libssh2 1.10 cannot sign with RSA keys
    /// in a way OpenSSH >= 8.8 accepts (no rsa-sha2-256/512).
    public var privateKeyFile: String
    /// Optional; libssh2 derives the public key from the private one when absent.
    public var publicKeyFile: String?
    /// File holding the key's passphrase (one trailing newline is ignored).
    public var passphraseFile: String?
    /// OpenSSH known_hosts file; the server must be listed as `host` (port 22) or `[host]:port`.
    public var knownHostsFile: String
    /// Login name; default: the user in the URL, else `git`.
    public var user: String?

    public init(privateKeyFile: String, publicKeyFile: String? = nil, passphraseFile: String? = nil,
                knownHostsFile: String, user: String? = nil) {
        self.privateKeyFile = privateKeyFile
        self.publicKeyFile = publicKeyFile
        self.passphraseFile = passphraseFile
        self.knownHostsFile = knownHostsFile
        self.user = user
    }
}

// MARK: - URLs

/// The parts of a remote URL the transfer code needs: scheme, user, host and port.
struct RemoteURL: Equatable {
    enum Kind { case local, ssh, https, http, git, other }

    let kind: Kind
    let user: String?
    let host: String
    let port: Int

    init(_ url: String) {
        if let schemeEnd = url.range(of: "://") {
            let scheme = url[..<schemeEnd.lowerBound].lowercased()
            var rest = url[schemeEnd.upperBound...]
            if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
            var user: String?
            if let at = rest.lastIndex(of: "@") {
                let info = rest[..<at]
                user = String(info.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                rest = rest[rest.index(after: at)...]
            }
            var host = String(rest)
            var port: Int?
            if host.hasPrefix("["), let close = host.firstIndex(of: "]") {  // [ipv6]:port
                let after = host[host.index(after: close)...]
                if after.hasPrefix(":") { port = Int(after.dropFirst()) }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if let colon = host.lastIndex(of: ":") {
                port = Int(host[host.index(after: colon)...])
                host = String(host[..<colon])
            }
            switch scheme {
            case "file": kind = .local
            case "ssh", "ssh+git", "git+ssh": kind = .ssh
            case "https": kind = .https
            case "http": kind = .http
            case "git": kind = .git
            default: kind = .other
            }
            self.user = user
            self.host = host
            self.port = port ?? [.ssh: 22, .https: 443, .http: 80, .git: 9418][kind] ?? 0
        } else if let colon = url.firstIndex(of: ":"), !url[..<colon].contains("/"), url.first != "/" {
            // scp-like syntax: [user@]host:path
            let authority = url[..<colon]
            if let at = authority.lastIndex(of: "@") {
                user = String(authority[..<at])
                host = String(authority[authority.index(after: at)...])
            } else {
                user = nil
                host = String(authority)
            }
            kind = .ssh
            port = 22
        } else {
            kind = .local
            user = nil
            host = ""
            port = 0
        }
    }

    /// `url` without secrets: the password of any user-info, and for http(s) the whole
    /// user-info (tokens are often passed as the user name).
    static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        let info = rest[..<at]
        let keep: String
        if scheme == "http" || scheme == "https" {
            keep = ""
        } else {
            keep = String(info.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") + "@"
        }
        return String(url[..<schemeEnd.upperBound]) + keep + String(rest[rest.index(after: at)...])
    }

    /// known_hosts spelling of the host: `host` for port 22, `[host]:port` otherwise.
    var knownHostsName: String { port == 22 ? host : "[\(host)]:\(port)" }
}

// MARK: - Private keys

/// What can be learnt from a private key file without its passphrase.
struct SSHPrivateKeyInfo: Equatable {
    /// `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, ...; `nil` when the format hides it.
    var type: String?
    var isEncrypted: Bool

    var isRSA: Bool { type == "ssh-rsa" }

    static func inspect(_ text: String) -> SSHPrivateKeyInfo {
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            return inspectOpenSSH(text) ?? SSHPrivateKeyInfo(type: nil, isEncrypted: false)
        }
        let encrypted = text.contains("Proc-Type: 4,ENCRYPTED") || text.contains("BEGIN ENCRYPTED PRIVATE KEY")
        if text.contains("BEGIN RSA PRIVATE KEY") { return SSHPrivateKeyInfo(type: "ssh-rsa", isEncrypted: encrypted) }
        if text.contains("BEGIN EC PRIVATE KEY") { return SSHPrivateKeyInfo(type: "ecdsa", isEncrypted: encrypted) }
        if text.contains("BEGIN DSA PRIVATE KEY") { return SSHPrivateKeyInfo(type: "ssh-dss", isEncrypted: encrypted) }
        return SSHPrivateKeyInfo(type: nil, isEncrypted: encrypted)
    }

    /// openssh-key-v1: magic, string cipher, string kdf, string kdf options, uint32 count,
    /// string public key (whose first field is the key type) — all readable without the passphrase.
    private static func inspectOpenSSH(_ text: String) -> SSHPrivateKeyInfo? {
        let body = text.split(whereSeparator: \.isNewline)
            .filter { !$0.hasPrefix("-----") }
            .joined()
        guard let data = Data(base64Encoded: body) else { return nil }
        var reader = ByteReader(bytes: [UInt8](data))
        let magic = Array("openssh-key-v1".utf8) + [0]
        guard reader.take(magic.count) == magic,
              let cipher = reader.string(), reader.string() != nil, reader.string() != nil,
              reader.uint32() != nil, let publicKey = reader.field()
        else { return nil }
        var keyReader = ByteReader(bytes: publicKey)
        return SSHPrivateKeyInfo(type: keyReader.string(), isEncrypted: cipher != "none")
    }

    private struct ByteReader {
        let data: [UInt8]
        var offset = 0

        init(bytes: [UInt8]) { data = bytes }

        mutating func take(_ count: Int) -> [UInt8]? {
            guard count >= 0, offset + count <= data.count else { return nil }
            defer { offset += count }
            return Array(data[offset..<offset + count])
        }

        mutating func uint32() -> UInt32? {
            take(4).map { $0.reduce(0) { $0 << 8 | UInt32($1) } }
        }

        mutating func field() -> [UInt8]? { uint32().flatMap { take(Int($0)) } }
        mutating func string() -> String? { field().map { String(decoding: $0, as: UTF8.self) } }
    }
}

/// Explains why libssh2 1.10 fails with RSA keys.
let rsaKeyExplanation = "the key is RSA: libssh2 1.10 (used by libgit2) can only make ssh-rsa (SHA-1) signatures, "
    + "which OpenSSH 8.8 and later refuse; use an ed25519 or ECDSA key"

/// Secrets read from their files once per transfer, before the transfer thread starts.
struct ResolvedCredentials {
    enum Kind {
        case none
        case token(user: String, token: String, file: String)
        case ssh(key: GitSSHKey, passphrase: String?, info: SSHPrivateKeyInfo, knownHosts: KnownHosts)
    }

    let kind: Kind
    let caFile: String?
    let insecureSkipTLSVerify: Bool

    /// Reads and checks every file the options name, so mistakes surface before any network I/O.
    static func resolve(_ options: GitRemoteOptions, url: String) throws -> ResolvedCredentials {
        let remote = RemoteURL(url)
        let shown = RemoteURL.redacted(url)
        if let caFile = options.caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw GitError.invalidOptions("CA file \(caFile) for \(shown) is missing or unreadable")
        }
        switch options.credentials {
        case .none:
            if remote.kind == .ssh {
                throw GitError.invalidOptions(
                    "\(shown) is an ssh remote: give an SSH private key and a known_hosts file")
            }
            return ResolvedCredentials(kind: .none, caFile: options.caFile,
                                       insecureSkipTLSVerify: options.insecureSkipTLSVerify)
        case let .token(file, username):
            guard remote.kind == .https || remote.kind == .http else {
                throw GitError.invalidOptions("a token only works with https remotes, not \(shown)")
            }
            let token = try readSecret(file, what: "token file", url: shown)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw GitError.credentials(url: shown, message: "token file \(file) is empty") }
            return ResolvedCredentials(kind: .token(user: username, token: token, file: file),
                                       caFile: options.caFile, insecureSkipTLSVerify: options.insecureSkipTLSVerify)
        case let .sshKey(key):
            guard remote.kind == .ssh else {
                throw GitError.invalidOptions("an SSH key only works with ssh remotes, not \(shown)")
            }
            let info = SSHPrivateKeyInfo.inspect(try readSecret(key.privateKeyFile, what: "private key", url: shown))
            var passphrase: String?
            if let file = key.passphraseFile {
                var text = try readSecret(file, what: "passphrase file", url: shown)
                if text.hasSuffix("\n") { text.removeLast() }  // "\r\n" is one Character
                passphrase = text
            } else if info.isEncrypted {
                throw GitError.credentials(url: shown, message:
                    "the private key \(key.privateKeyFile) is protected by a passphrase, but no passphrase file was given")
            }
            if let publicKey = key.publicKeyFile, !FileManager.default.isReadableFile(atPath: publicKey) {
                throw GitError.credentials(url: shown, message: "public key \(publicKey) is missing or unreadable")
            }
            guard FileManager.default.isReadableFile(atPath: key.knownHostsFile) else {
                throw GitError.invalidOptions("known_hosts file \(key.knownHostsFile) for \(shown) is missing or unreadable")
            }
            let knownHosts = try KnownHosts(file: key.knownHostsFile)
            return ResolvedCredentials(kind: .ssh(key: key, passphrase: passphrase, info: info, knownHosts: knownHosts),
                                       caFile: options.caFile, insecureSkipTLSVerify: options.insecureSkipTLSVerify)
        }
    }

    private static func readSecret(_ path: String, what: String, url: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GitError.credentials(url: url, message: "\(what) \(path) is missing or unreadable")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
