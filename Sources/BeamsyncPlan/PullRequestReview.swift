import BeamsyncModel

/// What a pull request does: its base and head, the files it touches, the plan of head against
/// base (independent of the database) and the plan of head against the database.
public struct PullRequestReview: Sendable, Codable {
    public struct FileChange: Sendable, Codable, Hashable {
        public var kind: String
        public var path: String
        public init(kind: String, path: String) {
            self.kind = kind
            self.path = path
        }
    }

    public var base: String
    public var head: String
    public var files: [FileChange]
    public var changeSet: Plan
    public var plan: Plan

    public init(base: String, head: String, files: [FileChange], changeSet: Plan, plan: Plan) {
        self.base = base
        self.head = head
        self.files = files
        self.changeSet = changeSet
        self.plan = plan
    }

    enum CodingKeys: String, CodingKey {
        case base, head, files, plan
        case changeSet = "change_set"
    }
}
