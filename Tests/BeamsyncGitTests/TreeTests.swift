@testable import BeamsyncGit
import Foundation
import Testing

@Suite("GitMirror: reading trees without a checkout")
struct TreeTests {
    /// An upstream with a small GitOps layout under `deploy/`, and its mirror.
    private func fixture(_ scratch: Scratch) async throws -> (Upstream, GitMirror, GitCommitID) {
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("README.md", "# fleet\n")
        try upstream.write("deploy/beamsync.yaml", "prune: false\n")
        try upstream.write("deploy/profiles/a.yaml", "name: a\n")
        try upstream.write("deploy/profiles/nested/b.yml", "name: b\n")
        try upstream.write("deploy/graphs/big.graph", String(repeating: "x", count: 100_000))
        let commit = try await upstream.commit("layout")
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))
        return (upstream, mirror, commit)
    }

    @Test("files at a commit: every regular file with its path, blob id and bytes")
    func wholeTree() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (upstream, mirror, commit) = try await fixture(scratch)

        let files = try mirror.files(at: commit)

        #expect(files.map(\.path) == ["README.md", "deploy/beamsync.yaml", "deploy/graphs/big.graph",
                                      "deploy/profiles/a.yaml", "deploy/profiles/nested/b.yml"])
        let a = try #require(files.first { $0.path == "deploy/profiles/a.yaml" })
        #expect(String(decoding: a.bytes, as: UTF8.self) == "name: a\n")
        let expected = try await upstream.id("HEAD:deploy/profiles/a.yaml")
        #expect(a.blobID == expected)
    }

    @Test("under a subdirectory, paths are relative to it")
    func subdirectory() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (_, mirror, commit) = try await fixture(scratch)

        let paths = try mirror.files(at: commit, under: "deploy").map(\.path)
        #expect(paths == ["beamsync.yaml", "graphs/big.graph", "profiles/a.yaml", "profiles/nested/b.yml"])
        #expect(try mirror.files(at: commit, under: "./deploy/profiles/").map(\.path) == ["a.yaml", "nested/b.yml"])
        #expect(try mirror.files(at: commit, under: "").count == 5, "an empty subdir is the root")
    }

    @Test("a predicate keeps unrelated files unread; entries list ids without reading any blob")
    func predicateAndEntries() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (_, mirror, commit) = try await fixture(scratch)

        let yaml = try mirror.files(at: commit, under: "deploy") { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
        #expect(yaml.map(\.path) == ["beamsync.yaml", "profiles/a.yaml", "profiles/nested/b.yml"])

        let entries = try mirror.entries(at: commit, under: "deploy")
        let graph = try #require(entries.first { $0.path == "graphs/big.graph" })
        #expect(try mirror.blob(graph.blobID).count == 100_000, "bytes on demand, by blob id")
    }

    @Test("blob ids of unchanged files stay the same across commits, so parsed content can be cached by id")
    func blobIDsAreStable() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (upstream, mirror, first) = try await fixture(scratch)
        try upstream.write("deploy/profiles/a.yaml", "name: a2\n")
        let second = try await upstream.commit("edit a")
        try await mirror.fetch()

        let before = Dictionary(uniqueKeysWithValues: try mirror.entries(at: first).map { ($0.path, $0.blobID) })
        let after = Dictionary(uniqueKeysWithValues: try mirror.entries(at: second).map { ($0.path, $0.blobID) })
        #expect(before["deploy/profiles/nested/b.yml"] == after["deploy/profiles/nested/b.yml"])
        #expect(before["deploy/profiles/a.yaml"] != after["deploy/profiles/a.yaml"])
    }

    @Test("a subdirectory that does not exist at the commit is an error naming it")
    func missingSubdirectory() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (_, mirror, commit) = try await fixture(scratch)

        #expect(throws: GitError.subdirectoryNotFound(path: "nope", commit: commit)) {
            try mirror.files(at: commit, under: "nope")
        }
        #expect(throws: GitError.subdirectoryNotFound(path: "deploy/beamsync.yaml", commit: commit),
                "a file is not a directory") {
            try mirror.files(at: commit, under: "deploy/beamsync.yaml")
        }
        let error = #expect(throws: GitError.self) { try mirror.files(at: commit, under: "deploy/nope") }
        #expect(error?.description.contains("path 'deploy/nope' does not exist") == true)
    }

    @Test("'..' and absolute subdirectories are refused")
    func escapingSubdirectory() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (_, mirror, commit) = try await fixture(scratch)

        let dotdot = #expect(throws: GitError.self) { try mirror.files(at: commit, under: "deploy/../..") }
        #expect(dotdot?.description == "paths must stay inside the repository ('..' is not allowed): deploy/../..")
        let absolute = #expect(throws: GitError.self) { try mirror.files(at: commit, under: "/etc") }
        #expect(absolute?.description.contains("absolute paths are not allowed") == true)
    }

    @Test("a symbolic link inside the root is refused, naming the link and its target")
    func symlinkRefused() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("deploy/profiles/a.yaml", "name: a\n")
        try FileManager.default.createSymbolicLink(atPath: upstream.path + "/deploy/profiles/x.yaml",
                                                   withDestinationPath: "../../secrets/key")
        let commit = try await upstream.commit("link")
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        let error = #expect(throws: GitError.self) { try mirror.files(at: commit, under: "deploy") }
        #expect(error?.description == "symbolic links are not followed: deploy/profiles/x.yaml -> ../../secrets/key")
        #expect(throws: GitError.self, "also when only listing") { try mirror.entries(at: commit) }
    }

    @Test("a symbolic link as the subdirectory itself is refused")
    func symlinkedSubdirectory() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("real/a.yaml", "name: a\n")
        try FileManager.default.createSymbolicLink(atPath: upstream.path + "/deploy", withDestinationPath: "real")
        let commit = try await upstream.commit("link")
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        let error = #expect(throws: GitError.self) { try mirror.files(at: commit, under: "deploy/") }
        #expect(error?.description == "symbolic links are not followed: deploy -> real")
    }

    @Test("a submodule inside the root is refused, naming it")
    func submoduleRefused() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("deploy/profiles/a.yaml", "name: a\n")
        let first = try await upstream.commit("first")
        try await upstream.git("update-index", "--add", "--cacheinfo", "160000,\(first.hex),deploy/vendor")
        try await upstream.git("commit", "-q", "-m", "add a gitlink")
        let commit = try await upstream.head()
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        let error = #expect(throws: GitError.self) { try mirror.files(at: commit, under: "deploy") }
        #expect(error?.description == "submodules are not supported: deploy/vendor (commit \(first.hex.prefix(12)))")
        #expect(try mirror.files(at: commit, under: "deploy/profiles").map(\.path) == ["a.yaml"],
                "outside the root it does not matter")
    }

    @Test("a hostile tree with a '..' entry is refused")
    func dotDotEntryRefused() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try await upstream.commit("base")
        let blob = try await upstream.git("hash-object", "-w", "--stdin", stdin: Data("evil\n".utf8))
        let inner = try await upstream.git("mktree", stdin: Data("100644 blob \(blob)\t..\n".utf8))
        let root = try await upstream.git("mktree", stdin: Data("040000 tree \(inner)\tdeploy\n".utf8))
        let commit = try #require(GitObjectID(hex: try await upstream.git("commit-tree", root, "-p", "HEAD", "-m", "evil")))
        try await upstream.git("update-ref", "refs/heads/main", commit.hex)
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        let error = #expect(throws: GitError.self) { try mirror.files(at: commit, under: "deploy") }
        #expect(error?.description.contains("unsafe path component '..'") == true)
    }

    @Test("10,000 small files come back from one walk, bytes and ids intact")
    func manySmallFiles() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        // fast-import writes all blobs and the tree in one process.
        var stream = "commit refs/heads/main\ncommitter T <t@example.org> 1700000000 +0000\ndata 4\nmany\n"
        for index in 0..<10_000 {
            let body = "name: p\(index)\n"
            stream += "M 100644 inline profiles/\(index % 100)/p\(index).yaml\ndata \(body.utf8.count)\n\(body)"
        }
        try await upstream.git("fast-import", "--quiet", stdin: Data(stream.utf8))
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))
        let commit = try mirror.resolve("main")

        let files = try mirror.files(at: commit, under: "profiles")

        #expect(files.count == 10_000)
        let sample = try #require(files.first { $0.path == "42/p4242.yaml" })
        #expect(String(decoding: sample.bytes, as: UTF8.self) == "name: p4242\n")
        #expect(Set(files.map(\.blobID)).count == 10_000)
    }
}

