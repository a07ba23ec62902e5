@testable import BeamsyncStore
import Foundation
import Testing

@Suite("UUIDv7 identifiers")
struct UUIDv7Tests {
    @Test("a UUIDv7 has the RFC 9562 layout: 48-bit millisecond time, version 7, variant 10")
    func layoutFollowsRFC9562() {
        let id = UUIDv7.make(millis: 0x0192_3456_789A, random: (0xFFFF_FFFF_FFFF_ABCD, 0x0123_4567_89AB_CDEF))
        // 48-bit timestamp, version 7 in the 13th digit, variant 10xx in the 17th.
        #expect(id == "01923456-789a-7dab-afcd-ab8967452301")
        let parts = id.split(separator: "-").map(String.init)
        #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
        #expect(parts[0] + parts[1] == "01923456789a")
        #expect(parts[2].first == "7")
        #expect(["8", "9", "a", "b"].contains(parts[3].first.map(String.init) ?? ""))
        #expect(UUID(uuidString: id) != nil)
    }

    @Test("UUIDv7s sort by time, are distinct and are written in lowercase")
    func idsAreDistinctAndSortByTime() {
        let earlier = UUIDv7.make(now: Date(timeIntervalSince1970: 1_700_000_000))
        let later = UUIDv7.make(now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(earlier < later)
        let many = Set((0..<10_000).map { _ in UUIDv7.make() })
        #expect(many.count == 10_000)
        #expect(many.allSatisfy { UUID(uuidString: $0) != nil && $0 == $0.lowercased() })
    }
}
