import CGit2
import Foundation

/// Process-wide libgit2 set-up. Every entry point of this module calls `Libgit2.ensure()` first;
/// `git_libgit2_init` runs exactly once (Swift initialises a global `let` exactly once, thread-safely)
/// and is never shut down, because abandoned transfer threads may still be inside libgit2.
enum Libgit2 {
    private static let initialised: Bool = {
        let ok = git_libgit2_init() > 0
        _ = GitConnectionGate.registered
        return ok
    }()

    static func ensure() {
        _ = initialised
    }

    /// The calling thread's last libgit2 error (libgit2 keeps it per thread).
    static func lastError(operation: String, code: Int32, url: String?) -> GitError {
        var message = "unknown error"
        var errorClass = "none"
        if let error = git_error_last() {
            if let text = error.pointee.message {
                message = String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            errorClass = className(error.pointee.klass)
        }
        // libgit2 may quote the URL it was given, credentials included.
        if let url, !url.isEmpty, message.contains(url) {
            message = message.replacingOccurrences(of: url, with: RemoteURL.redacted(url))
        }
        return .libgit2(operation: operation, code: code, errorClass: errorClass, message: message,
                        url: url.map(RemoteURL.redacted))
    }

    /// Throws the last libgit2 error when `code` is negative.
    @discardableResult
    static func check(_ code: Int32, _ operation: String, url: String? = nil) throws -> Int32 {
        if code < 0 { throw lastError(operation: operation, code: code, url: url) }
        return code
    }

    static func className(_ klass: Int32) -> String {
        switch UInt32(bitPattern: klass) {
        case GIT_ERROR_NOMEMORY.rawValue: return "nomemory"
        case GIT_ERROR_OS.rawValue: return "os"
        case GIT_ERROR_INVALID.rawValue: return "invalid"
        case GIT_ERROR_REFERENCE.rawValue: return "reference"
        case GIT_ERROR_ZLIB.rawValue: return "zlib"
        case GIT_ERROR_REPOSITORY.rawValue: return "repository"
        case GIT_ERROR_CONFIG.rawValue: return "config"
        case GIT_ERROR_ODB.rawValue: return "odb"
        case GIT_ERROR_INDEX.rawValue: return "index"
        case GIT_ERROR_OBJECT.rawValue: return "object"
        case GIT_ERROR_NET.rawValue: return "net"
        case GIT_ERROR_TAG.rawValue: return "tag"
        case GIT_ERROR_TREE.rawValue: return "tree"
        case GIT_ERROR_INDEXER.rawValue: return "indexer"
        case GIT_ERROR_SSL.rawValue: return "ssl"
        case GIT_ERROR_SSH.rawValue: return "ssh"
        case GIT_ERROR_CALLBACK.rawValue: return "callback"
        case GIT_ERROR_HTTP.rawValue: return "http"
        case GIT_ERROR_FILESYSTEM.rawValue: return "filesystem"
        default: return "class \(klass)"
        }
    }
}

extension git_oid {
    var hex: String {
        var oid = self
        var buffer = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buffer, 41, &oid)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    var objectID: GitObjectID { GitObjectID(trusted: hex) }

    init(_ id: GitObjectID) {
        self.init()
        git_oid_fromstr(&self, id.hex)
    }
}

// MARK: - One final class per libgit2 handle. Each owns its pointer and frees it in deinit.
// None of them is shared between threads: a `GitMirror` serialises its read handle behind a
// lock, and every fetch opens its own `Repository` and `Remote` on its own thread.

final class Repository {
    let pointer: OpaquePointer
    let path: String

    private init(pointer: OpaquePointer, path: String) {
        self.pointer = pointer
        self.path = path
    }

    deinit { git_repository_free(pointer) }

    /// Opens exactly `path` (no search upwards, no GIT_DIR from the environment).
    static func open(path: String) throws -> Repository {
        Libgit2.ensure()
        var out: OpaquePointer?
        let flags = GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue | GIT_REPOSITORY_OPEN_NO_DOTGIT.rawValue
        try Libgit2.check(git_repository_open_ext(&out, path, flags, nil), "open \(path)")
        return Repository(pointer: out!, path: path)
    }

