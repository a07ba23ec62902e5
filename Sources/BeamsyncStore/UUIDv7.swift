import Foundation

/// UUIDv7 (RFC 9562): a millisecond timestamp then random bits. beampipe generates its ids this
/// way, so rows beamsync creates sort by creation time like beampipe's.
public enum UUIDv7 {
    public static func make(now: Date = Date()) -> String {
        var rng = SystemRandomNumberGenerator()
        return make(millis: UInt64(max(0, now.timeIntervalSince1970 * 1000)), random: (rng.next(), rng.next()))
    }

    /// An apply creating 10,000 rows makes 10,000 ids: formatted by hand, with two draws from the
    /// system generator each (per-byte draws and `String(format:)` were most of an apply's client time).
    static func make(millis: UInt64, random: (UInt64, UInt64)) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> UInt64(8 * (5 - i))) }
        for i in 0..<8 { bytes[8 + i] = UInt8(truncatingIfNeeded: random.1 >> UInt64(8 * i)) }
        bytes[6] = UInt8(truncatingIfNeeded: random.0)
        bytes[7] = UInt8(truncatingIfNeeded: random.0 >> 8)
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
