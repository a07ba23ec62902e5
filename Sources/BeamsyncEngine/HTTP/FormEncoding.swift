/// Percent-encoding for form bodies and URL path segments.
enum FormEncoding {
    /// `application/x-www-form-urlencoded`: unreserved bytes as they are, space as `+`,
    /// everything else `%XX` (UTF-8).
    static func encode(_ fields: [FormField]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count * 3 / 2 + 2 })
        for (i, field) in fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: "&")) }
            append(field.name, to: &out, spaceAsPlus: true)
            out.append(UInt8(ascii: "="))
            append(field.value, to: &out, spaceAsPlus: true)
        }
        return out
    }

    /// One URL path segment: every byte except the unreserved set is `%XX`, so `/`, `?` and `#`
    /// in a session id cannot change the route.
    static func pathSegment(_ text: String) -> String {
        var out: [UInt8] = []
        append(text, to: &out, spaceAsPlus: false)
        return String(decoding: out, as: UTF8.self)
    }

    private static let hex = Array("0123456789ABCDEF".utf8)

    private static func append(_ text: String, to out: inout [UInt8], spaceAsPlus: Bool) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: " ") where spaceAsPlus:
                out.append(UInt8(ascii: "+"))
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
    }
}