@Suite("GitMirror: diff between two commits")
struct DiffTests {
    @Test("added, modified, deleted and renamed files under the root, with paths and blob ids")
    func diffKinds() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("deploy/profiles/keep.yaml", "name: keep\n")
        try upstream.write("deploy/profiles/edit.yaml", "name: edit\n")
        try upstream.write("deploy/profiles/gone.yaml", "name: gone\n")
        try upstream.write("deploy/profiles/old-name.yaml", "name: moving\ndescription: long enough to be similar\n")
        try upstream.write("outside.txt", "1\n")
        let from = try await upstream.commit("before")
        let oldEdit = try await upstream.id("HEAD:deploy/profiles/edit.yaml")
        let oldMoving = try await upstream.id("HEAD:deploy/profiles/old-name.yaml")
        let gone = try await upstream.id("HEAD:deploy/profiles/gone.yaml")
        try upstream.write("deploy/profiles/edit.yaml", "name: edit\nis_default: true\n")
        try await upstream.remove("deploy/profiles/gone.yaml")
        try await upstream.git("mv", "deploy/profiles/old-name.yaml", "deploy/profiles/new-name.yaml")
        try upstream.write("deploy/projects/p.yaml", "kind: ProjectConfig\n")
        try upstream.write("outside.txt", "2\n")
        let to = try await upstream.commit("after")
        let newEdit = try await upstream.id("HEAD:deploy/profiles/edit.yaml")
        let added = try await upstream.id("HEAD:deploy/projects/p.yaml")
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        let changes = try mirror.diff(from: from, to: to, under: "deploy")

