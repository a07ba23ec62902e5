import CGit2
import Foundation

/// Reading commit signatures and the commits a verification covers.
extension GitMirror {
    /// The signature in a commit's `gpgsig` header and the payload it signs; nil when the
    /// commit is not signed.
    public func signature(of commit: GitCommitID) throws -> CommitSignature? {
        try withRepository { try Self.signature(of: commit, in: $0) }
    }

    /// Every commit reachable from `head` and not from `base` (all parents of merges are
    /// followed), newest first in topological order. `head` itself is always included, also
    /// when `base` already contains it (a rollback to an older commit), so the list is never
    /// empty. Without a `base` this is the whole history of `head`.
    ///
    /// Throws `CommitVerificationError.tooManyCommits` when there are more than `limit`, and
    /// `.baseNotFound` when `base` is not in the mirror.
    public func commits(reachableFrom head: GitCommitID, excluding base: GitCommitID?, limit: Int) throws -> [GitCommitID] {
        try withRepository { repository in
            _ = try Commit.lookup(repository, head)
            let walk = try RevisionWalk(repository)
            try walk.push(head)
            if let base {
                guard (try? Commit.lookup(repository, base)) != nil else {
                    throw CommitVerificationError.baseNotFound(base: base)
                }
                try walk.hide(base)
            }
            var ids: [GitCommitID] = []
            while let next = try walk.next() {
                if ids.count == limit {
                    throw CommitVerificationError.tooManyCommits(limit: limit, head: head, base: base)
                }
                ids.append(next)
            }
            if !ids.contains(head) { ids.insert(head, at: 0) }
            return ids
        }
    }

    static func signature(of commit: GitCommitID, in repository: Repository) throws -> CommitSignature? {
        let object = try Commit.lookup(repository, commit)
        let committerTime = git_commit_committer(object.pointer).map { Int64($0.pointee.when.time) } ?? 0
        var signature = git_buf(), payload = git_buf()
        defer {
            git_buf_dispose(&signature)
            git_buf_dispose(&payload)
        }
        var oid = git_oid(commit)
        let code = git_commit_extract_signature(&signature, &payload, repository.pointer, &oid, nil)
        if code == GIT_ENOTFOUND.rawValue { return nil }
        try Libgit2.check(code, "read the signature of commit \(commit.short)")
        let armored = signature.ptr.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: signature.size), as: UTF8.self) } ?? ""
        let signed = payload.ptr.map { Data(bytes: $0, count: payload.size) } ?? Data()
        return CommitSignature(commit: commit, armored: armored, payload: signed, committerTime: committerTime)
    }
}

/// A libgit2 revision walk (`git_revwalk*`), topological and newest first.
final class RevisionWalk {
    let pointer: OpaquePointer

    init(_ repository: Repository) throws {
        var out: OpaquePointer?
        try Libgit2.check(git_revwalk_new(&out, repository.pointer), "start a revision walk")
        pointer = out!
        try Libgit2.check(git_revwalk_sorting(pointer, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_TIME.rawValue),
                          "sort a revision walk")
    }

    deinit { git_revwalk_free(pointer) }

    func push(_ id: GitCommitID) throws {
        var oid = git_oid(id)
        try Libgit2.check(git_revwalk_push(pointer, &oid), "walk from \(id.short)")
    }

    func hide(_ id: GitCommitID) throws {
        var oid = git_oid(id)
        try Libgit2.check(git_revwalk_hide(pointer, &oid), "exclude the history of \(id.short)")
    }

    func next() throws -> GitCommitID? {
        var oid = git_oid()
        let code = git_revwalk_next(&oid, pointer)
        if code == GIT_ITEROVER.rawValue { return nil }
        try Libgit2.check(code, "walk the history")
        return oid.objectID
    }
}