    /// Creates a bare repository at `path` (and missing parent directories).
    static func initBare(path: String) throws -> Repository {
        Libgit2.ensure()
        var options = git_repository_init_options()
        git_repository_init_options_init(&options, UInt32(GIT_REPOSITORY_INIT_OPTIONS_VERSION))
        options.flags = GIT_REPOSITORY_INIT_BARE.rawValue | GIT_REPOSITORY_INIT_MKPATH.rawValue
            | GIT_REPOSITORY_INIT_NO_REINIT.rawValue
        var out: OpaquePointer?
        let code = "main".withCString { head -> Int32 in
            options.initial_head = head
            return git_repository_init_ext(&out, path, &options)
        }
        try Libgit2.check(code, "init \(path)")
        return Repository(pointer: out!, path: path)
    }

    var isBare: Bool { git_repository_is_bare(pointer) == 1 }

    /// A string from the repository's configuration (read from a snapshot; nil when unset).
    /// Used instead of looking up a remote, which would apply insteadOf (see `Remote.anonymous`).
    func configString(_ key: String) -> String? {
        var config: OpaquePointer?
        guard git_repository_config_snapshot(&config, pointer) == 0, let config else { return nil }
        defer { git_config_free(config) }
        var value: UnsafePointer<CChar>?
        guard git_config_get_string(&value, config, key) == 0, let value else { return nil }
        return String(cString: value)
    }

    /// The id a reference points to, peeled through symbolic references; `nil` when absent.
    func referenceTarget(_ name: String) -> git_oid? {
        var oid = git_oid()
        return git_reference_name_to_id(&oid, pointer, name) == 0 ? oid : nil
    }

    func referenceExists(_ name: String) -> Bool { referenceTarget(name) != nil }
}

final class Remote {
    let pointer: OpaquePointer

    private init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_remote_free(pointer) }

    /// An unnamed remote for one fetch, with `url` as given. It skips git's `url.*.insteadOf`
    /// rewriting: libgit2 1.5 built with PCRE2 (Debian 12's) leaks about 20 KB per config entry
    /// each time a repository-bound remote applies it, which is 0.5 MB per fetch — a steady
    /// leak for a controller that fetches every few minutes. The refspecs come with the fetch.
    static func anonymous(_ repository: Repository, url: String) throws -> Remote {
        var options = git_remote_create_options()
        git_remote_create_options_init(&options, UInt32(GIT_REMOTE_CREATE_OPTIONS_VERSION))
        options.repository = repository.pointer
        options.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF.rawValue | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC.rawValue
        var out: OpaquePointer?
        try Libgit2.check(git_remote_create_with_opts(&out, url, &options), "set up a fetch from \(url)", url: url)
        return Remote(pointer: out!)
    }

    static func create(_ repository: Repository, name: String, url: String, fetchspec: String) throws -> Remote {
        var out: OpaquePointer?
        try Libgit2.check(git_remote_create_with_fetchspec(&out, repository.pointer, name, url, fetchspec),
                          "create remote \(name)", url: url)
        return Remote(pointer: out!)
    }

    var url: String? { git_remote_url(pointer).map { String(cString: $0) } }
}

/// Any object (`git_object*`), as returned by rev-parse and prefix look-ups.
final class Object {
    let pointer: OpaquePointer

    init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_object_free(pointer) }

    static func lookup(_ repository: Repository, prefix: String) -> Object? {
        var oid = git_oid()
        guard git_oid_fromstrn(&oid, prefix, prefix.utf8.count) == 0 else { return nil }
        var out: OpaquePointer?
        guard git_object_lookup_prefix(&out, repository.pointer, &oid, prefix.utf8.count, GIT_OBJECT_ANY) == 0
        else { return nil }
        return Object(pointer: out!)
    }

    static func revparse(_ repository: Repository, _ spec: String) -> Object? {
        var out: OpaquePointer?
        guard git_revparse_single(&out, repository.pointer, spec) == 0 else { return nil }
        return Object(pointer: out!)
    }

    /// Peels tags down to the commit they point at; `nil` when this is not (a tag of) a commit.
    func peelToCommitID() -> git_oid? {
        var out: OpaquePointer?
        guard git_object_peel(&out, pointer, GIT_OBJECT_COMMIT) == 0, let peeled = out else { return nil }
        defer { git_object_free(peeled) }
        return git_object_id(peeled).pointee
    }
}

final class Commit {
    let pointer: OpaquePointer

    private init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_commit_free(pointer) }

    static func lookup(_ repository: Repository, _ id: GitCommitID) throws -> Commit {
        var oid = git_oid(id)
        var out: OpaquePointer?
        let code = git_commit_lookup(&out, repository.pointer, &oid)
        if code == GIT_ENOTFOUND.rawValue { throw GitError.revisionNotFound(id.hex) }
        try Libgit2.check(code, "look up commit \(id.short)")
        return Commit(pointer: out!)
    }

    func tree() throws -> Tree {
        var out: OpaquePointer?
        try Libgit2.check(git_commit_tree(&out, pointer), "read the tree of a commit")
        return Tree(pointer: out!)
    }
}

