import BeamsyncModel
import Foundation
import Testing

/// Legacy `apiVersion: beampipe.dev/v1` documents are read with beampipe 0.1.0's shapes and rules,
/// except that unknown fields are errors (0.1.0 dropped them silently; beamsync never drops data).
@Suite("ProjectConfig v1 (beampipe 0.1.0 rules)")
struct ProjectConfigV1Tests {
    static let header = """
        apiVersion: beampipe.dev/v1
        kind: ProjectConfig
        metadata: {id: legacy}
        adapters: {required: [casda]}

        """

    /// The header with `body` appended; a top-level key in `body` replaces the header's line.
    static func document(_ body: String) -> String {
        let bodyKeys = Set(body.split(separator: "\n").compactMap { line in line.first == " " ? nil : line.split(separator: ":").first.map(String.init) })
        let header = header.split(separator: "\n").filter { line in !bodyKeys.contains(String(line.split(separator: ":")[0])) }
        return header.joined(separator: "\n") + "\n" + body
    }

    func errors(_ body: String) -> [Diagnostic] { diagnoseProject(Self.document(body)).diagnostics.errors }

    @Test("a v1 document is valid with a legacy warning that carries beampipe's conversion hint")
    func legacyWarning() throws {
        let result = diagnoseProject(Self.header)
        #expect(result.diagnostics.errors.isEmpty)
        let w = try #require(result.diagnostics.warnings.first)
        #expect(w.code == .legacyAPIVersion && w.path == "apiVersion")
        #expect(w.hint == "v1 project configs are legacy; convert the document to the v2 typed shape before upload")
        #expect(w.location?.line == 1 && w.location?.column == 13)
        #expect(result.config?.apiVersion == .v1)
    }

