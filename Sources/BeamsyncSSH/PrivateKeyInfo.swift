import Foundation

/// What a private key file is, read from its unencrypted parts only: the algorithm (to explain an
/// RSA refusal) and whether a passphrase protects it (to report a missing passphrase before
/// connecting). Never keeps key material.
public struct PrivateKeyInfo: Sendable, Equatable {
    public enum Algorithm: Sendable, Equatable, CustomStringConvertible {
        case ed25519, ecdsa, rsa, dsa
        case other(String)
        case unknown  // e.g. an encrypted PKCS#8 key, whose algorithm is encrypted too

        public var description: String {
            switch self {
            case .ed25519: "ed25519"
            case .ecdsa: "ECDSA"
            case .rsa: "RSA"
            case .dsa: "DSA"
            case .other(let name): name
            case .unknown: "unknown"
            }
        }
    }

    public enum Format: String, Sendable { case openssh, pem, pkcs8 }

    public let algorithm: Algorithm
    public let encrypted: Bool
    public let format: Format

    /// nil when `bytes` hold no PEM private key block.
    public static func inspect(_ bytes: [UInt8]) -> PrivateKeyInfo? {
        guard let text = String(bytes: bytes, encoding: .utf8) ?? String(bytes: bytes, encoding: .isoLatin1) else { return nil }
        guard let (label, headers, body) = pemBlock(text) else { return nil }
        switch label {
        case "OPENSSH PRIVATE KEY":
            return openssh(body)
        case "RSA PRIVATE KEY":
            return PrivateKeyInfo(algorithm: .rsa, encrypted: headers.contains("Proc-Type: 4,ENCRYPTED"), format: .pem)
        case "EC PRIVATE KEY":
            return PrivateKeyInfo(algorithm: .ecdsa, encrypted: headers.contains("Proc-Type: 4,ENCRYPTED"), format: .pem)
        case "DSA PRIVATE KEY":
            return PrivateKeyInfo(algorithm: .dsa, encrypted: headers.contains("Proc-Type: 4,ENCRYPTED"), format: .pem)
        case "PRIVATE KEY":
            return PrivateKeyInfo(algorithm: pkcs8Algorithm(body), encrypted: false, format: .pkcs8)
        case "ENCRYPTED PRIVATE KEY":
            return PrivateKeyInfo(algorithm: .unknown, encrypted: true, format: .pkcs8)
        default:
            return nil
        }
    }

    /// The first `-----BEGIN … PRIVATE KEY-----` block: its label, its header lines and its body.
    private static func pemBlock(_ text: String) -> (String, String, [UInt8])? {
        guard let begin = text.range(of: "-----BEGIN "),
              let labelEnd = text.range(of: "-----", range: begin.upperBound..<text.endIndex) else { return nil }
        let label = String(text[begin.upperBound..<labelEnd.lowerBound])
        guard label.hasSuffix("PRIVATE KEY"),
              let end = text.range(of: "-----END \(label)-----", range: labelEnd.upperBound..<text.endIndex) else { return nil }
        let inside = text[labelEnd.upperBound..<end.lowerBound]
        var headers = "", base64 = ""
        for line in inside.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.contains(":") { headers += trimmed + "\n" } else { base64 += trimmed }
        }
        return (label, headers, [UInt8](Data(base64Encoded: base64) ?? Data()))
    }

    /// `openssh-key-v1\0`, string cipher, string kdf, string kdf-options, uint32 count, string
    /// public key (whose first string is the algorithm). The public part is never encrypted.
    private static func openssh(_ body: [UInt8]) -> PrivateKeyInfo? {
        let magic = Array("openssh-key-v1".utf8) + [0]
        guard body.starts(with: magic) else { return nil }
        var reader = WireReader(body, offset: magic.count)
        guard let cipher = reader.string(), reader.string() != nil, reader.string() != nil,
              reader.uint32() != nil, let publicKey = reader.bytes(),
              let type = KnownHosts.keyType(ofBlob: publicKey) else { return nil }
        let algorithm: Algorithm = switch type {
        case "ssh-ed25519": .ed25519
        case let name where name.hasPrefix("ecdsa-sha2-"): .ecdsa
        case "ssh-rsa": .rsa
        case "ssh-dss": .dsa
        default: .other(type)
        }
        return PrivateKeyInfo(algorithm: algorithm, encrypted: String(decoding: cipher, as: UTF8.self) != "none", format: .openssh)
    }

    /// PKCS#8 names its algorithm by OID near the start of the DER; looking for the OID bytes
    /// is enough to tell the three kinds apart.
    private static func pkcs8Algorithm(_ der: [UInt8]) -> Algorithm {
        let head = Array(der.prefix(64))
        let rsa: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
        let ec: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
        let ed25519: [UInt8] = [0x06, 0x03, 0x2B, 0x65, 0x70]
        func has(_ needle: [UInt8]) -> Bool {
            guard head.count >= needle.count else { return false }
            return (0...(head.count - needle.count)).contains { Array(head[$0..<($0 + needle.count)]) == needle }
        }
        if has(rsa) { return .rsa }
        if has(ec) { return .ecdsa }
        if has(ed25519) { return .ed25519 }
        return .unknown
    }
}

/// Reads SSH wire-format fields (RFC 4251 §5) from a byte array.
struct WireReader {
    private let data: [UInt8]
    private var offset: Int

    init(_ data: [UInt8], offset: Int = 0) {
        self.data = data
        self.offset = offset
    }

    mutating func uint32() -> UInt32? {
        guard offset + 4 <= data.count else { return nil }
        defer { offset += 4 }
        return UInt32(data[offset]) << 24 | UInt32(data[offset + 1]) << 16 | UInt32(data[offset + 2]) << 8 | UInt32(data[offset + 3])
    }

    mutating func bytes() -> [UInt8]? {
        guard let length = uint32().map(Int.init), offset + length <= data.count else { return nil }
        defer { offset += length }
        return Array(data[offset..<(offset + length)])
    }

    mutating func string() -> [UInt8]? { bytes() }
}
