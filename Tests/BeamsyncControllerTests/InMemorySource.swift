import BeamsyncModel
import BeamsyncOperations
import Foundation

/// A followed source held in memory: commits of files on one branch, and fetches or reads that
/// fail on demand. The controller tests use it in place of a git repository (the git layer is
/// tested against real repositories, and the controller as a process against real git);
/// everything else is real.
final class InMemorySource: DesiredSource, @unchecked Sendable {
    struct FetchFailed: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    struct ReadFailed: Error, CustomStringConvertible {
        var description: String { "object not found" }
    }

    let identity = SourceIdentity(url: "memory://fleet", branch: "main", path: "")
    private let lock = NSLock()
    private var trees: [String: [String: String]] = [:]
    private var head: String?
    private var fetchesFail = false
    private var readsFail = false
    private var fetchCount = 0
    private var readCount = 0
    private var beforeRead: (@Sendable (String) async -> Void)?

    /// Commits `changes` on top of the branch head (nil removes a file); returns the new revision.
    @discardableResult
    func commit(_ changes: [String: String?]) -> String {
        lock.withLock {
            var files = head.flatMap { trees[$0] } ?? [:]
            for (path, text) in changes { files[path] = text }
            let revision = (UUID().uuidString + UUID().uuidString).replacingOccurrences(of: "-", with: "").lowercased().prefix(40)
            trees[String(revision)] = files
            head = String(revision)
            return String(revision)
        }
    }

    /// From now on every fetch fails (`true`) or works again (`false`).
    func failFetches(_ fail: Bool) { lock.withLock { fetchesFail = fail } }

    /// From now on reading a revision's files fails (`true`) or works again (`false`).
    func failReads(_ fail: Bool) { lock.withLock { readsFail = fail } }

    /// Runs `hook` with the revision each time the controller starts reading a revision's files,
    /// that is in the middle of a reconcile, after the source was marked Reconciling.
    func onRead(_ hook: @escaping @Sendable (String) async -> Void) { lock.withLock { beforeRead = hook } }

    /// How many fetches were attempted (one per reconcile that is not suspended).
    var fetches: Int { lock.withLock { fetchCount } }
    /// How many revisions were read (one per reconcile that gets as far as applying).
    var reads: Int { lock.withLock { readCount } }

    func latestRevision() async throws -> String {
        try lock.withLock {
            fetchCount += 1
            guard !fetchesFail, let head else { throw FetchFailed() }
            return head
        }
    }

    func snapshot(at revision: String) async throws -> SourceSnapshot {
        let hook = lock.withLock { beforeRead }
        await hook?(revision)
        return try lock.withLock {
            readCount += 1
            guard !readsFail, let files = trees[revision] else { throw ReadFailed() }
            return SourceSnapshot(revision: revision, label: "\(identity.url)@\(identity.branch) (\(revision.prefix(12)))",
                                  files: files.sorted { $0.key < $1.key }.map { SourceFile(path: $0.key, bytes: Array($0.value.utf8)) })
        }
    }
}
