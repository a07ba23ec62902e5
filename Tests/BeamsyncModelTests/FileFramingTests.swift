import BeamsyncModel
import Foundation
import Testing

/// Byte order marks, content after a JSON document, and where a duplicate key sits.
@Suite("File framing: BOM, trailing JSON content, duplicate-key paths")
struct FileFramingTests {
    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    func load(_ bytes: [UInt8], path: String) -> LoadResult {
        DesiredStateLoader.load(files: [SourceFile(path: path, bytes: bytes)])
    }

    @Test("a UTF-8 byte order mark at the start of a YAML file is accepted, and positions stay right")
    func bomYAML() throws {
        let good = load(Self.bom + Array(inlineProfileYAML.utf8), path: "profiles/a.yaml")
        #expect(good.state?.profiles.count == 1, "\(good.diagnostics)")
        let bad = load(Self.bom + Array("name: \"\"\ntranslation: {num_par: 0}\ndeployment: {kind: rest_remote, deploy_host: h}\n".utf8), path: "profiles/a.yaml")
        let name = try #require(bad.diagnostics.first { $0.path == "name" }, "\(bad.diagnostics)")
        #expect(name.location?.line == 1 && name.location?.column == 7)
        let numPar = try #require(bad.diagnostics.first { $0.path == "translation.num_par" })
        #expect(numPar.location?.line == 2 && numPar.location?.column == 24)
    }

    @Test("a UTF-8 byte order mark at the start of a JSON file is accepted")
    func bomJSON() throws {
        let json = #"{"name": "a", "translation": {}, "deployment": {"kind": "rest_remote", "deploy_host": "h", "deploy_port": 0}}"#
        let r = load(Self.bom + Array(json.utf8), path: "profiles/a.json")
        let e = try #require(r.diagnostics.errors.first, "a BOM must not hide the real problem")
        #expect(e.path == "deployment.deploy_port")
        #expect(e.location?.line == 1 && e.location?.column == 107)
    }

    @Test("content after the JSON document is an error that says so, at its position")
    func trailingJSON() throws {
        let doc = #"{"name": "a", "translation": {}, "deployment": {"kind": "rest_remote", "deploy_host": "h"}}"#
        for (text, line, column) in [(doc + "\n{\"x\": 1}\n", 2, 1), (doc + " trailing\n", 1, doc.count + 2), (doc + "\n]\n", 2, 1)] {
            let r = load(Array(text.utf8), path: "profiles/a.json")
            #expect(r.state == nil, "\(text)")
            let e = try #require(r.diagnostics.errors.first, "\(text)")
            #expect(e.message.contains("after the JSON document"), "\(e)")
            #expect(e.location?.line == line && e.location?.column == column, "\(e)")
        }
    }

    @Test("a duplicate key's diagnostic carries the full dotted path")
    func duplicateKeyPath() throws {
        let nested = YAMLLoader.load(file: "profiles/x.yaml", bytes: Array("name: a\ntranslation:\n  num_par: 1\n  num_par: 2\n".utf8))
        #expect(nested.diagnostics.first?.path == "translation.num_par")
        let inList = YAMLLoader.load(file: "projects/x.yaml", bytes: Array("discovery:\n  queries:\n    - {name: a}\n    - {name: b, name: c}\n".utf8))
        #expect(inList.diagnostics.first?.path == "discovery.queries[1].name")
        let top = YAMLLoader.load(file: "profiles/x.yaml", bytes: Array("name: a\nname: b\n".utf8))
        #expect(top.diagnostics.first?.path == "name")
    }
}
