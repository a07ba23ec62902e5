@testable import BeamsyncModel
import Testing

@Suite("Parse cache by blob id")
struct ParsedFileCacheTests {
    private func file(_ path: String, blob: String, port: Int = 8001) -> SourceFile {
        SourceFile(path: path, bytes: Array("name: \(path.split(separator: "/").last!.split(separator: ".").first!)\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h, deploy_port: \(port)}\n".utf8),
                   blobID: blob)
    }

    @Test("an unchanged blob is parsed once; a changed one again")
    func hitsAndMisses() throws {
        let cache = ParsedFileCache()
        let first = [file("profiles/a.yaml", blob: "a1"), file("profiles/b.yaml", blob: "b1")]
        _ = DesiredStateLoader.load(files: first, cache: cache)
        #expect(cache.misses == 2 && cache.hits == 0)
        let second = [file("profiles/a.yaml", blob: "a1"), file("profiles/b.yaml", blob: "b2", port: 9001)]
        let loaded = DesiredStateLoader.load(files: second, cache: cache)
        #expect(cache.misses == 3 && cache.hits == 1)
        #expect(loaded.state?.profiles.count == 2)
    }

    @Test("retaining a tree drops the parses of blobs it no longer holds")
    func retainCurrentTree() throws {
        let cache = ParsedFileCache()
        _ = DesiredStateLoader.load(files: [file("profiles/a.yaml", blob: "a1"), file("profiles/b.yaml", blob: "b1")], cache: cache)
        let next = [file("profiles/a.yaml", blob: "a2", port: 9001), file("profiles/b.yaml", blob: "b1")]
        _ = DesiredStateLoader.load(files: next, cache: cache)
        #expect(cache.count == 3)
        cache.retain(onlyFilesOf: next)
        #expect(cache.count == 2)
        #expect(cache.contains(path: "profiles/a.yaml", blobID: "a2") && cache.contains(path: "profiles/b.yaml", blobID: "b1"))
        #expect(!cache.contains(path: "profiles/a.yaml", blobID: "a1"))
    }

    private func slurmFile(_ i: Int, blob: String) -> SourceFile {
        let text = """
        name: slurm-\(i)
        description: A Slurm profile whose description is long enough to live on the heap \(i)
        project_module: project-\(i % 3)
        translation: {algo: mysarkar, num_par: \(i % 7 + 1), num_islands: 1, tm_url: "http://tm-\(i).example.org:8084"}
        deployment:
          kind: slurm_remote
          login_node: login\(i).example.org
          account: acct
          home_dir: /home/beampipe
          log_dir: /scratch/beampipe/logs
          dlg_root: /scratch/beampipe/dlg
          resources: {partition: work, nodes: \(i % 4 + 1), memory: 64G}
          manager_topology: {islands: 2, co_host_dim: true}
          ssh_credential: slot-\(i % 2)
        ---
        name: rest-\(i)
        translation: {}
        deployment: {kind: rest_remote, deploy_host: dim-\(i).example.org, dim_port_for_tm: null, use_https: true}

        """
        return SourceFile(path: "profiles/p\(i).yaml", bytes: Array(text.utf8), blobID: blob)
    }

    @Test("a tree served from the cache is the tree a fresh parse gives, positions and hashes included")
    func cachedEqualsFresh() throws {
        let files = (0..<200).map { slurmFile($0, blob: "blob\($0)") } + [
            SourceFile(path: "projects/p.yaml", bytes: Array("apiVersion: beampipe.dev/v2\nkind: ProjectConfig\nmetadata: {id: project-1}\nadapters: {required: [casda]}\n".utf8),
                       blobID: "proj"),
        ]
        let freshLoad = DesiredStateLoader.load(files: files)
        #expect(freshLoad.diagnostics.filter { $0.severity == .error }.map(\.message) == [])
        let fresh = try #require(freshLoad.state)
        let cache = ParsedFileCache()
        _ = DesiredStateLoader.load(files: files, cache: cache)
        cache.retain(onlyFilesOf: files)
        let cached = try #require(DesiredStateLoader.load(files: files, cache: cache).state)
        #expect(cache.hits == files.count)
        #expect(cached.profiles == fresh.profiles)
        #expect(cached.profileSHA256 == fresh.profileSHA256)
        #expect(cached.projects == fresh.projects)
        #expect(cached.profiles.count == 400)
    }

