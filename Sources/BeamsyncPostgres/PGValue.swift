import Foundation

/// A query parameter, sent to the server in text format. Literals work directly:
/// `conn.query("... $1, $2, $3", ["name", 42, nil])`.
public enum PGValue: Sendable, Hashable {
    case text(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)
    case uuid(UUID)
    /// JSON document text, typed `jsonb` so `$1->'key'` works without a cast.
    case json(String)
    /// Sent as ISO 8601 UTC with microseconds, typed `timestamptz`.
    case timestamp(Date)

    public static func int(_ value: Int) -> PGValue { .int(Int64(value)) }

    /// The parameter's text form, exactly as the server's input function expects it.
    public var textValue: String {
        switch self {
        case .text(let s), .json(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .double(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            return "\(d)"  // Swift prints the shortest round-tripping form, which PostgreSQL parses
        case .uuid(let u): return u.uuidString.lowercased()
        case .timestamp(let date): return PGTimestamp.format(date)
        }
    }

    /// The parameter's type OID. Text stays "unknown" (0) so the server infers it from context
    /// (a text parameter compared with a uuid column just works); the rest are typed so that
    /// e.g. `pg_advisory_lock($1)` resolves to the bigint overload. Integers are int8, which
    /// assigns to and compares with int4 columns fine; only an int4-only *function argument*
    /// needs a cast (`pg_terminate_backend($1::int)`).
    var typeOID: UInt32 {
        switch self {
        case .text: return 0
        case .int: return 20         // int8
        case .bool: return 16        // bool
        case .double: return 701     // float8
        case .uuid: return 2950      // uuid
        case .json: return 3802      // jsonb
        case .timestamp: return 1184 // timestamptz
        }
    }
}

extension PGValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
}

/// Text conversions for `timestamptz`. Connections force `DateStyle=ISO`, so the server prints
/// `2024-05-01 12:34:56.789+00` (fraction and offset minutes optional).
enum PGTimestamp {
    static func format(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = Int(floor(micros / 1_000_000))
        let fraction = Int(micros - Double(seconds) * 1_000_000)
        var tm = tm()
        var t = time_t(seconds)
        gmtime_r(&t, &tm)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
                      Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday),
                      Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), fraction)
    }

    static func parse(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        let chars = Array(text.utf8)
        var i = 0
        func number(_ count: Int) -> Int? {
            guard i + count <= chars.count else { return nil }
            var n = 0
            for c in chars[i..<(i + count)] {
                guard c >= 48 && c <= 57 else { return nil }
                n = n * 10 + Int(c - 48)
            }
            i += count
            return n
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < chars.count, chars[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
              expect(32), let hour = number(2), expect(58), let minute = number(2), expect(58),
              let second = number(2) else { return nil }
        var micros = 0
        if expect(46) {  // '.' then 1-6 digits
            var digits = 0
            while i < chars.count, chars[i] >= 48, chars[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int(chars[i] - 48); digits += 1 }
                i += 1
            }
            for _ in digits..<6 { micros *= 10 }
        }
        guard i < chars.count, chars[i] == 43 || chars[i] == 45 else { return nil }  // '+' / '-'
        let sign = chars[i] == 45 ? -1 : 1
        i += 1
        guard let offsetHours = number(2) else { return nil }
        var offset = offsetHours * 3600
        if expect(58) { guard let m = number(2) else { return nil }; offset += m * 60 }
        if expect(58) { guard let s = number(2) else { return nil }; offset += s }
        guard i == chars.count else { return nil }
        var tm = tm()
        tm.tm_year = Int32(year - 1900)
        tm.tm_mon = Int32(month - 1)
        tm.tm_mday = Int32(day)
        tm.tm_hour = Int32(hour)
        tm.tm_min = Int32(minute)
        tm.tm_sec = Int32(second)
        let utc = Int(timegm(&tm)) - sign * offset
        return Date(timeIntervalSince1970: Double(utc) + Double(micros) / 1_000_000)
    }
}
