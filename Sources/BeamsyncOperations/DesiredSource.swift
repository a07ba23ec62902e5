import BeamsyncModel
import BeamsyncStore

/// The files of one revision of the desired state, and how to name it.
public struct SourceSnapshot: Sendable {
    /// Who signed the revision, when commit verification ran before it was read.
    public var verified: VerifiedRevision?
    /// The commit id; nil for a working directory (uncommitted edits have no revision).
    public var revision: String?
    /// A label for people and plans, e.g. `file:///srv/repo@main (0a1b2c3d4e5f)` or `./repo`.
    public var label: String
    /// The files beamsync reads (documents and graphs), paths relative to the repository root.
    public var files: [SourceFile]
    /// Problems found while reading (unreadable files, links, sizes); already named as shown.
    public var readDiagnostics: [Diagnostic]
    /// Prepended to file names in diagnostics, so a directory's errors name paths the user can open.
    public var displayPrefix: String
    /// The repository, branch and subdirectory the files come from; nil for a working directory.
    public var repository: SourceIdentity?
    /// The commit's subject and time (nil for a working directory).
    public var commit: CommitDescription?

    public init(revision: String?, label: String, files: [SourceFile], readDiagnostics: [Diagnostic] = [], displayPrefix: String = "",
                repository: SourceIdentity? = nil, commit: CommitDescription? = nil) {
        self.revision = revision
        self.label = label
        self.files = files
        self.readDiagnostics = readDiagnostics
        self.displayPrefix = displayPrefix
        self.repository = repository
        self.commit = commit
    }
}

/// Identity of a followed source, as recorded in `gitops_sources`.
public struct SourceIdentity: Sendable, Hashable {
    public var url: String
    public var branch: String
    public var path: String

    public init(url: String, branch: String, path: String) {
        self.url = url
        self.branch = branch
        self.path = path
    }
}

/// A source the controller follows: it has revisions, and fetching must be bounded in time and
/// report its failures.
public protocol DesiredSource: Sendable {
    var identity: SourceIdentity { get }
    /// Brings the source up to date and returns its newest revision, cheaply when nothing changed.
    func latestRevision() async throws -> String
    /// The files at `revision` (only those beamsync reads).
    func snapshot(at revision: String) async throws -> SourceSnapshot
    /// Verifies the commit signatures `revision` needs (`lastApplied`: the revision applied
    /// before, for mode all) before anything else of it is read; nil when none are required.
    func verifyCommits(revision: String, lastApplied: String?) async throws -> VerifiedRevision?
}

extension DesiredSource {
    /// Sources without commits have no signatures to verify.
    public func verifyCommits(revision: String, lastApplied: String?) async throws -> VerifiedRevision? { nil }
}

/// Where a plan or an apply reads the desired state from.
public enum DesiredInput: Sendable {
    /// A working directory, uncommitted edits included.
    case directory(String)
    /// A git repository at a branch, tag or commit.
    case git(GitSource)
    /// Files already read (the controller reads them before it decides to apply).
    case snapshot(SourceSnapshot)

    /// Reads the files. Called while the live state is being read, so the two overlap.
    public func read() async throws -> SourceSnapshot {
        switch self {
        case .directory(let path):
            return DirectoryTree.snapshot(of: path)
        case .git(let source):
            let revision = try await source.latestRevision()
            let verified = try await source.verifyCommits(revision: revision, lastApplied: source.lastApplied)
            var snapshot = try await source.snapshot(at: revision)
            snapshot.verified = verified
            return snapshot
        case .snapshot(let snapshot):
            return snapshot
        }
    }
}
