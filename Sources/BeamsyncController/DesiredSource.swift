import BeamsyncModel

/// What a source hands the controller: the revision and the repository files at it.
public struct SourceSnapshot: Sendable {
    /// The commit id (or another revision label for non-git sources).
    public var revision: String
    /// A label for people and plans, e.g. `main@0a1b2c3`.
    public var displayRevision: String
    public var files: [SourceFile]

    public init(revision: String, displayRevision: String? = nil, files: [SourceFile]) {
        self.revision = revision
        self.displayRevision = displayRevision ?? revision
        self.files = files
    }
}

/// Where desired state comes from. Fetching must be bounded in time and report failures.
public protocol DesiredSource: Sendable {
    /// Identity stored in `gitops_sources`.
    var url: String { get }
    var branch: String { get }
    var path: String { get }
    /// Brings the source up to date and returns its newest revision, cheaply when nothing changed.
    func latestRevision() async throws -> String
    /// The files at `revision` (only those beamsync reads).
    func snapshot(at revision: String) async throws -> SourceSnapshot
}
