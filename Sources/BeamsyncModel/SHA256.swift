import Crypto

/// SHA-256 as lower-case hex: spec hashes, graph content addresses, migration checksums.
/// The digest itself is swift-crypto's; this only fixes the text form beampipe stores.
public enum SHA256Digest {
    public static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digest: SHA256.Digest
        if let array = bytes as? [UInt8] {
            digest = SHA256.hash(data: array)
        } else {
            digest = SHA256.hash(data: Array(bytes))
        }
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 64) { out in
            var i = 0
            for byte in digest {
                out[i] = digits[Int(byte >> 4)]
                out[i + 1] = digits[Int(byte & 0xF)]
                i += 2
            }
            return 64
        }
    }
}