    @Test("free-JSON sections are kept as written, and absent ones serialise as null")
    func freeJSON() throws {
        let config = try #require(diagnoseProject(Self.header + """
            discovery:
              prepare_metadata:
                discovery_flags: [not, an, object]
            manifest: {group_by: [a]}
            graph_patches:
              - {match: node_name, set: 5}

            """).config)
        #expect(config.canonicalJSON.contains(#""prepare_metadata":{"field_map":null,"discovery_flags":["not","an","object"]}"#))
        #expect(config.canonicalJSON.contains(#""manifest":{"group_by":["a"],"source_template":null,"path":"manifest.json"}"#))
        #expect(config.canonicalJSON.contains(#""graph_patches":[{"match":"node_name","set":5}]"#))
        #expect(!config.canonicalJSON.contains("output_verification"))
    }

    @Test("unknown kinds and hooks serialise as written in v1")
    func rawStrings() throws {
        let result = diagnoseProject(Self.header + "definitions: {transforms: {t: {kind: frob}}}\nextension: {hooks: [nope]}\n")
        let json = try #require(result.parsed?.canonicalJSON)
        #expect(json.contains(#""extension":{"hooks":["nope"]}"#) && json.contains(#""t":{"kind":"frob"}"#))
    }

    @Test("unknown fields are errors, including v2-only ones")
    func unknownFields() {
        let e = errors("output_verification: {required: true}\ngraph: {path: g.graph, sha256: abc}\n")
        #expect(e.map(\.path) == ["graph.sha256", "output_verification"])
        #expect(e.allSatisfy { $0.code == .unknownField && $0.hint?.contains("beampipe 0.1.0 would silently drop it") == true })
        #expect(e[0].message == "unknown field `sha256`, expected `url` or `path`")
    }

    @Test("graph patches need both match and set")
    func graphPatchMembers() {
        let e = errors("graph_patches:\n  - {match: {kind: node_name}}\n")
        #expect(e.map(\.path) == ["graph_patches[0].set"] && e.first?.code == .missingField)
    }

    @Test("legacy transform aliases resolve in v1 but not in v2")
    func legacyAliases() {
        let body = "discovery:\n  prepare_metadata:\n    field_map:\n      sbid: {from: obs_id, transform: extract_askap_sbid}\n"
        #expect(errors(body).isEmpty)
        let v2 = diagnoseProject(Self.header.replacingOccurrences(of: "/v1", with: "/v2") + body).diagnostics.errors
        #expect(v2.map(\.path) == ["discovery.prepare_metadata.field_map.sbid.transform"])
        #expect(v2.first?.message.contains("unknown transform 'extract_askap_sbid'") == true)
    }

    struct RuleCase: CustomTestStringConvertible, Sendable {
        var body: String
        var path: String
        var message: String
        var testDescription: String { message }
    }

    @Test("0.1.0's rules with its verbatim messages", arguments: [
        RuleCase(body: "kind: X\n", path: "kind", message: "kind must be ProjectConfig"),
        RuleCase(body: "metadata: {id: \" \"}\n", path: "metadata.id", message: "metadata.id is required"),
        RuleCase(body: "adapters: {required: []}\n", path: "adapters.required", message: "adapters.required must include at least one adapter"),
        RuleCase(body: "adapters: {required: [casda], tap: {timeout_seconds: 0}}\n", path: "adapters.tap.timeout_seconds",
                 message: "adapters.tap.timeout_seconds must be > 0"),
        RuleCase(body: "automation: {discovery: {batch_size: 0}}\n", path: "automation.discovery.batch_size",
                 message: "automation.discovery.batch_size must be > 0"),
        RuleCase(body: "automation: {discovery: {tick_discovery_source_limit: 0}}\n", path: "automation.discovery.tick_discovery_source_limit",
                 message: "automation.discovery.tick_discovery_source_limit must be > 0"),
        RuleCase(body: "automation: {execution: {max_sources_per_execution: 0}}\n", path: "automation.execution.max_sources_per_execution",
                 message: "automation.execution.max_sources_per_execution must be > 0"),
        RuleCase(body: "automation: {execution: {tick_execution_run_limit: -1}}\n", path: "automation.execution.tick_execution_run_limit",
                 message: "automation.execution.tick_execution_run_limit must be > 0"),
        RuleCase(body: "graph: {url: http://g, path: g.graph}\n", path: "graph", message: "graph must use only one of url or path"),
        RuleCase(body: "extension: {hooks: [manifest, nope]}\n", path: "extension.hooks[1]",
                 message: #"extension.hooks contains unknown hook 'nope'; allowed: ["prepare_metadata", "manifest", "graph_patches"]"#),
        RuleCase(body: "source_identity: {template_vars: {v: {transform: nope}}}\n", path: "source_identity.template_vars.v.transform",
                 message: "unknown transform 'nope' at source_identity.template_vars.v.transform"),
        RuleCase(body: "discovery: {queries: [{name: q, adapter: casda, template: t, source_id_transform: nope}]}\n",
                 path: "discovery.queries[0].source_id_transform", message: "unknown transform 'nope' at discovery.queries[0].source_id_transform"),
        RuleCase(body: "discovery: {prepare_metadata: {field_map: {x: {transform: [identity, 5]}}}}\n",
                 path: "discovery.prepare_metadata.field_map.x.transform[1]",
                 message: "discovery.prepare_metadata.field_map.x.transform[1] must be a transform name string"),
        RuleCase(body: "discovery: {prepare_metadata: {discovery_flags: {f: {from: a, transform: nope}}}}\n",
                 path: "discovery.prepare_metadata.discovery_flags.f.transform",
                 message: "unknown transform 'nope' at discovery.prepare_metadata.discovery_flags.f.transform"),
        RuleCase(body: "definitions: {transforms: {t: {kind: frob}}}\n", path: "definitions.transforms.t.kind",
                 message: "definitions.transforms.t has unknown kind 'frob'"),
        RuleCase(body: "definitions: {transforms: {s: {kind: strip_prefix}}}\n", path: "definitions.transforms.s.prefix",
                 message: "definitions.transforms.s strip_prefix requires prefix"),
        RuleCase(body: "definitions: {transforms: {s: {kind: add_prefix, prefix: \"\"}}}\n", path: "definitions.transforms.s.prefix",
                 message: "definitions.transforms.s add_prefix requires prefix"),
        RuleCase(body: "definitions: {transforms: {s: {kind: add_suffix}}}\n", path: "definitions.transforms.s.suffix",
                 message: "definitions.transforms.s add_suffix requires suffix"),
        RuleCase(body: "definitions: {transforms: {s: {kind: replace}}}\n", path: "definitions.transforms.s.from",
                 message: "definitions.transforms.s replace requires from"),
        RuleCase(body: "definitions: {transforms: {s: {kind: regex_extract}}}\n", path: "definitions.transforms.s.pattern",
                 message: "definitions.transforms.s regex_extract requires pattern"),
        RuleCase(body: "definitions: {transforms: {c: {kind: chain, steps: []}}}\n", path: "definitions.transforms.c.steps",
                 message: "definitions.transforms.c chain requires steps"),
        RuleCase(body: "definitions: {transforms: {c: {kind: chain, steps: [extract_askap_sbid, nope]}}}\n", path: "definitions.transforms.c.steps[1]",
                 message: "unknown transform 'nope' at definitions.transforms.c.steps[1]"),
        RuleCase(body: "discovery: {prepare_metadata: {signature: {exclude_fields: [a, \"\"]}}}\n",
                 path: "discovery.prepare_metadata.signature.exclude_fields[1]",
                 message: "discovery.prepare_metadata.signature.exclude_fields[1] must be non-empty"),
    ])
    func rule(_ c: RuleCase) throws {
        let e = errors(c.body)
        #expect(e.count == 1, "\(e.map(\.description))")
        let d = try #require(e.first)
        #expect(d.path == c.path)
        #expect(d.message.hasPrefix(c.message), "\(d.message)")
        #expect(d.location != nil && d.hint != nil)
    }

    @Test("what 0.1.0 did not check stays accepted in v1", arguments: [
        "automation: {discovery: {stale_after_hours: 0, queue_max_depth: 0}}\n",
        "automation: {execution: {min_sources_to_trigger: 0, execution_rest_remote_poll_interval_seconds: -1}}\n",
        "adapters: {required: [\" \"]}\n",
        "graph: {}\n",
        "discovery: {queries: [{name: \"\", adapter: \"\", template: \"\"}]}\n",
        "definitions: {transforms: {s: {kind: split_last}, d: {kind: default_if_empty}}}\n",
        "discovery: {prepare_metadata: {field_map: {x: {transform: []}, y: 5}}}\n",
        "source_identity: {canonical: \"\"}\n",
    ])
    func notChecked(body: String) {
        #expect(errors(body).isEmpty, "\(errors(body).map(\.description))")
    }
}
