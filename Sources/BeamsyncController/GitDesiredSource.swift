import BeamsyncGit
import BeamsyncModel
import Foundation

/// A git repository as the desired state: a bare mirror under the controller's cache directory,
/// fetched with a deadline; files are read from the tree at a commit without a checkout, and a
/// blob whose parse is cached is not even read.
public struct GitDesiredSource: DesiredSource {
    public let url: String
    public let branch: String
    public let path: String
    public let mirrorPath: String
    public let options: GitRemoteOptions
    public let fetchTimeout: Duration
    public let cache: ParsedFileCache?

    public init(url: String, branch: String, path: String = "", cacheDirectory: String, options: GitRemoteOptions = .none,
                fetchTimeout: Duration = .seconds(60), cache: ParsedFileCache? = nil) {
        self.url = url
        self.branch = branch
        self.path = path
        self.mirrorPath = URL(fileURLWithPath: cacheDirectory).appendingPathComponent("git")
            .appendingPathComponent(String(SHA256Digest.hex(Array(url.utf8)).prefix(24))).path
        self.options = options
        self.fetchTimeout = fetchTimeout
        self.cache = cache
    }

    public func latestRevision() async throws -> String {
        let mirror = try await GitMirror.update(url: url, at: mirrorPath, options: options, timeout: fetchTimeout)
        return try mirror.resolve(branch).hex
    }

    public func snapshot(at revision: String) async throws -> SourceSnapshot {
        guard let commit = GitCommitID(hex: revision) else { throw GitError.invalidOptions("not a commit id: \(revision)") }
        let (mirrorPath, subdir, cache) = (self.mirrorPath, path.isEmpty ? nil : path, self.cache)
        let files = try await BlockingWork.run {
            try Self.files(mirror: try GitMirror.open(at: mirrorPath), commit: commit, subdir: subdir, cache: cache)
        }
        return SourceSnapshot(revision: revision, displayRevision: "\(branch)@\(revision.prefix(12))", files: files)
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
