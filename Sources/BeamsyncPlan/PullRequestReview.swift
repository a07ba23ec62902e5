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
    /// Who signed the head's commits, one line each, when commit verification ran (else empty).
    public var signatures: [String]

    public init(base: String, head: String, files: [FileChange], changeSet: Plan, plan: Plan, signatures: [String] = []) {
        self.base = base
        self.head = head
        self.files = files
        self.changeSet = changeSet
        self.plan = plan
        self.signatures = signatures
    }

    enum CodingKeys: String, CodingKey {
        case base, head, files, plan, signatures
        case changeSet = "change_set"
    }
}
