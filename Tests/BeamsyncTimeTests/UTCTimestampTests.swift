import BeamsyncTime
import Foundation
import Testing

@Suite("UTC timestamps, formatted without ICU")
struct UTCTimestampTests {
    // 2026-11-25T20:20:05.123Z
    let date = Date(timeIntervalSince1970: 1_795_638_005.123_9)

    @Test("a timestamp renders as RFC 3339, with or without milliseconds")
    func rendersRFC3339WithAndWithoutMilliseconds() {
        #expect(UTCTimestamp(date).iso8601() == "2026-11-25T20:20:05Z")
        #expect(UTCTimestamp(date).iso8601(milliseconds: true) == "2026-11-25T20:20:05.123Z")
    }

    @Test("a timestamp renders in the compact and dashed layouts used in names")
    func rendersCompactAndDashedLayouts() {
        #expect(UTCTimestamp(date).compact == "20261125-202005")
        #expect(UTCTimestamp(date).dashed == "2026-11-25T20-20-05")
    }

    @Test("milliseconds are truncated, so a rendered time is never ahead of the real one")
    func millisecondsAreTruncatedSoATimeNeverRunsAhead() {
        let justBefore = Date(timeIntervalSince1970: 1_795_638_005.999_9)
        #expect(UTCTimestamp(justBefore).iso8601(milliseconds: true) == "2026-11-25T20:20:05.999Z")
    }

    @Test("a time before 1970 keeps a positive fraction of a second")
    func datesBefore1970KeepAPositiveFraction() {
        let t = UTCTimestamp(Date(timeIntervalSince1970: -0.25))
        #expect(t.iso8601(milliseconds: true) == "1969-12-31T23:59:59.750Z")
    }

    @Test("2,000 random whole-second times from 1900 to 2200 render as Foundation's ISO 8601 formatter renders them")
    func agreesWithFoundationsFormatterOverManyDates() {
        let reference = ISO8601DateFormatter()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            // 1900 ... 2200, whole seconds so the two agree exactly.
            let seconds = Double(Int64.random(in: -2_208_988_800...7_258_118_400, using: &generator))
            let d = Date(timeIntervalSince1970: seconds)
            #expect(UTCTimestamp(d).iso8601() == reference.string(from: d))
        }
    }
}