        #expect(changes == [
            GitFileChange(kind: .modified, oldPath: "profiles/edit.yaml", newPath: "profiles/edit.yaml",
                          oldBlobID: oldEdit, newBlobID: newEdit),
            GitFileChange(kind: .deleted, oldPath: "profiles/gone.yaml", newPath: nil, oldBlobID: gone, newBlobID: nil),
            GitFileChange(kind: .renamed, oldPath: "profiles/old-name.yaml", newPath: "profiles/new-name.yaml",
                          oldBlobID: oldMoving, newBlobID: oldMoving),
            GitFileChange(kind: .added, oldPath: nil, newPath: "projects/p.yaml",
                          oldBlobID: nil, newBlobID: added),
        ])
        #expect(try mirror.diff(from: from, to: to).contains { $0.path == "outside.txt" }, "the whole tree without a subdir")
        #expect(try mirror.diff(from: to, to: to, under: "deploy").isEmpty)
    }

    @Test("a root that only appears at the new commit makes everything added; one missing at the new commit is an error")
    func diffMissingRoot() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("README.md", "x\n")
        let from = try await upstream.commit("before")
        try upstream.write("deploy/a.yaml", "name: a\n")
        let to = try await upstream.commit("after")
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        #expect(try mirror.diff(from: from, to: to, under: "deploy").map(\.kind) == [.added])
        #expect(throws: GitError.subdirectoryNotFound(path: "deploy", commit: from)) {
            try mirror.diff(from: to, to: from, under: "deploy")
        }
    }

    @Test("a symbolic link added in the new commit is refused by diff too")
    func diffRefusesSymlink() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        try upstream.write("deploy/a.yaml", "name: a\n")
        let from = try await upstream.commit("before")
        try FileManager.default.createSymbolicLink(atPath: upstream.path + "/deploy/b.yaml", withDestinationPath: "/etc/passwd")
        let to = try await upstream.commit("after")
        let mirror = try await GitMirror.clone(url: upstream.url, to: scratch.sub("mirror"))

        let error = #expect(throws: GitError.self) { try mirror.diff(from: from, to: to, under: "deploy") }
        #expect(error?.description == "symbolic links are not followed: deploy/b.yaml -> /etc/passwd")
    }
}
