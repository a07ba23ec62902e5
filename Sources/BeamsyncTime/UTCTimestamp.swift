import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Fixed-layout UTC timestamps (logs, generated names, DALiuGE session ids).
///
/// Foundation's `ISO8601DateFormatter`, `DateFormatter` and `Calendar` go through ICU, which loads
/// time-zone and calendar data on first use (3 MB of resident pages in the controller, measured),
/// for layouts that never depend on a locale. These are built from `gmtime_r` instead.
public struct UTCTimestamp: Sendable, Equatable {
    public let year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
    /// Milliseconds within the second, 0...999 (truncated, so a rendered time never runs ahead).
    public let millisecond: Int

    public init(_ date: Date) {
        let since1970 = date.timeIntervalSince1970
        let whole = since1970.rounded(.down)
        var seconds = time_t(whole)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        year = Int(parts.tm_year) + 1900
        month = Int(parts.tm_mon) + 1
        day = Int(parts.tm_mday)
        hour = Int(parts.tm_hour)
        minute = Int(parts.tm_min)
        second = Int(parts.tm_sec)
        millisecond = min(999, max(0, Int(((since1970 - whole) * 1000).rounded(.down))))
    }

    /// `2026-11-25T20:20:05Z`, or with `.123` before the `Z` when `milliseconds` is set (RFC 3339).
    public func iso8601(milliseconds: Bool = false) -> String {
        var s = "\(pad(year, 4))-\(pad(month))-\(pad(day))T\(pad(hour)):\(pad(minute)):\(pad(second))"
        if milliseconds { s += ".\(pad(millisecond, 3))" }
        return s + "Z"
    }

    /// `20261125-202005`: sortable and safe in names and file names.
    public var compact: String {
        "\(pad(year, 4))\(pad(month))\(pad(day))-\(pad(hour))\(pad(minute))\(pad(second))"
    }

    /// `2026-11-25T20-20-05`: beampipe's `%Y-%m-%dT%H-%M-%S`.
    public var dashed: String {
        "\(pad(year, 4))-\(pad(month))-\(pad(day))T\(pad(hour))-\(pad(minute))-\(pad(second))"
    }

    private func pad(_ n: Int, _ width: Int = 2) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
