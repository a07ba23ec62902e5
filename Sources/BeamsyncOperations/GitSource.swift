import BeamsyncGit
import BeamsyncModel
import BeamsyncPlan
import BeamsyncStore
import Foundation

/// A git repository as the desired state: a bare mirror under a cache directory, fetched with a
/// deadline; files are read from the tree at a commit without a checkout, and a blob whose parse
/// is cached is not even read.
public struct GitSource: DesiredSource {
    public let url: String
    /// The branch, tag or commit followed.
    public let ref: String
    /// Subdirectory holding profiles/, projects/, executions/ ("" for the root).
    public let path: String
    public let cacheDirectory: String
    public let options: GitRemoteOptions
    public let fetchTimeout: Duration
    public let cache: ParsedFileCache?
    /// The operator's commit-verification settings (`--verify-commits` and the key files).
    public let verification: OperatorVerificationSettings
    /// For plan and apply: the revision last applied from this source (mode all counts from
    /// it); the controller passes its own record instead.
    public var lastApplied: String? = nil

    public init(url: String, ref: String, path: String = "", cacheDirectory: String, options: GitRemoteOptions = .none,
                fetchTimeout: Duration = .seconds(60), cache: ParsedFileCache? = nil,
                verification: OperatorVerificationSettings = .init()) {
        self.url = url
        self.ref = ref
        self.path = path
        self.cacheDirectory = cacheDirectory
        self.options = options
        self.fetchTimeout = fetchTimeout
        self.cache = cache
        self.verification = verification
    }

    /// A local path or URL as git understands it: paths become file:// URLs.
    public static func url(forRepository repository: String) -> String {
        if repository.contains("://") || repository.contains("@") { return repository }
        return "file://" + URL(fileURLWithPath: repository).standardizedFileURL.path
    }

    /// The bare mirror of `url` under the cache directory (one per URL).
    public var mirrorPath: String {
        URL(fileURLWithPath: cacheDirectory).appendingPathComponent("git")
            .appendingPathComponent(String(SHA256Digest.hex(Array(url.utf8)).prefix(24))).path
    }

    /// Recorded in gitops_sources and shown in the status: without credentials.
    public var identity: SourceIdentity { SourceIdentity(url: RedactedURL.text(url), branch: ref, path: path) }

    /// The same repository at another ref (a pull request's base), sharing the mirror.
    public func at(ref other: String) -> GitSource {
        GitSource(url: url, ref: other, path: path, cacheDirectory: cacheDirectory, options: options,
                  fetchTimeout: fetchTimeout, cache: cache, verification: verification)
    }

    public func verifyCommits(revision: String, lastApplied: String?) async throws -> VerifiedRevision? {
        try await CommitVerificationGate(settings: verification)
            .verify(mirrorPath: mirrorPath, subdir: path.isEmpty ? nil : path, revision: revision, lastApplied: lastApplied)
    }

    public func latestRevision() async throws -> String {
        let mirror = try await GitMirror.update(url: url, at: mirrorPath, options: options, timeout: fetchTimeout)
        return try mirror.resolve(ref).hex
    }

    public func snapshot(at revision: String) async throws -> SourceSnapshot {
        guard let commit = GitCommitID(hex: revision) else { throw GitError.invalidOptions("not a commit id: \(revision)") }
        let (mirrorPath, subdir, cache) = (self.mirrorPath, path.isEmpty ? nil : path, self.cache)
        let (files, info) = try await BlockingWork.run {
            let mirror = try GitMirror.open(at: mirrorPath)
            return (try Self.files(mirror: mirror, commit: commit, subdir: subdir, cache: cache), try? mirror.commitInfo(commit))
        }
        return SourceSnapshot(revision: revision, label: "\(RedactedURL.text(url))@\(ref) (\(revision.prefix(12)))", files: files,
                              repository: identity,
                              commit: info.map { CommitDescription(subject: $0.summary, committedAt: $0.time) })
    }

    /// The document and graph files that differ between two commits, for a pull-request review.
    public func changedFiles(from base: String, to head: String) async throws -> [PullRequestReview.FileChange] {
        guard let b = GitCommitID(hex: base), let h = GitCommitID(hex: head) else { return [] }
        let (mirrorPath, subdir) = (self.mirrorPath, path.isEmpty ? nil : path)
        return try await BlockingWork.run {
            try GitMirror.open(at: mirrorPath).diff(from: b, to: h, under: subdir)
                .filter { DesiredStateLoader.isDocumentFileOrGraph($0.path) || ($0.oldPath.map(DesiredStateLoader.isDocumentFileOrGraph) ?? false) }
                .map { .init(kind: $0.kind.rawValue, path: $0.kind == .renamed ? "\($0.oldPath ?? "") → \($0.path)" : $0.path) }
        }
    }

    /// The files beamsync reads at `commit`; bytes are skipped for blobs parsed before
    /// (graphs are always read: executions pin their content hash).
    static func files(mirror: GitMirror, commit: GitCommitID, subdir: String?, cache: ParsedFileCache?) throws -> [SourceFile] {
        try mirror.entries(at: commit, under: subdir).compactMap { entry -> SourceFile? in
            guard DesiredStateLoader.isDocumentFileOrGraph(entry.path) else { return nil }
            if let cache, !entry.path.hasPrefix("graphs/"), cache.contains(path: entry.path, blobID: entry.blobID.hex) {
                return SourceFile(path: entry.path, bytes: [], blobID: entry.blobID.hex, bytesOmitted: true)
            }
            return SourceFile(path: entry.path, bytes: [UInt8](try mirror.blob(entry.blobID)), blobID: entry.blobID.hex)
        }
    }
}

/// URLs shown to people (logs, plans, status) without credentials (`SecretRedaction`).
public enum RedactedURL {
    public static func text(_ url: String) -> String { SecretRedaction.redact(url) }
}
