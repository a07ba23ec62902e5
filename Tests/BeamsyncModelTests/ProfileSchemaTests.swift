import BeamsyncModel
import BeamsyncTestSupport
import Foundation
import Testing

/// The JSON Schema and the Swift validator must agree. An independent validator (Python's
/// jsonschema) checks the schema against the same valid and invalid cases the field tests use.
@Suite("JSON Schema for profiles")
struct ProfileSchemaTests {
    static let python = TestServices.python

    static var pythonHasJSONSchema: Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import jsonschema"]
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// Cases the schema cannot express: PEM detection inside free text, and JSON Schema's rule
    /// that 2.0 is an integer.
    static let notExpressible: Set<String> = ["deployment.environment_setup", "translation.num_par=2.0"]

    @Test("the schema is a draft-07 object schema with the profile's fields")
    func shape() {
        let schema = ProfileSchema.document
        #expect(schema["$schema"] == .string("http://json-schema.org/draft-07/schema#"))
        #expect(schema["required"] == .array([.string("name"), .string("translation"), .string("deployment")]))
        #expect(schema["additionalProperties"] == .bool(false))
    }

    @Test("an independent JSON Schema validator agrees with the Swift validator",
          .enabled(if: TestServices.shouldRun(when: pythonHasJSONSchema), "needs python3 with jsonschema"))
    func agreesWithValidator() throws {
        var documents: [JSONValue] = []
        var expectations: [(String, Bool)] = []
        func add(_ yaml: String, valid: Bool, label: String) throws {
            let loaded = YAMLLoader.load(file: "x.yaml", bytes: Array(yaml.utf8))
            let root = try #require(loaded.documents.first, "\(label): \(loaded.diagnostics)")
            documents.append(root.root.jsonValue)
            expectations.append((label, valid))
        }
        try add(restProfileYAML, valid: true, label: "rest base")
        try add(slurmProfileYAML, valid: true, label: "slurm base")
        try add(inlineProfileYAML, valid: true, label: "inline base")
        for c in invalidProfileCases {
            let label = "\(c.path)=\(c.value ?? "<removed>")"
            if Self.notExpressible.contains(c.path) || Self.notExpressible.contains(label) { continue }
            try add(c.yaml, valid: false, label: label)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProfileSchema.document.canonicalString.write(to: dir.appendingPathComponent("schema.json"), atomically: true, encoding: .utf8)
        try JSONValue.array(documents).canonicalString.write(to: dir.appendingPathComponent("docs.json"), atomically: true, encoding: .utf8)
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); docs = json.load(open(sys.argv[2]))
            jsonschema.Draft7Validator.check_schema(schema)
            v = jsonschema.Draft7Validator(schema)
            print(json.dumps([v.is_valid(d) for d in docs]))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.python)
        p.arguments = ["-c", script, dir.appendingPathComponent("schema.json").path, dir.appendingPathComponent("docs.json").path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        let verdicts = try #require(try JSONValue.parse(String(decoding: data, as: UTF8.self)).arrayValue)
        #expect(verdicts.count == expectations.count)
        for (verdict, (label, expected)) in zip(verdicts, expectations) {
            #expect(verdict.boolValue == expected, "schema says \(verdict) for \(label)")
        }
    }
}
