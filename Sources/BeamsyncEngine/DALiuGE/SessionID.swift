import BeamsyncModel
import BeamsyncTime
import Foundation

/// beampipe's DALiuGE session id: `BeampipeExecution-{execution uuid}-{created_at:%Y-%m-%dT%H-%M-%S}` (UTC).
public enum DaliugeSessionID {
    public static func make(executionID: UUID, createdAt: Date) -> String {
        "BeampipeExecution-\(executionID.uuidString.lowercased())-\(UTCTimestamp(createdAt).dashed)"
    }
}