    @Test("retaining rebuilds the packed buffer at the size of what is kept")
    func retainCompacts() throws {
        let cache = ParsedFileCache()
        let first = (0..<100).map { slurmFile($0, blob: "a\($0)") }
        _ = DesiredStateLoader.load(files: first, cache: cache)
        let full = cache.packedBytes
        let second = (0..<100).map { slurmFile($0, blob: $0 < 50 ? "a\($0)" : "b\($0)") }
        _ = DesiredStateLoader.load(files: second, cache: cache)
        #expect(cache.packedBytes > full)
        cache.retain(onlyFilesOf: Array(second.prefix(50)))
        #expect(cache.count == 50)
        let alone = ParsedFileCache()
        _ = DesiredStateLoader.load(files: Array(second.prefix(50)), cache: alone)
        #expect(cache.packedBytes == alone.packedBytes && alone.packedBytes < full)
        #expect(cache.contains(path: "profiles/p7.yaml", blobID: "a7"))
        #expect(!cache.contains(path: "profiles/p7.yaml", blobID: "b7"))
        #expect(!cache.contains(path: "profiles/p8.yaml", blobID: "a7"), "a blob id at another path is another entry")
    }

    @Test("a file with findings is cached with its findings")
    func findingsSurviveTheCache() throws {
        let cache = ParsedFileCache()
        let bad = SourceFile(path: "profiles/bad.yaml", bytes: Array("name: x\ntranslation: {}\ndeployment: {kind: nope}\n".utf8), blobID: "bad")
        let first = DesiredStateLoader.load(files: [bad], cache: cache)
        let second = DesiredStateLoader.load(files: [bad], cache: cache)
        #expect(cache.hits == 1)
        #expect(!first.diagnostics.isEmpty)
        #expect(second.diagnostics.map(\.message) == first.diagnostics.map(\.message))
    }

    @Test("going over capacity empties the cache only after the load that went over, never during it")
    func capacityIsEnforcedBetweenLoads() throws {
        let cache = ParsedFileCache(capacity: 3)
        let a = file("profiles/a.yaml", blob: "a1"), b = file("profiles/b.yaml", blob: "b1")
        _ = DesiredStateLoader.load(files: [a, b], cache: cache)
        #expect(cache.contains(path: "profiles/a.yaml", blobID: "a1"))
        // As the controller does: bytes of blobs the cache holds are not read.
        let skipped = [SourceFile(path: a.path, bytes: [], blobID: "a1", bytesOmitted: true),
                       SourceFile(path: b.path, bytes: [], blobID: "b1", bytesOmitted: true)]
        let next = [file("profiles/c.yaml", blob: "c1"), file("profiles/d.yaml", blob: "d1")] + skipped  // cached ones last
        let loaded = DesiredStateLoader.load(files: next, cache: cache)
        #expect(loaded.state?.profiles.map(\.value.name).sorted() == ["a", "b", "c", "d"])
        #expect(cache.count == 0)
    }

    @Test("a file whose bytes were skipped for a parse the cache no longer holds fails the load, never reads as empty")
    func omittedBytesWithoutACachedParseAreAnError() throws {
        let cache = ParsedFileCache()
        let skipped = SourceFile(path: "profiles/a.yaml", bytes: [], blobID: "a1", bytesOmitted: true)
        let loaded = DesiredStateLoader.load(files: [skipped, file("profiles/b.yaml", blob: "b1")], cache: cache)
        #expect(loaded.state == nil)
        let error = try #require(loaded.diagnostics.first { $0.severity == .error })
        #expect(error.code == .readFailure && error.location?.file == "profiles/a.yaml")
        #expect(!cache.contains(path: "profiles/a.yaml", blobID: "a1"), "the failure is not cached")
    }

    @Test("on a key collision the file already cached keeps its entry; the newcomer is parsed each time")
    func collisionKeepsTheCachedFile() throws {
        let cache = ParsedFileCache(capacity: 100, hash: { _, _ in 42 })
        _ = DesiredStateLoader.load(files: [file("profiles/a.yaml", blob: "a1")], cache: cache)
        #expect(cache.contains(path: "profiles/a.yaml", blobID: "a1"))
        // As the controller does: a's bytes are skipped; b, listed first, collides with a.
        let next = [file("profiles/b.yaml", blob: "b1"), SourceFile(path: "profiles/a.yaml", bytes: [], blobID: "a1", bytesOmitted: true)]
        let loaded = DesiredStateLoader.load(files: next, cache: cache)
        #expect(loaded.diagnostics.map(\.message) == [])
        #expect(loaded.state?.profiles.map(\.value.name).sorted() == ["a", "b"])
        #expect(!cache.contains(path: "profiles/b.yaml", blobID: "b1"))
    }
}