final class Tree {
    let pointer: OpaquePointer

    init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_tree_free(pointer) }

    static func lookup(_ repository: Repository, _ oid: git_oid) throws -> Tree {
        var oid = oid
        var out: OpaquePointer?
        try Libgit2.check(git_tree_lookup(&out, repository.pointer, &oid), "look up tree \(oid.hex)")
        return Tree(pointer: out!)
    }

    var count: Int { git_tree_entrycount(pointer) }

    /// Borrowed entry, valid while this tree lives.
    func entry(at index: Int) -> OpaquePointer? { git_tree_entry_byindex(pointer, index) }
}

final class Blob {
    let pointer: OpaquePointer

    private init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_blob_free(pointer) }

    static func lookup(_ repository: Repository, _ oid: git_oid) throws -> Blob {
        var oid = oid
        var out: OpaquePointer?
        try Libgit2.check(git_blob_lookup(&out, repository.pointer, &oid), "read blob \(oid.hex)")
        return Blob(pointer: out!)
    }

    var bytes: Data {
        let size = Int(git_blob_rawsize(pointer))
        guard size > 0, let raw = git_blob_rawcontent(pointer) else { return Data() }
        return Data(bytes: raw, count: size)
    }
}

final class Diff {
    let pointer: OpaquePointer

    private init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_diff_free(pointer) }

    /// Tree-to-tree diff with rename detection; `nil` trees stand for an empty tree.
    static func trees(_ repository: Repository, old: Tree?, new: Tree?) throws -> Diff {
        var options = git_diff_options()
        git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION))
        var out: OpaquePointer?
        try Libgit2.check(git_diff_tree_to_tree(&out, repository.pointer, old?.pointer, new?.pointer, &options),
                          "diff trees")
        let diff = Diff(pointer: out!)
        var find = git_diff_find_options()
        git_diff_find_options_init(&find, UInt32(GIT_DIFF_FIND_OPTIONS_VERSION))
        find.flags = GIT_DIFF_FIND_RENAMES.rawValue
        try Libgit2.check(git_diff_find_similar(diff.pointer, &find), "find renames")
        return diff
    }

    var count: Int { git_diff_num_deltas(pointer) }
    func delta(at index: Int) -> git_diff_delta? { git_diff_get_delta(pointer, index)?.pointee }
}

/// A libssh2 session (never connected) and the known-hosts collection libssh2 ties to it.
final class KnownHosts {
    private let session: OpaquePointer
    private let hosts: OpaquePointer

    /// Reads an OpenSSH known_hosts file (plain or hashed entries).
    init(file: String) throws {
        Libgit2.ensure()  // libgit2's init also runs libssh2_init
        guard let session = cgit2_ssh_session_new() else {
            throw GitError.invalidOptions("libssh2 could not create a session to read \(file)")
        }
        guard let hosts = libssh2_knownhost_init(session) else {
            libssh2_session_free(session)
            throw GitError.invalidOptions("libssh2 could not create a known-hosts collection for \(file)")
        }
        self.session = session
        self.hosts = hosts
        let read = cgit2_knownhost_readfile(hosts, file)
        if read < 0 {
            throw GitError.invalidOptions("cannot read known_hosts file \(file) (libssh2 error \(read))")
        }
        if read == 0 {
            throw GitError.invalidOptions("known_hosts file \(file) has no entries")
        }
    }

    deinit {
        libssh2_knownhost_free(hosts)
        libssh2_session_free(session)
    }

    enum Result { case match, mismatch, notFound, failure }

    func check(host: String, port: Int, key: UnsafeRawBufferPointer, keyType: Int32) -> Result {
        let code = key.withMemoryRebound(to: CChar.self) { raw in
            cgit2_knownhost_check(hosts, host, Int32(port), raw.baseAddress, raw.count, keyType)
        }
        switch code {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH: return .match
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: return .mismatch
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND: return .notFound
        default: return .failure
        }
    }
}

extension Array where Element == String {
    /// Calls `body` with these strings as a `git_strarray` that lives for the call.
    func withGitStrArray<T>(_ body: (UnsafePointer<git_strarray>) -> T) -> T {
        var copies: [UnsafeMutablePointer<CChar>?] = map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        return copies.withUnsafeMutableBufferPointer { buffer in
            var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
            return body(&array)
        }
    }
}
