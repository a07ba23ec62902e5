// beampipe's project `spec_sha256` is SHA-256 over `serde_json::to_vec(&ProjectConfig)`: struct
// members in declaration order, skip rules applied, BTreeMap and free-JSON keys sorted by UTF-8
// bytes, serde_json escaping and ryu float formatting. `JSONValue.canonicalBytes` sorts every
// object, so it cannot reproduce this; this writer emits the bytes straight from the typed structs.

/// Which revision's serialisation to produce: v2 writes unknown enum strings as `unknown`,
/// v1 (whose kinds and hooks were plain strings) writes them as given.
enum ProjectJSONDialect: Sendable { case v1, v2 }

/// Compact JSON emitter that keeps members in the order they are written.
struct ProjectJSONWriter {
    let dialect: ProjectJSONDialect
    private(set) var bytes: [UInt8] = []
    /// One entry per open object or array: whether the next member needs a comma.
    private var needsComma: [Bool] = []

    init(dialect: ProjectJSONDialect) {
        self.dialect = dialect
        bytes.reserveCapacity(2048)
    }

    /// Set by `key` so that the value written next takes no comma of its own.
    private var afterKey = false

    /// Called before every value and key: adds the comma between members/elements.
    private mutating func separate() {
        if afterKey { afterKey = false; return }
        if let last = needsComma.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            needsComma[needsComma.count - 1] = true
        }
    }

    /// Writes `"key":` inside an object; the value written next belongs to it.
    mutating func key(_ k: String) {
        separate()
        Self.appendString(k, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func object(_ body: (inout ProjectJSONWriter) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
        body(&self)
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func array<T>(_ items: [T], _ element: (inout ProjectJSONWriter, T) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
        for item in items { element(&self, item) }
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func strings(_ items: [String]) { array(items) { w, s in w.string(s) } }

    // MARK: Scalars

    mutating func string(_ s: String) { separate(); Self.appendString(s, to: &bytes) }
    mutating func bool(_ b: Bool) { separate(); bytes.append(contentsOf: Array((b ? "true" : "false").utf8)) }
    mutating func null() { separate(); bytes.append(contentsOf: Array("null".utf8)) }
    mutating func int<I: BinaryInteger>(_ i: I) { separate(); bytes.append(contentsOf: Array(String(i).utf8)) }
    mutating func double(_ d: Double) {
        separate()
        // serde_json writes non-finite floats as null.
        bytes.append(contentsOf: Array((d.isFinite ? RyuFormat.string(d) : "null").utf8))
    }

    /// A BTreeMap: keys in UTF-8 byte order.
    mutating func sortedMap<V>(_ map: [String: V], _ value: (inout ProjectJSONWriter, V) -> Void) {
        object { w in
            for k in map.keys.sorted(by: Self.utf8Less) {
                w.key(k)
                value(&w, map[k]!)
            }
        }
    }

    /// Free JSON (serde_json::Value without preserve_order): every object sorted by UTF-8 bytes.
    mutating func json(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .int(let i): int(i)
        case .double(let d): double(d)
        case .string(let s): string(s)
        case .array(let items): array(items) { w, item in w.json(item) }
        case .object(let dict): sortedMap(dict) { w, v in w.json(v) }
        }
    }

    static func utf8Less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    private static let hex = Array("0123456789abcdef".utf8)

    /// serde_json escaping: `"` `\` and control characters; `/`, DEL and non-ASCII stay raw.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x00..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Rust ryu's layout of the shortest round-trip digits (what serde_json prints for f64):
/// `60.0`, `2.5`, `0.00001`, `1e16`, `1.5e-7`, `1e300`.
enum RyuFormat {
    static func string(_ d: Double) -> String {
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        let (digits, k) = shortestDigits(abs(d))
        let sign = d < 0 ? "-" : ""
        let length = digits.count
        let kk = length + k  // position of the decimal point relative to the first digit
        let body: String
        if k >= 0 && kk <= 16 {
            body = digits + String(repeating: "0", count: k) + ".0"
        } else if kk > 0 && kk <= 16 {
            let split = digits.index(digits.startIndex, offsetBy: kk)
            body = digits[..<split] + "." + digits[split...]
        } else if kk > -5 && kk <= 0 {
            body = "0." + String(repeating: "0", count: -kk) + digits
        } else {
            let mantissa = length == 1 ? digits : String(digits.first!) + "." + digits.dropFirst()
            body = mantissa + "e" + String(kk - 1)
        }
        return sign + body
    }

    /// The shortest digits that round-trip (Swift's description computes the same digits as
    /// ryu) and the exponent k with value = digits × 10^k, without leading or trailing zeros.
    static func shortestDigits(_ d: Double) -> (String, Int) {
        let text = d.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(String(text[text.index(after: e)...].filter { $0 != "+" })) ?? 0
        }
        var digits = ""
        var fractionCount = 0
        var inFraction = false
        for c in mantissa {
            if c == "." { inFraction = true; continue }
            digits.append(c)
            if inFraction { fractionCount += 1 }
        }
        var k = exponent - fractionCount
        while digits.count > 1, digits.hasPrefix("0") { digits.removeFirst() }
        while digits.count > 1, digits.hasSuffix("0") { digits.removeLast(); k += 1 }
        return (digits, k)
    }
}
