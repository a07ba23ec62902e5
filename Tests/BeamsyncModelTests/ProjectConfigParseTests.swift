import BeamsyncModel
import Foundation
import Testing

/// Structure problems (beampipe's `invalid_config_structure`): beampipe stops at the first one;
/// beamsync reports each, at its node, with serde's wording in the message.
struct ProjectParseCase: CustomTestStringConvertible, Sendable {
    var replace: String
    var with: String
    var path: String
    var code: DiagnosticCode
    var message: String
    var at: String

    var testDescription: String { "\(path): \(message)" }
    var yaml: String { editing(surveyProjectYAML, replace, with) }
}

let parseCases: [ProjectParseCase] = [
    .init(replace: "  description: HI survey", with: "  typo: 1\n  description: HI survey", path: "metadata.typo", code: .unknownField,
          message: "unknown field `typo`, expected `id` or `description`", at: "  |typo: 1"),
    .init(replace: "definitions:\n", with: "zz: 1\ndefinitions:\n", path: "zz", code: .unknownField,
          message: "unknown field `zz`, expected one of `apiVersion`, `kind`, `metadata`, `adapters`, `graph`, `discovery`, `manifest`, `graph_patches`, `output_verification`, `automation`, `extension`, `definitions`, `source_identity`",
          at: "|zz: 1"),
    .init(replace: "definitions:\n  transforms:\n", with: "definitions:\n  zz: {}\n  transforms:\n", path: "definitions.zz", code: .unknownField,
          message: "unknown field `zz`, expected `transforms`", at: "  |zz: {}"),
    .init(replace: "  id: survey_hires\n", with: "", path: "metadata.id", code: .missingField, message: "missing field `id`", at: "metadata:\n  |description"),
    .init(replace: "      template: \"SELECT * FROM ivoa.obscore WHERE filename LIKE '{source_name}%'\"\n", with: "",
          path: "discovery.queries[0].template", code: .missingField, message: "missing field `template`", at: "    - |name: visibility"),
    .init(replace: "trim: {kind: trim}", with: "trim: {prefix: x}", path: "definitions.transforms.trim.kind", code: .missingField,
          message: "missing field `kind`", at: "trim: |{prefix"),
    .init(replace: "apiVersion: beampipe.dev/v2", with: "apiVersion: 5", path: "apiVersion", code: .wrongType,
          message: "invalid type: integer `5`, expected a string", at: "apiVersion: |5"),
    .init(replace: "max_sources_per_execution: 1", with: "max_sources_per_execution: x", path: "automation.execution.max_sources_per_execution",
          code: .wrongType, message: "invalid type: string \"x\", expected i64", at: "max_sources_per_execution: |x"),
    .init(replace: "max_wait_minutes: 1440", with: "max_wait_minutes: 1.5", path: "automation.execution.max_wait_minutes", code: .wrongType,
          message: "invalid type: floating point `1.5`, expected i64", at: "max_wait_minutes: |1.5"),
    .init(replace: "max_wait_minutes: 1440", with: "max_wait_minutes: 60.0", path: "automation.execution.max_wait_minutes", code: .wrongType,
          message: "invalid type: floating point `60.0`, expected i64", at: "max_wait_minutes: |60.0"),
    .init(replace: "timeout_seconds: 60", with: "timeout_seconds: -1", path: "adapters.tap.timeout_seconds", code: .outOfRange,
          message: "invalid value: integer `-1`, expected u64", at: "timeout_seconds: |-1"),
    .init(replace: "retries: 2", with: "retries: -1", path: "adapters.tap.retries", code: .outOfRange,
          message: "invalid value: integer `-1`, expected u32", at: "retries: |-1"),
    .init(replace: "retries: 2", with: "retries: 4294967296", path: "adapters.tap.retries", code: .outOfRange,
          message: "invalid value: integer `4294967296`, expected u32", at: "retries: |4294967296"),
    .init(replace: "group: 1", with: "group: -1", path: "definitions.transforms.beam_no.group", code: .outOfRange,
          message: "invalid value: integer `-1`, expected u32", at: "group: |-1"),
    .init(replace: "stale_after_hours: 24", with: "stale_after_hours: 3000000000", path: "automation.discovery.stale_after_hours", code: .outOfRange,
          message: "invalid value: integer `3000000000`, expected i32", at: "stale_after_hours: |3000000000"),
    .init(replace: "fail_open: false", with: "fail_open: yes", path: "adapters.tap.fail_open", code: .wrongType,
          message: "invalid type: string \"yes\", expected a boolean", at: "fail_open: |yes"),
    .init(replace: "  tap:\n    timeout_seconds: 60\n    retries: 2\n    fail_open: false", with: "  tap: null", path: "adapters.tap", code: .wrongType,
          message: "invalid type: null, expected struct TapConfig", at: "  tap: |null"),
    .init(replace: "kind: node_name", with: "kind: 5", path: "graph_patches[0].match.kind", code: .wrongType,
          message: "invalid type: integer `5`, expected string or map", at: "kind: |5"),
    .init(replace: "equals: Scatter/GenericScatterApp/Beam", with: "equals: 5", path: "graph_patches[0].match.equals", code: .wrongType,
          message: "invalid type: integer `5`, expected a string", at: "equals: |5"),
    .init(replace: "hooks: [prepare_metadata, manifest]", with: "hooks: [prepare_metadata, 3]", path: "extension.hooks[1]", code: .wrongType,
          message: "invalid type: integer `3`, expected string or map", at: "hooks: [prepare_metadata, |3]"),
    .init(replace: "trim: {kind: trim}", with: "trim: {kind: 5}", path: "definitions.transforms.trim.kind", code: .wrongType,
          message: "invalid type: integer `5`, expected string or map", at: "trim: {kind: |5}"),
    .init(replace: "transform: sbid_digits", with: "transform: {name: sbid_digits}", path: "discovery.prepare_metadata.field_map.sbid.transform",
          code: .wrongType, message: "data did not match any variant of untagged enum TransformRef", at: "transform: |{name"),
    .init(replace: "transform: [trim, scan_tail]", with: "transform: [trim, 5]", path: "discovery.prepare_metadata.field_map.scan.transform",
          code: .wrongType, message: "data did not match any variant of untagged enum TransformRef", at: "transform: |[trim, 5]"),
    .init(replace: "transform: tidy", with: "transform: [tidy]", path: "source_identity.template_vars.source_name.transform", code: .wrongType,
          message: "invalid type: sequence, expected a string", at: "transform: |[tidy]"),
    .init(replace: "  source_template:\n    source_identifier: \"{source_identifier}\"\n    sbids: []", with: "  source_template: [a]",
          path: "manifest.source_template", code: .wrongType, message: "invalid type: sequence, expected a map", at: "source_template: |[a]"),
    .init(replace: "  group_by: [source_identifier]", with: "  group_by: source_identifier", path: "manifest.group_by", code: .wrongType,
          message: "invalid type: string \"source_identifier\", expected a sequence", at: "group_by: |source_identifier"),
    // beampipe ignores unknown signature keys; beamsync never drops data silently.
    .init(replace: "include_discovery_flags: true", with: "include_discovery_flags: true\n      include_flags: false",
          path: "discovery.prepare_metadata.signature.include_flags", code: .unknownField,
          message: "unknown field `include_flags`, expected `exclude_fields` or `include_discovery_flags`", at: "      |include_flags: false"),
    .init(replace: "  description: HI survey", with: "  api_token: abc\n  description: HI survey", path: "metadata.api_token", code: .inlineSecret,
          message: "looks like a secret", at: "  |api_token"),
    .init(replace: "note: literal", with: "note: \"-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\"", path: "graph_patches[0].set.note", code: .inlineSecret,
          message: "PEM key", at: "note: |\"-----BEGIN"),
]

