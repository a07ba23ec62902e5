@testable import BeamsyncGit
import Foundation
import Testing

@Suite("GitMirror: clone, fetch and resolve over file://")
struct MirrorTests {
    @Test("a clone is a bare mirror whose remote-tracking branch is the upstream's head")
    func cloneMirrorsTheUpstream() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("profiles/a.yaml", "name: a\n")
        let first = try await upstream.commit("first")

        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        #expect(mirror.url == upstream.url)
        #expect(try mirror.resolve("main") == first)
        #expect(FileManager.default.fileExists(atPath: scratch.sub("mirror/HEAD")))
        #expect(!FileManager.default.fileExists(atPath: scratch.sub("mirror/profiles")), "no checkout")
        let reopened = try GitMirror.open(at: scratch.sub("mirror"))
        #expect(try reopened.resolve("origin/main") == first)
    }

    @Test("fetch after a new upstream commit moves the branch; deleted branches are pruned; new tags arrive")
    func fetchMovesRefs() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("a.txt", "1\n")
        let first = try await upstream.commit("first")
        try await upstream.git("branch", "feature")
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))
        #expect(try mirror.resolve("feature") == first)

        try upstream.write("a.txt", "2\n")
        let second = try await upstream.commit("second")
        try await upstream.git("branch", "-D", "feature")
        try await upstream.git("tag", "v2")
        #expect(try mirror.resolve("main") == first, "nothing changes before the fetch")

        try await mirror.fetch()

        #expect(try mirror.resolve("main") == second)
        #expect(try mirror.resolve("v2") == second)
        #expect(throws: GitError.revisionNotFound("feature")) { try mirror.resolve("feature") }
    }

    @Test("resolve accepts branches, origin/branch, refs/heads/x, tags (light and annotated), and full or short ids")
    func resolveSpellings() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("a.txt", "1\n")
        let first = try await upstream.commit("first")
        try await upstream.git("tag", "light")
        try await upstream.git("tag", "-a", "annotated", "-m", "release")
        try upstream.write("a.txt", "2\n")
        let second = try await upstream.commit("second")
        try await upstream.git("branch", "release/1.x", first.hex)

        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        #expect(try mirror.resolve("main") == second)
        #expect(try mirror.resolve("origin/main") == second)
        #expect(try mirror.resolve("refs/heads/main") == second)
        #expect(try mirror.resolve("refs/remotes/origin/main") == second)
        #expect(try mirror.resolve("release/1.x") == first)
        #expect(try mirror.resolve("light") == first)
        #expect(try mirror.resolve("annotated") == first, "annotated tags peel to their commit")
        #expect(try mirror.resolve("refs/tags/annotated") == first)
        #expect(try mirror.resolve(first.hex) == first)
        #expect(try mirror.resolve(String(first.hex.prefix(7))) == first)
        #expect(try mirror.resolve(first.hex.uppercased()) == first)
        #expect(try mirror.resolve("main~1") == first)
        #expect(throws: GitError.revisionNotFound("nope")) { try mirror.resolve("nope") }
        let unknown = String(repeating: "0", count: 40)
        #expect(throws: GitError.revisionNotFound(unknown)) { try mirror.resolve(unknown) }
    }

    @Test("commitInfo gives id, summary, author and time")
    func commitInfo() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("a.txt", "1\n")
        try await upstream.git("add", "-A")
        try await upstream.git("commit", "-q", "-m", "Add profile a\n\nLonger explanation.",
                         "--date", "2026-11-25T12:00:00Z")
        let id = try await upstream.head()
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        let info = try mirror.commitInfo(id)

        #expect(info.id == id)
        #expect(info.summary == "Add profile a")
        #expect(info.message.contains("Longer explanation."))
        #expect(info.authorName == "Ada Author")
        #expect(info.authorEmail == "ada@example.org")
        #expect(info.time == ISO8601DateFormatter().date(from: "2026-11-25T12:00:00Z"))
        #expect(info.parents.isEmpty)
    }

    @Test("update clones a missing mirror, fetches an existing one, and follows a changed URL")
    func updateClonesThenFetches() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("a.txt", "1\n")
        try await upstream.commit("first")
        let path = scratch.sub("cache/mirror")

        _ = try await GitMirror.update(url: upstream.url, at: path)
        try upstream.write("a.txt", "2\n")
        let second = try await upstream.commit("second")
        let fetched = try await GitMirror.update(url: upstream.url, at: path)
        #expect(try fetched.resolve("main") == second)

        let moved = try await Upstream(at: scratch.sub("moved"))
        try moved.write("b.txt", "elsewhere\n")
        let elsewhere = try await moved.commit("other history")
        let followed = try await GitMirror.update(url: moved.url, at: path)
        #expect(followed.url == moved.url)
        #expect(try followed.resolve("main") == elsewhere)
    }

    @Test("open refuses a directory that is not a mirror; clone refuses a non-empty directory")
    func openAndCloneRefusals() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try await upstream.commit("empty")

        #expect(throws: GitError.self) { try GitMirror.open(at: scratch.sub("nothing-here")) }
        let notBare = #expect(throws: GitError.self) { try GitMirror.open(at: upstream.path + "/.git") }
        #expect(notBare?.description.contains("not a bare repository") == true)
        let error = await thrownError { try await GitMirror.clone(url: upstream.url, to: upstream.path) }
        #expect((error as? GitError)?.description.contains("not empty") == true)
    }

    @Test("a failing clone reports libgit2's message and the URL, and leaves no directory behind")
    func failedCloneCleansUp() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let url = "file://" + scratch.sub("does-not-exist")

        let error = await thrownError { try await GitMirror.clone(url: url, to: scratch.sub("mirror")) }

        guard case let .libgit2(operation, _, _, message, shownURL)? = error as? GitError else {
            Issue.record("expected a libgit2 error, got \(String(describing: error))")
            return
        }
        #expect(operation == "fetch")
        #expect(shownURL == url)
        #expect(!message.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: scratch.sub("mirror")))
    }
}
