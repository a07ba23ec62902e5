import CGit2
import Foundation

/// How a commit is signed, told apart by the armor line of its `gpgsig` header, as git does.
public enum CommitSignatureFormat: String, Sendable, Hashable, Codable, CustomStringConvertible {
    /// `-----BEGIN SSH SIGNATURE-----` (git's gpg.format=ssh).
    case ssh
    /// `-----BEGIN PGP SIGNATURE-----` or `-----BEGIN PGP MESSAGE-----` (gpg.format=openpgp).
    case openpgp
    /// `-----BEGIN SIGNED MESSAGE-----` (gpg.format=x509, gpgsm). Not supported by beamsync.
    case x509
    /// Anything else.
    case unknown

    public var description: String {
        switch self {
        case .ssh: "SSH"
        case .openpgp: "OpenPGP"
        case .x509: "X.509 (gpgsm)"
        case .unknown: "an unknown format"
        }
    }

    /// The format of an armored signature, from its first line.
    public static func classify(_ armored: String) -> CommitSignatureFormat {
        let first = armored.split(whereSeparator: \.isNewline).first?.trimmingCharacters(in: .whitespaces) ?? ""
        switch first {
        case "-----BEGIN SSH SIGNATURE-----": return .ssh
        case "-----BEGIN PGP SIGNATURE-----", "-----BEGIN PGP MESSAGE-----": return .openpgp
        case "-----BEGIN SIGNED MESSAGE-----": return .x509
        default: return .unknown
        }
    }
}

/// The signature of one commit and exactly the bytes it signs.
public struct CommitSignature: Sendable, Hashable {
    public let commit: GitCommitID
    public let format: CommitSignatureFormat
    /// The armored signature from the `gpgsig` header, continuation spaces removed.
    public let armored: String
    /// The signed payload: the raw commit object without its `gpgsig` header.
    public let payload: Data
    /// The committer time (seconds since 1970). git checks an SSH key's validity window in
    /// allowed_signers against this time, so beamsync does too.
    public let committerTime: Int64

    public init(commit: GitCommitID, armored: String, payload: Data, committerTime: Int64) {
        self.commit = commit
        self.format = CommitSignatureFormat.classify(armored)
        self.armored = armored
        self.payload = payload
        self.committerTime = committerTime
    }
}

/// The public key inside an SSH signature (OpenSSH's SSHSIG format), read only to name the
/// key in reports; whether the signature is valid is always decided by ssh-keygen.
struct SSHSignatureKey: Hashable {
    /// The key type, e.g. `ssh-ed25519`.
    let type: String
    /// `SHA256:` and the unpadded base64 of the key blob's SHA-256, as ssh-keygen prints it.
    let fingerprint: String

    /// nil when `armored` is not a well-formed SSH signature.
    init?(armored: String) {
        let lines = armored.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.first == "-----BEGIN SSH SIGNATURE-----", let end = lines.firstIndex(of: "-----END SSH SIGNATURE-----"),
              let blob = Data(base64Encoded: lines[1..<end].joined()) else { return nil }
        var reader = SSHWireReader(Array(blob))
        // "SSHSIG", uint32 version, string publickey, string namespace, string reserved,
        // string hash_algorithm, string signature.
        guard reader.bytes(6) == Array("SSHSIG".utf8), reader.uint32() != nil,
              let key = reader.string() else { return nil }
        var keyReader = SSHWireReader(key)
        guard let type = keyReader.string().flatMap({ String(bytes: $0, encoding: .utf8) }) else { return nil }
        var digest = [UInt8](repeating: 0, count: 32)
        guard cgit2_sha256(key, key.count, &digest) == 0 else { return nil }
        var encoded = Data(digest).base64EncodedString()
        while encoded.hasSuffix("=") { encoded.removeLast() }
        self.type = type
        self.fingerprint = "SHA256:" + encoded
    }
}

/// Reads SSH wire-format values (RFC 4251): big-endian uint32 and length-prefixed strings.
private struct SSHWireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, bytes.count - offset >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func uint32() -> UInt32? {
        bytes(4).map { $0.reduce(0) { $0 << 8 | UInt32($1) } }
    }

    mutating func string() -> [UInt8]? {
        guard let length = uint32(), length <= UInt32(Int32.max) else { return nil }
        return bytes(Int(length))
    }
}
