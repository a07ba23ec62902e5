import BeamsyncModel
import Foundation
import Testing

@Suite("Reading YAML and JSON with positions")
struct YAMLLoaderTests {
    func load(_ text: String, file: String = "profiles/x.yaml", limits: YAMLLimits = .default) -> ([SourceDocument], [Diagnostic]) {
        let r = YAMLLoader.load(file: file, bytes: Array(text.utf8), limits: limits)
        return (r.documents, r.diagnostics)
    }

    @Test("a duplicate key points at the repeated key and names the first")
    func duplicateKey() throws {
        let (_, d) = load("name: a\ntranslation: {}\nname: b\n")
        let e = try #require(d.first)
        #expect(e.code == .duplicateKey)
        #expect(e.location == SourceLocation(file: "profiles/x.yaml", line: 3, column: 1))
        #expect(e.related == [SourceLocation(file: "profiles/x.yaml", line: 1, column: 1)])
        #expect(e.message.contains("'name'"))
    }

    @Test("a file with a duplicate key never yields a desired state")
    func duplicateKeyBlocksState() {
        let r = DesiredStateLoader.load(files: [SourceFile(path: "profiles/a.yaml", bytes: Array(restProfileYAML.appending("name: other\n").utf8))])
        #expect(r.state == nil && r.diagnostics.errors.contains { $0.code == .duplicateKey })
    }

    @Test("a nested duplicate key is found too")
    func nestedDuplicateKey() throws {
        let (_, d) = load("deployment:\n  kind: rest_remote\n  deploy_port: 1\n  deploy_port: 2\n")
        let e = try #require(d.first)
        #expect(e.code == .duplicateKey && e.location?.line == 4 && e.location?.column == 3)
    }

    @Test("a syntax error names line and column and suggests a fix")
    func syntaxError() throws {
        let (_, d) = load("name: a\ndeployment:\n  kind: rest_remote\n deploy_host: x\n")
        let e = try #require(d.first)
        #expect(e.code == .yamlSyntax)
        #expect(e.location?.line == 4)
        #expect(e.hint != nil)
    }

    @Test("tabs used for indentation are explained")
    func tabs() throws {
        let (_, d) = load("deployment:\n\tkind: rest_remote\n")
        let e = try #require(d.first)
        #expect(e.code == .yamlSyntax && e.location?.line == 2)
        #expect(e.hint?.contains("tabs") == true)
    }

    @Test("several documents in one file are all read; an error in the second is reported with its line")
    func multiDocument() throws {
        let (docs, d) = load("name: a\n---\nname: b\n---\nname: [c\n")
        #expect(docs.count == 2)
        let e = try #require(d.first)
        #expect(e.code == .yamlSyntax && (e.location?.line ?? 0) >= 5)
    }

    @Test("an alias bomb stops at the expansion limit and says which limit")
    func aliasBomb() throws {
        var text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
            previous = name
        }
        let start = Date()
        let (docs, d) = load(text)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(docs.isEmpty)
        let e = try #require(d.first)
        #expect(e.code == .documentTooComplex)
        #expect(e.message.contains("alias expansion limit"))
    }

    @Test("deep flow nesting is refused before parsing")
    func deepNesting() throws {
        let text = "a: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n"
        let (_, d) = load(text)
        let e = try #require(d.first)
        #expect(e.code == .documentTooComplex && e.message.contains("depth limit"))
    }

    @Test("files over the size limit are refused with the limit named")
    func tooLarge() throws {
        var limits = YAMLLimits()
        limits.maxFileBytes = 100
        let (_, d) = load("description: " + String(repeating: "x", count: 200), limits: limits)
        #expect(d.first?.code == .fileTooLarge)
        #expect(d.first?.message.contains("limit is 100 bytes") == true)
    }

    @Test("invalid UTF-8 is reported with its position")
    func invalidUTF8() throws {
        var bytes = Array("name: ok\nx: ".utf8)
        bytes += [0xFF, 0xFE]
        let r = YAMLLoader.load(file: "p.yaml", bytes: bytes)
        #expect(r.diagnostics.first?.code == .invalidEncoding)
        #expect(r.diagnostics.first?.location?.line == 2)
    }

    @Test("YAML 1.2 core scalars: yes/on stay strings, 0755 is decimal, quoted numbers are strings")
    func coreSchema() throws {
        let (docs, _) = load("a: yes\nb: on\nc: 0755\nd: '5'\ne: 0x1F\nf: 1.5e3\ng: ~\nh: TRUE\ni: .inf\n")
        guard case .mapping(let m) = try #require(docs.first).root else { Issue.record("not a mapping"); return }
        func v(_ k: String) -> ScalarValue? { if case .scalar(let s) = m.value(for: k) { s.value } else { nil } }
        #expect(v("a") == .string("yes"))
        #expect(v("b") == .string("on"))
        #expect(v("c") == .int(755))
        #expect(v("d") == .string("5"))
        #expect(v("e") == .int(31))
        #expect(v("f") == .float(1500))
        #expect(v("g") == .null)
        #expect(v("h") == .bool(true))
        #expect(v("i") == .float(.infinity))
    }

    @Test("merge keys fill in missing fields; explicit keys win")
    func mergeKeys() throws {
        let (docs, d) = load("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  y: 3\n")
        #expect(d.isEmpty)
        guard case .mapping(let m) = try #require(docs.first).root, case .mapping(let thing) = m.value(for: "thing") else {
            Issue.record("shape"); return
        }
        #expect(thing.value(for: "x")?.jsonValue == .int(1))
        #expect(thing.value(for: "y")?.jsonValue == .int(3))
    }

    @Test("JSON reads as YAML with positions")
    func json() throws {
        let (docs, d) = load("{\n  \"name\": \"a\",\n  \"translation\": {\"num_par\": 2}\n}\n", file: "profiles/a.json")
        #expect(d.isEmpty)
        guard case .mapping(let m) = try #require(docs.first).root else { return }
        #expect(m.entries[1].keyLine == 3 && m.entries[1].keyColumn == 3)
    }

    @Test("an empty file yields no documents and a warning when loaded as part of a repository")
    func emptyFile() {
        let r = DesiredStateLoader.load(files: [SourceFile(path: "profiles/empty.yaml", bytes: [])])
        #expect(r.diagnostics.count == 1 && r.diagnostics[0].severity == .warning)
        #expect(r.state != nil)
    }
}
