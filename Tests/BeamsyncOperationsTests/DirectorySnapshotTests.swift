import BeamsyncModel
import BeamsyncOperations
import Foundation
import Testing

@Suite("Reading a working directory as a snapshot")
struct DirectorySnapshotTests {
    @Test("a working directory has no revision, and its diagnostics name paths under the directory given")
    func prefixes() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("snap-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("profiles"), withIntermediateDirectories: true)
        try "name: a\nis_default: maybe\n".write(to: root.appendingPathComponent("profiles/a.yaml"), atomically: true, encoding: .utf8)
        let snapshot = DirectoryTree.snapshot(of: root.path)
        #expect(snapshot.revision == nil)
        #expect(snapshot.files.map(\.path) == ["profiles/a.yaml"])
        let checked = ParsedSource(snapshot).check(externalProfiles: [])
        #expect(checked.state == nil)
        let files = Set(checked.diagnostics.compactMap { $0.location?.file })
        #expect(files == [root.path + "/profiles/a.yaml"])
    }
}