@Suite("ProjectConfig structure errors")
struct ProjectConfigParseTests {
    @Test("each structure problem is reported at its node with serde's wording", arguments: parseCases)
    func structure(_ c: ProjectParseCase) throws {
        let result = diagnoseProject(c.yaml)
        let errors = result.diagnostics.errors
        #expect(errors.count == 1, "\(errors.map(\.description))")
        let d = try #require(errors.first { $0.path == c.path }, "\(errors.map(\.description))")
        #expect(d.code == c.code)
        #expect(d.message.contains(c.message), "\(d.message)")
        #expect(d.hint?.isEmpty == false)
        let expected = try #require(markerPosition(c.at, in: c.yaml), "marker \(c.at) not found")
        #expect(d.location?.line == expected.line && d.location?.column == expected.column,
                "at \(d.location.map(\.description) ?? "nil"), expected \(expected)")
        #expect(result.parsed == nil && result.config == nil)
    }

    @Test("every problem is reported, not just the first, and none is repeated by validation")
    func everyProblem() {
        var yaml = editing(surveyProjectYAML, "  description: HI survey", "  typo: 1\n  description: HI survey")
        yaml = editing(yaml, "max_sources_per_execution: 1", "max_sources_per_execution: x")
        yaml = editing(yaml, "timeout_seconds: 60", "timeout_seconds: -1")
        yaml = editing(yaml, "trim: {kind: trim}", "trim: {prefix: x}")
        yaml = editing(yaml, "  required:\n    - casda\n    - vizier", "  required: [casda, 7]")
        yaml = editing(yaml, "batch_size: 10", "batch_size: 0")
        let errors = diagnoseProject(yaml).diagnostics.errors
        #expect(Set(errors.map(\.path)) == [
            "metadata.typo", "adapters.required[1]", "adapters.tap.timeout_seconds", "definitions.transforms.trim.kind",
            "automation.execution.max_sources_per_execution", "automation.discovery.batch_size",
        ], "\(errors.map(\.description))")
        #expect(errors.count == 6)
    }

    @Test("a missing top-level field points at the document")
    func missingTopLevel() throws {
        let result = diagnoseProject("apiVersion: beampipe.dev/v2\nmetadata: {id: x}\nadapters: {required: [casda]}\n")
        let d = try #require(result.diagnostics.errors.first)
        #expect(result.diagnostics.errors.count == 1)
        #expect(d.path == "kind" && d.code == .missingField && d.message.contains("missing field `kind`"))
        #expect(d.location?.line == 1 && d.location?.column == 1)
    }

    @Test("a document that is not a mapping", arguments: ["[1]", "null", "5"])
    func notAMapping(text: String) throws {
        let (documents, _) = YAMLLoader.load(file: "p.yaml", bytes: Array(text.utf8))
        let result = ProjectConfigDecoder.decodeWithFindings(documents[0].root, file: "p.yaml")
        let d = try #require(result.diagnostics.errors.first)
        #expect(d.code == .wrongType && d.message.contains("expected struct ProjectConfig") && d.path == "")
    }

    @Test("explicit null is None for optional sections and a type error for defaulted ones")
    func nulls() {
        let base = "apiVersion: beampipe.dev/v2\nkind: ProjectConfig\nmetadata: {id: x, description: null}\nadapters: {required: [casda]}\n"
        let ok = diagnoseProject(base + "graph: null\nmanifest: ~\nextension:\ndefinitions: null\nautomation: {execution: null}\n")
        #expect(ok.diagnostics.isEmpty, "\(ok.diagnostics)")
        #expect(ok.config?.canonicalJSON.contains("\"graph\"") == false)
        let bad = diagnoseProject(base + "discovery: null\n")
        #expect(bad.diagnostics.errors.map(\.message) == ["invalid type: null, expected struct DiscoveryConfig"])
    }

    @Test("unknown transform kinds and match kinds parse; validation reports them")
    func unknownEnumsParse() throws {
        let yaml = editing(editing(surveyProjectYAML, "trim: {kind: trim}", "trim: {kind: frob}"), "kind: node_name", "kind: node_id")
        let result = diagnoseProject(yaml)
        let parsed = try #require(result.parsed?.v2)
        #expect(parsed.definitions?.transforms["trim"]?.kind == .unknown("frob"))
        #expect(parsed.graphPatches[0].match.kind == .unknown("node_id"))
        // beampipe serialises both as "unknown".
        #expect(result.parsed?.canonicalJSON.contains(#""trim":{"kind":"unknown"}"#) == true)
        #expect(result.parsed?.canonicalJSON.contains(#""match":{"kind":"unknown","equals":"#) == true)
        #expect(result.diagnostics.errors.map(\.path) == ["definitions.transforms.trim.kind", "graph_patches[0].match.kind"])
    }
}
