import CGit2
import Foundation

/// Reading trees without a checkout. Everything returned lies inside the configured root (the
/// repository or `subdir`): symbolic links, submodules and path components that could leave
/// the root (`..`, `.`, empty, containing `/`) are refused with `GitError.pathRefused`, never
/// followed or skipped. Paths in results are relative to the root; paths in errors are
/// relative to the repository, so they can be found in it.
extension GitMirror {
    /// Every regular file under `subdir` (default: the whole tree) at `commit`, with its blob
    /// id but without reading its bytes: one walk over the trees, no blob is loaded. Sorted by path.
    public func entries(at commit: GitCommitID, under subdir: String? = nil) throws -> [GitTreeEntry] {
        try withRepository { repository in
            let (root, prefix) = try Self.rootTree(repository, commit: commit, subdir: subdir)
            return try Self.walk(repository, root: root, prefix: prefix)
        }
    }

    /// Like `entries(at:under:)`, with the bytes of every file whose path (relative to the
    /// root) passes `include`. Files that do not pass are neither read nor returned; refusals
    /// (symbolic links, submodules, unsafe names) apply to the whole root regardless.
    public func files(at commit: GitCommitID, under subdir: String? = nil,
                      where include: (String) -> Bool = { _ in true }) throws -> [GitTreeFile] {
        try withRepository { repository in
            let (root, prefix) = try Self.rootTree(repository, commit: commit, subdir: subdir)
            return try Self.walk(repository, root: root, prefix: prefix).compactMap { entry in
                guard include(entry.path) else { return nil }
                let bytes = try Blob.lookup(repository, git_oid(entry.blobID)).bytes
                return GitTreeFile(path: entry.path, blobID: entry.blobID, bytes: bytes)
            }
        }
    }

    /// The bytes of the regular file `name` directly under `subdir` at `commit`, without walking
    /// the rest of the tree; nil when there is no such regular file (or no such subdir).
    public func file(named name: String, at commit: GitCommitID, under subdir: String? = nil) throws -> Data? {
        try withRepository { repository in
            guard let (root, _) = try? Self.rootTree(repository, commit: commit, subdir: subdir),
                  let entry = git_tree_entry_byname(root.pointer, name),
                  Self.isRegular(git_tree_entry_filemode(entry).rawValue) else { return nil }
            return Data(try Blob.lookup(repository, git_tree_entry_id(entry).pointee).bytes)
        }
    }

    /// Regular files added, modified, deleted or renamed under `subdir` between two commits,
    /// sorted by path. A `subdir` missing at `from` counts as empty (everything is added); one
    /// missing at `to` is an error. Symbolic links and submodules on the `to` side are refused;
    /// on the `from` side they count as absent.
    public func diff(from old: GitCommitID, to new: GitCommitID, under subdir: String? = nil) throws -> [GitFileChange] {
        try withRepository { repository in
            let (newTree, prefix) = try Self.rootTree(repository, commit: new, subdir: subdir)
            let oldTree: Tree?
            do {
                oldTree = try Self.rootTree(repository, commit: old, subdir: subdir).tree
            } catch GitError.subdirectoryNotFound, GitError.pathRefused {
                oldTree = nil
            }
            let diff = try Diff.trees(repository, old: oldTree, new: newTree)
            var changes: [GitFileChange] = []
            for index in 0..<diff.count {
                guard let delta = diff.delta(at: index) else { continue }
                let oldSide = side(delta.old_file, present: delta.status != GIT_DELTA_ADDED)
                let newSide = side(delta.new_file, present: delta.status != GIT_DELTA_DELETED)
                if let newSide {
                    try Self.checkComponents(newSide.path, prefix: prefix)
                    if let refusal = try Self.refusal(repository, mode: newSide.mode, oid: newSide.oid,
                                                      fullPath: prefix + newSide.path) {
                        throw refusal
                    }
                }
                let oldRegular = oldSide.flatMap { Self.isRegular($0.mode) ? $0 : nil }
                switch (oldRegular, newSide) {
                case let (old?, new?):
                    let renamed = delta.status == GIT_DELTA_RENAMED && old.path != new.path
                    if !renamed && old.oid.hex == new.oid.hex { continue }
                    changes.append(GitFileChange(kind: renamed ? .renamed : .modified, oldPath: old.path, newPath: new.path,
                                                 oldBlobID: old.oid.objectID, newBlobID: new.oid.objectID))
                case let (old?, nil):
                    changes.append(GitFileChange(kind: .deleted, oldPath: old.path, newPath: nil,
                                                 oldBlobID: old.oid.objectID, newBlobID: nil))
                case let (nil, new?):
                    changes.append(GitFileChange(kind: .added, oldPath: nil, newPath: new.path,
                                                 oldBlobID: nil, newBlobID: new.oid.objectID))
                case (nil, nil):
                    continue
                }
            }
            return changes.sorted { ($0.path, $0.oldPath ?? "") < ($1.path, $1.oldPath ?? "") }
        }
    }

    // MARK: internals

    private struct Side {
        let path: String
        let oid: git_oid
        let mode: UInt32
    }

    private func side(_ file: git_diff_file, present: Bool) -> Side? {
        guard present, let path = file.path else { return nil }
        return Side(path: String(cString: path), oid: file.id, mode: UInt32(file.mode))
    }

