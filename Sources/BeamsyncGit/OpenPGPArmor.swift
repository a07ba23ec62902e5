import Foundation

/// ASCII armor (RFC 4880 section 6) for OpenPGP keyrings: gpgv reads binary keyrings only, and
/// operators usually have `gpg --armor --export` output.
enum OpenPGPArmor {
    enum Problem: Error, Equatable {
        case secretKey
        case noPublicKeyBlock
        case malformed(String)
    }

    enum BinaryKind: Equatable {
        case publicKeys, keybox, secretKey, other
    }

    static func looksArmored(_ data: Data) -> Bool {
        let head = String(decoding: data.prefix(4096), as: UTF8.self)
        return head.contains("-----BEGIN PGP ")
    }

    /// The binary packets of every PUBLIC KEY BLOCK in `data`, concatenated (what
    /// `gpg --dearmor` gives for each block). Checksums are checked when present.
    static func dearmorPublicKeys(_ data: Data) throws -> Data {
        let lines = String(decoding: data, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var output = Data()
        var blocks = 0
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            guard line.hasPrefix("-----BEGIN PGP ") else { continue }
            if line.contains("PRIVATE KEY") || line.contains("SECRET KEY") { throw Problem.secretKey }
            guard line == "-----BEGIN PGP PUBLIC KEY BLOCK-----" else { continue }
            var body: [String] = []
            var checksum: String?
            var ended = false
            while index < lines.count {
                let current = lines[index]
                index += 1
                if current == "-----END PGP PUBLIC KEY BLOCK-----" { ended = true; break }
                if current.isEmpty || current.contains(":") { continue }  // armor headers and the blank line
                if current.hasPrefix("=") && current.count == 5 { checksum = String(current.dropFirst()); continue }
                body.append(current)
            }
            blocks += 1
            guard ended else { throw Problem.malformed("block \(blocks) has no END line") }
            guard let bytes = Data(base64Encoded: body.joined()), !bytes.isEmpty else {
                throw Problem.malformed("block \(blocks) is not valid base64")
            }
            if let checksum {
                guard let expected = Data(base64Encoded: checksum), expected.count == 3 else {
                    throw Problem.malformed("block \(blocks) has an unreadable checksum line")
                }
                let crc = crc24(bytes)
                if expected != Data([UInt8(crc >> 16 & 0xff), UInt8(crc >> 8 & 0xff), UInt8(crc & 0xff)]) {
                    throw Problem.malformed("block \(blocks) fails its checksum; the file is damaged")
                }
            }
            output.append(bytes)
        }
        if blocks == 0 { throw Problem.noPublicKeyBlock }
        return output
    }

    /// What a binary keyring holds, judged by its first packet (or the keybox header).
    static func binaryKind(_ data: Data) -> BinaryKind {
        let bytes = [UInt8](data.prefix(12))
        if bytes.count == 12, Array(bytes[8..<12]) == Array("KBXf".utf8) { return .keybox }
        guard let first = bytes.first, first & 0x80 != 0 else { return .other }
        let tag = first & 0x40 != 0 ? first & 0x3f : (first >> 2) & 0x0f
        switch tag {
        case 6: return .publicKeys
        case 5, 7: return .secretKey
        default: return .other
        }
    }

    /// CRC-24 as RFC 4880 section 6.1 defines it.
    static func crc24(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xB704CE
        for byte in data {
            crc ^= UInt32(byte) << 16
            for _ in 0..<8 {
                crc <<= 1
                if crc & 0x1000000 != 0 { crc ^= 0x1864CFB }
            }
        }
        return crc & 0xFFFFFF
    }
}
