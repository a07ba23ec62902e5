import CGit2
import Foundation

/// A bare local clone of one remote, used as a cache: beamsync fetches into it and reads
/// commits, trees and blobs straight from its object database, never checking anything out.
///
/// Layout: a bare repository whose `origin` fetches `+refs/heads/*:refs/remotes/origin/*` and
/// `+refs/tags/*:refs/tags/*` with pruning, so remote-tracking refs and tags always mirror the
/// remote and no local branch can go stale.
///
/// Thread safety: reads share one repository handle behind a lock; each fetch opens its own
/// handles on its own thread (see `FetchJob`). The object is safe to use from any task.
public final class GitMirror: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var repository: Repository  // guarded by `lock`
    private var originURL: String       // guarded by `lock`

    private init(path: String, repository: Repository, url: String) {
        self.path = path
        self.repository = repository
        self.originURL = url
    }

    static let headsRefspec = "+refs/heads/*:refs/remotes/origin/*"
    static let tagsRefspec = "+refs/tags/*:refs/tags/*"
    static let fetchRefspecs = [headsRefspec, tagsRefspec]

    /// The URL `origin` fetches from.
    public var url: String { lock.withLock { originURL } }

    // MARK: opening and cloning

    /// Opens an existing mirror (a bare repository with an `origin` remote).
    public static func open(at path: String) throws -> GitMirror {
        let path = absolute(path)
        let repository: Repository
        do {
            repository = try Repository.open(path: path)
        } catch let error as GitError {
            throw GitError.notAMirror(path: path, reason: error.description)
        }
        guard repository.isBare else { throw GitError.notAMirror(path: path, reason: "it is not a bare repository") }
        guard let url = repository.configString("remote.origin.url") else {
            throw GitError.notAMirror(path: path, reason: "it has no remote named origin")
        }
        return GitMirror(path: path, repository: repository, url: url)
    }

    /// Creates a mirror of `url` at `path` (which must not exist or be an empty directory) and
    /// fetches everything. On failure what the clone created is removed again, except after a
    /// timeout or cancellation:
    /// the abandoned transfer thread may still be writing there, so the directory stays as a
    /// valid mirror that `update(url:at:)` continues with a fresh fetch.
    public static func clone(url: String, to path: String, options: GitRemoteOptions = .none,
                             timeout: Duration = .seconds(300)) async throws -> GitMirror {
        let path = absolute(path)
        let credentials = try ResolvedCredentials.resolve(options, url: url)
        let fileManager = FileManager.default
        if let contents = try? fileManager.contentsOfDirectory(atPath: path), !contents.isEmpty {
            throw GitError.invalidOptions("cannot clone into \(path): the directory is not empty")
        } else if fileManager.fileExists(atPath: path) && (try? fileManager.contentsOfDirectory(atPath: path)) == nil {
            throw GitError.invalidOptions("cannot clone into \(path): it exists and is not a directory")
        }
        let created = !fileManager.fileExists(atPath: path)
        func removeCreated() {
            if created { try? fileManager.removeItem(atPath: path) } else { removeContents(of: path) }
        }
        do {
            let repository = try Repository.initBare(path: path)
            _ = try Remote.create(repository, name: "origin", url: url, fetchspec: headsRefspec)
            try Libgit2.check(git_remote_add_fetch(repository.pointer, "origin", tagsRefspec), "configure origin", url: url)
        } catch {
            removeCreated()
            throw error
        }
        do {
            try await FetchJob(path: path, url: url, credentials: credentials, timeout: timeout).run()
        } catch {
            switch error {
            case GitError.timedOut, GitError.cancelled:
                break  // the transfer thread may still be running in there
            default:
                removeCreated()
            }
            throw error
        }
        return try open(at: path)
    }

    /// Brings the mirror at `path` up to date with `url`: clones when there is no mirror yet,
    /// otherwise points `origin` at `url` (if it changed) and fetches.
    public static func update(url: String, at path: String, options: GitRemoteOptions = .none,
                              timeout: Duration = .seconds(300)) async throws -> GitMirror {
        let path = absolute(path)
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if !exists || (isDirectory.boolValue && (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true) {
            return try await clone(url: url, to: path, options: options, timeout: timeout)
        }
        let mirror = try open(at: path)
        if mirror.url != url { try mirror.setURL(url) }
        try await mirror.fetch(options: options, timeout: timeout)
        return mirror
    }

    /// Points `origin` at another URL (the next fetch uses it).
    public func setURL(_ url: String) throws {
        try lock.withLock {
            try Libgit2.check(git_remote_set_url(repository.pointer, "origin", url), "set the URL of origin", url: url)
            originURL = url
        }
    }

    /// Fetches from `origin`, updating remote-tracking branches and tags (deleted ones are
    /// pruned). Runs on a dedicated thread; throws `GitError.timedOut` as soon as `timeout`
    /// passes even if the thread is still blocked in the network.
    public func fetch(options: GitRemoteOptions = .none, timeout: Duration = .seconds(300)) async throws {
        let url = self.url
        let credentials = try ResolvedCredentials.resolve(options, url: url)
        try await FetchJob(path: path, url: url, credentials: credentials, timeout: timeout).run()
        // A fresh read handle, so nothing cached in the old one (packed refs, pack lists) hides the fetch.
        let reopened = try Repository.open(path: path)
        lock.withLock { repository = reopened }
    }

    // MARK: reading

    /// Runs `body` with the read handle, one caller at a time.
    func withRepository<T>(_ body: (Repository) throws -> T) rethrows -> T {
        try lock.withLock { try body(repository) }
    }

    /// Resolves a revision to a commit id. Accepts, in this order: a full 40-digit commit id;
    /// a full ref name (`refs/tags/v1`; `refs/heads/x` means origin's branch x); a branch of
    /// origin (`main`); a tag (`v1.2`); a local branch; `origin/main`; an abbreviated commit id
    /// (at least 4 digits); a revision expression on any of these (`main~1`). Tags are peeled
    /// to their commit.
    public func resolve(_ revision: String) throws -> GitCommitID {
        try withRepository { try Self.resolve(revision, in: $0) }
    }

    static func resolve(_ revision: String, in repository: Repository) throws -> GitCommitID {
        let name = revision.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw GitError.revisionNotFound(revision) }
        func peeled(_ oid: git_oid) -> git_oid? {
            var oid = oid
            var out: OpaquePointer?
            guard git_object_lookup(&out, repository.pointer, &oid, GIT_OBJECT_ANY) == 0, let out else { return nil }
            return Object(pointer: out).peelToCommitID()
        }
        let isHex = name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) }
        if isHex && name.utf8.count == 40, let id = GitObjectID(hex: name) {
            if let commit = peeled(git_oid(id)) { return commit.objectID }
            throw GitError.revisionNotFound(revision)
        }
        let candidates: [String]
        if name.hasPrefix("refs/heads/") {  // the remote's branch, mirrored as refs/remotes/origin/*
            candidates = ["refs/remotes/origin/" + name.dropFirst("refs/heads/".count), name]
        } else if name.hasPrefix("refs/") {
            candidates = [name]
        } else {
            candidates = ["refs/remotes/origin/\(name)", "refs/tags/\(name)", "refs/heads/\(name)", "refs/remotes/\(name)"]
        }
        for candidate in candidates {
            if let target = repository.referenceTarget(candidate), let commit = peeled(target) {
                return commit.objectID
            }
        }
        if isHex && name.utf8.count >= 4 {
            var oid = git_oid()
            var out: OpaquePointer?
            if git_oid_fromstrn(&oid, name, name.utf8.count) == 0 {
                let code = git_object_lookup_prefix(&out, repository.pointer, &oid, name.utf8.count, GIT_OBJECT_ANY)
                if code == 0, let out, let commit = Object(pointer: out).peelToCommitID() { return commit.objectID }
                if code == GIT_EAMBIGUOUS.rawValue {
                    throw Libgit2.lastError(operation: "resolve '\(name)'", code: code, url: nil)
                }
            }
        }
        // Revision expressions (`main~1`, `v1^`): resolve the base name as above, then let
        // libgit2 apply the suffix to the commit id.
        if let cut = name.firstIndex(where: { $0 == "~" || $0 == "^" }), cut != name.startIndex,
           let base = try? resolve(String(name[..<cut]), in: repository),
           let object = Object.revparse(repository, base.hex + name[cut...]), let commit = object.peelToCommitID() {
            return commit.objectID
        }
        if let object = Object.revparse(repository, name), let commit = object.peelToCommitID() {
            return commit.objectID
        }
        throw GitError.revisionNotFound(revision)
    }

    /// Id, summary, author and time of a commit.
    public func commitInfo(_ id: GitCommitID) throws -> GitCommitInfo {
        try withRepository { repository in
            let commit = try Commit.lookup(repository, id)
            let author = git_commit_author(commit.pointer)!.pointee
            let message = git_commit_message(commit.pointer).map { String(cString: $0) } ?? ""
            let summary = git_commit_summary(commit.pointer).map { String(cString: $0) } ?? ""
            let parents = (0..<git_commit_parentcount(commit.pointer)).compactMap {
                git_commit_parent_id(commit.pointer, $0)?.pointee.objectID
            }
            return GitCommitInfo(id: id, summary: summary, message: message,
                                 authorName: author.name.map { String(cString: $0) } ?? "",
                                 authorEmail: author.email.map { String(cString: $0) } ?? "",
                                 time: Date(timeIntervalSince1970: TimeInterval(author.when.time)),
                                 parents: parents)
        }
    }

    /// The bytes of one blob (for example after a cache miss on its id).
    public func blob(_ id: GitBlobID) throws -> Data {
        try withRepository { try Blob.lookup($0, git_oid(id)).bytes }
    }

    /// Empties a directory the caller gave us (it existed, empty, before the clone).
    private static func removeContents(of path: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            try? FileManager.default.removeItem(atPath: path + "/" + name)
        }
    }

    private static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