    private static func isRegular(_ mode: UInt32) -> Bool {
        mode == GIT_FILEMODE_BLOB.rawValue || mode == GIT_FILEMODE_BLOB_EXECUTABLE.rawValue
    }

    /// The tree at `subdir` of `commit`, and the subdir as a path prefix ("" or "a/b/").
    static func rootTree(_ repository: Repository, commit id: GitCommitID,
                         subdir: String?) throws -> (tree: Tree, prefix: String) {
        let components = try normalise(subdir)
        var tree = try Commit.lookup(repository, id).tree()
        var walked: [String] = []
        for component in components {
            walked.append(component)
            let here = walked.joined(separator: "/")
            guard let entry = git_tree_entry_byname(tree.pointer, component) else {
                throw GitError.subdirectoryNotFound(path: components.joined(separator: "/"), commit: id)
            }
            let mode = git_tree_entry_filemode(entry).rawValue
            let oid = git_tree_entry_id(entry).pointee
            if mode == GIT_FILEMODE_TREE.rawValue {
                tree = try Tree.lookup(repository, oid)
            } else if let refusal = try refusal(repository, mode: mode, oid: oid, fullPath: here) {
                throw refusal
            } else {
                throw GitError.subdirectoryNotFound(path: components.joined(separator: "/"), commit: id)
            }
        }
        return (tree, components.isEmpty ? "" : components.joined(separator: "/") + "/")
    }

    /// `subdir` as path components; `nil`, "", "." and "/"-only spellings mean the root.
    static func normalise(_ subdir: String?) throws -> [String] {
        guard let subdir, !subdir.isEmpty else { return [] }
        if subdir.hasPrefix("/") {
            throw GitError.pathRefused(path: subdir, message:
                "absolute paths are not allowed, the path must be relative to the repository: \(subdir)")
        }
        let components = subdir.split(separator: "/", omittingEmptySubsequences: true)
            .map(String.init).filter { $0 != "." }
        if components.contains("..") {
            throw GitError.pathRefused(path: subdir, message:
                "paths must stay inside the repository ('..' is not allowed): \(subdir)")
        }
        return components
    }

    /// Refuses tree entries whose name could leave the root or address something else.
    static func checkName(_ name: String, fullPath: String) throws {
        if name.isEmpty || name == "." || name == ".." || name.contains("/") || name.contains("\0") {
            throw GitError.pathRefused(path: fullPath, message:
                "unsafe path component '\(name)' in the tree (paths must stay inside the root): \(fullPath)")
        }
    }

    static func checkComponents(_ path: String, prefix: String) throws {
        if path.hasPrefix("/") {
            throw GitError.pathRefused(path: prefix + path, message: "absolute paths are not allowed: \(prefix + path)")
        }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            try checkName(String(component), fullPath: prefix + path)
        }
    }

    /// The error for an entry that is not a regular file or a directory, `nil` otherwise.
    static func refusal(_ repository: Repository, mode: UInt32, oid: git_oid, fullPath: String) throws -> GitError? {
        switch mode {
        case GIT_FILEMODE_BLOB.rawValue, GIT_FILEMODE_BLOB_EXECUTABLE.rawValue, GIT_FILEMODE_TREE.rawValue:
            return nil
        case GIT_FILEMODE_LINK.rawValue:
            let target = (try? Blob.lookup(repository, oid).bytes).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            return .pathRefused(path: fullPath, message: "symbolic links are not followed: \(fullPath) -> \(target)")
        case GIT_FILEMODE_COMMIT.rawValue:
            return .pathRefused(path: fullPath, message:
                "submodules are not supported: \(fullPath) (commit \(oid.hex.prefix(12)))")
        default:
            return .pathRefused(path: fullPath, message:
                "unsupported file mode \(String(mode, radix: 8)): \(fullPath)")
        }
    }

    /// One pass over the trees below `root` (depth first, an explicit stack): every entry is
    /// checked, regular files are collected, no blob is read.
    static func walk(_ repository: Repository, root: Tree, prefix: String) throws -> [GitTreeEntry] {
        var result: [GitTreeEntry] = []
        var pending: [(tree: Tree, relative: String)] = [(root, "")]
        while let (tree, relative) = pending.popLast() {
            for index in 0..<tree.count {
                guard let entry = tree.entry(at: index) else { continue }
                let name = String(cString: git_tree_entry_name(entry))
                let path = relative + name
                try checkName(name, fullPath: prefix + path)
                let mode = git_tree_entry_filemode(entry).rawValue
                let oid = git_tree_entry_id(entry).pointee
                switch mode {
                case GIT_FILEMODE_BLOB.rawValue, GIT_FILEMODE_BLOB_EXECUTABLE.rawValue:
                    result.append(GitTreeEntry(path: path, blobID: oid.objectID,
                                               isExecutable: mode == GIT_FILEMODE_BLOB_EXECUTABLE.rawValue))
                case GIT_FILEMODE_TREE.rawValue:
                    pending.append((try Tree.lookup(repository, oid), path + "/"))
                default:
                    if let refusal = try refusal(repository, mode: mode, oid: oid, fullPath: prefix + path) {
                        throw refusal
                    }
                }
            }
        }
        return result.sorted { $0.path < $1.path }
    }
}
