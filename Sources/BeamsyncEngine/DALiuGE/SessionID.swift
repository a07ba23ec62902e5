import Foundation

/// beampipe's DALiuGE session id: `BeampipeExecution-{execution uuid}-{created_at:%Y-%m-%dT%H-%M-%S}` (UTC).
public enum DaliugeSessionID {
    public static func make(executionID: UUID, createdAt: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: createdAt)
        func two(_ n: Int?) -> String { n.map { $0 < 10 ? "0\($0)" : String($0) } ?? "00" }
        let stamp = "\(c.year ?? 0)-\(two(c.month))-\(two(c.day))T\(two(c.hour))-\(two(c.minute))-\(two(c.second))"
        return "BeampipeExecution-\(executionID.uuidString.lowercased())-\(stamp)"
    }
}
