import BeamsyncModel
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
}
