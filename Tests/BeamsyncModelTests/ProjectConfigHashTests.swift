import BeamsyncModel
import Foundation
import Testing

/// beampipe's `config/examples/minimal_survey.v2.yaml`, the document the hash vectors are for.
let minimalSurveyV2YAML = """
    apiVersion: beampipe.dev/v2
    kind: ProjectConfig
    metadata:
      id: minimal_survey
      description: Generic single-archive survey

    definitions:
      transforms:
        has_rows:
          kind: is_present
        trim:
          kind: trim
        lowercase:
          kind: lowercase

    source_identity:
      canonical: source_identifier
      template_vars:
        source_identifier:
          from: canonical
        source_name:
          transform: lowercase

    adapters:
      required:
        - casda
      tap:
        timeout_seconds: 60
        retries: 1

    discovery:
      queries:
        - name: visibility
          adapter: casda
          template: |
            SELECT o.* FROM ivoa.obscore o
            WHERE o.filename LIKE '{source_identifier}%'
      prepare_metadata:
        field_map:
          source_identifier:
            from: source_identifier
          dataset_id:
            from: filename
          visibility_filename:
            from: filename
        discovery_flags:
          visibility_complete:
            from: enrichments.visibility
            transform: has_rows

    manifest:
      group_by:
        - source_identifier
      source_template:
        source_identifier: "{source_identifier}"

    automation:
      discovery:
        enabled: true
        batch_size: 10
        tick_discovery_batch_limit: 10
        concurrent_discovery_batch_limit: 4
        stale_after_hours: 24

    """

/// The canonical JSON beampipe 0.1.6 hashes for minimal_survey.v2.yaml (verified against beampipe).
let minimalSurveyV2CanonicalJSON = #"{"apiVersion":"beampipe.dev/v2","kind":"ProjectConfig","metadata":{"id":"minimal_survey","description":"Generic single-archive survey"},"adapters":{"required":["casda"],"tap":{"timeout_seconds":60,"retries":1,"fail_open":false}},"discovery":{"queries":[{"name":"visibility","adapter":"casda","template":"SELECT o.* FROM ivoa.obscore o\nWHERE o.filename LIKE '{source_identifier}%'\n"}],"enrichments":[],"prepare_metadata":{"field_map":{"dataset_id":{"from":"filename"},"source_identifier":{"from":"source_identifier"},"visibility_filename":{"from":"filename"}},"discovery_flags":{"visibility_complete":{"from":"enrichments.visibility","transform":"has_rows"}}}},"manifest":{"group_by":["source_identifier"],"source_template":{"source_identifier":"{source_identifier}"},"path":"manifest.json"},"graph_patches":[],"output_verification":{"required":false,"inventory_schema":"wallaby-hires-output-inventory/v1"},"automation":{"discovery":{"enabled":true,"tick_discovery_source_limit":200,"batch_size":10,"stale_after_hours":24,"claim_ttl_minutes":180,"tick_discovery_batch_limit":10,"concurrent_discovery_batch_limit":4}},"definitions":{"transforms":{"has_rows":{"kind":"is_present"},"lowercase":{"kind":"lowercase"},"trim":{"kind":"trim"}}},"source_identity":{"canonical":"source_identifier","template_vars":{"source_identifier":{"from":"canonical"},"source_name":{"transform":"lowercase"}}}}"#

/// Decodes one project document (ProjectConfigDecoder directly, so no cross-document checks).
func decodeProject(_ text: String, file: String = "projects/p.yaml") -> (ProjectConfig?, [Diagnostic]) {
    let result = DesiredStateLoader.load(files: [SourceFile(path: file, bytes: Array(text.utf8))])
    return (result.state?.projects.first?.value, result.diagnostics)
}

/// The parsed document (before validation), decoded straight from YAML.
func parsedProject(_ text: String) -> ProjectConfig? {
    guard let root = YAMLLoader.load(file: "p.yaml", bytes: Array(text.utf8)).documents.first?.root else { return nil }
    return ProjectConfigDecoder.decodeWithFindings(root, file: "p.yaml").parsed
}

/// Decodes a document that must be valid, failing the test with its diagnostics otherwise.
func validProject(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> ProjectConfig? {
    let (config, diagnostics) = decodeProject(text)
    #expect(diagnostics.errors.isEmpty, "\(diagnostics.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
    return config
}

@Suite("ProjectConfig spec_sha256 is byte-identical to beampipe's")
struct ProjectConfigHashTests {
    @Test("minimal_survey.v2.yaml serialises to beampipe's canonical JSON and hash")
    func minimalSurveyV2() throws {
        let config = try #require(validProject(minimalSurveyV2YAML))
        #expect(config.canonicalJSON == minimalSurveyV2CanonicalJSON)
        #expect(config.specSHA256 == "0dfdb224a22b1b091af311b0c25cdea06214221637ec130871e76a5235e834bf")
        #expect(config.apiVersion == .v2)
        #expect(config.id == "minimal_survey")
        #expect(config.description == "Generic single-archive survey")
    }

    @Test("spec is the normalised document with defaults filled in")
    func specHasDefaults() throws {
        let config = try #require(validProject(minimalSurveyV2YAML))
        #expect(config.spec == (try JSONValue.parse(minimalSurveyV2CanonicalJSON)))
        #expect(config.spec["manifest"]?["path"] == .string("manifest.json"))
        #expect(config.spec["automation"]?["discovery"]?["claim_ttl_minutes"] == .int(180))
    }

    @Test("JSON input with floats: 1e300 and 2.5 print as ryu does, execution defaults are filled")
    func floatsAndExecutionDefaults() throws {
        let json = #"{"apiVersion":"beampipe.dev/v2","kind":"ProjectConfig","metadata":{"id":"x"},"adapters":{"required":["casda"]},"automation":{"execution":{"execution_rest_remote_poll_interval_seconds":1e300,"execution_slurm_remote_poll_interval_seconds":2.5}}}"#
        let (config, diagnostics) = decodeProject(json, file: "projects/x.json")
        #expect(diagnostics.errors.isEmpty, "\(diagnostics)")
        let c = try #require(config)
        #expect(c.canonicalJSON.contains(#""execution_rest_remote_poll_interval_seconds":1e300,"execution_slurm_remote_poll_interval_seconds":2.5}"#))
        #expect(c.canonicalJSON.contains(#""execution":{"enabled":false,"archive_name":"casda","max_sources_per_execution":20,"tick_execution_source_limit":500,"tick_execution_run_limit":20,"min_sources_to_trigger":1,"max_wait_minutes":1440,"claim_ttl_minutes":180,"#))
        #expect(c.specSHA256 == "71baa85ad26779a88e1a4dedc824e50c484d9358d4feef3f4a53f0eb90361095")
    }

    @Test("minimal_survey.v1.yaml hashes as beampipe 0.1.0 did: no output_verification")
    func minimalSurveyV1() throws {
        let v1 = minimalSurveyV2YAML.replacingOccurrences(of: "apiVersion: beampipe.dev/v2", with: "apiVersion: beampipe.dev/v1")
        let config = try #require(validProject(v1))
        #expect(config.apiVersion == .v1)
        let expected = minimalSurveyV2CanonicalJSON
            .replacingOccurrences(of: #""apiVersion":"beampipe.dev/v2""#, with: #""apiVersion":"beampipe.dev/v1""#)
            .replacingOccurrences(of: #""output_verification":{"required":false,"inventory_schema":"wallaby-hires-output-inventory/v1"},"#, with: "")
        #expect(config.canonicalJSON == expected)
        #expect(config.specSHA256 == "4b50b23c5da3f6eb264f69a10042c02cefa26240e4c5c19d114a99b81338abd1")
    }

    static let minimalHeader = """
        apiVersion: beampipe.dev/v2
        kind: ProjectConfig
        metadata: {id: x}
        adapters: {required: [casda]}

        """

    @Test("empty optional sections serialise as beampipe does", arguments: [
        ("extension: {}", #""extension":{"hooks":[]}"#),
        ("definitions: {}", #""definitions":{}"#),
        ("source_identity: {}", #""source_identity":{"canonical":"source_identifier"}"#),
        ("automation: {discovery: {}}", #""automation":{"discovery":{"enabled":false,"tick_discovery_source_limit":200,"batch_size":5,"stale_after_hours":24,"claim_ttl_minutes":180}}"#),
        ("automation: {execution: null}", #""automation":{}"#),
        ("discovery: {prepare_metadata: {signature: {}}}", #""prepare_metadata":{"field_map":{},"discovery_flags":{},"signature":{"include_discovery_flags":true}}"#),
        ("discovery: {prepare_metadata: {field_map: {a: {}}}}", #""field_map":{"a":{"from":""}}"#),
    ])
    func emptySections(line: String, expected: String) throws {
        // A field_map entry without `from` fails validation, but parses and serialises.
        let json = try #require(parsedProject(Self.minimalHeader + line + "\n")?.canonicalJSON)
        #expect(json.contains(expected), "\(json)")
    }

    @Test("a float field written as an integer prints as 60.0; integers inside free JSON stay integers")
    func floatAndIntegerKinds() throws {
        let yaml = Self.minimalHeader + """
            automation: {execution: {execution_slurm_remote_poll_interval_seconds: 60}}
            manifest: {source_template: {n: 1, f: 1.0, big: 1e300, small: 1.5e-7, tiny: 0.00001, x: 9999999999999998.0}}

            """
        let c = try #require(validProject(yaml))
        #expect(c.canonicalJSON.contains(#""execution_slurm_remote_poll_interval_seconds":60.0"#))
        #expect(c.canonicalJSON.contains(#""source_template":{"big":1e300,"f":1.0,"n":1,"small":1.5e-7,"tiny":0.00001,"x":9999999999999998.0}"#))
    }

    @Test("map keys sort by UTF-8 bytes, strings escape like serde_json")
    func keyOrderAndEscaping() throws {
        let yaml = Self.minimalHeader + """
            manifest:
              source_template:
                "é": 1
                "Z": 2
                "a": 3
                "\u{FF5E}": 4
                "😀": 5
                s: "quote\\" back\\\\ slash/ tab\\t nl\\n bell\\u0007 del\\u007f"

            """
        let c = try #require(validProject(yaml))
        #expect(c.canonicalJSON.contains("\"source_template\":{\"Z\":2,\"a\":3,\"s\":\"quote\\\" back\\\\ slash/ tab\\t nl\\n bell\\u0007 del\u{7f}\",\"é\":1,\"\u{FF5E}\":4,\"😀\":5}"),
                "\(c.canonicalJSON)")
    }

    @Test("re-indenting, reordering keys and flow style do not change the hash")
    func layoutIndependence() throws {
        let flow = """
            {"kind": ProjectConfig, apiVersion: beampipe.dev/v2,
             automation: {discovery: {stale_after_hours: 24, concurrent_discovery_batch_limit: 4, tick_discovery_batch_limit: 10, batch_size: 10, enabled: true}},
             manifest: {source_template: {source_identifier: "{source_identifier}"}, group_by: [source_identifier]},
             discovery: {prepare_metadata: {discovery_flags: {visibility_complete: {transform: has_rows, from: enrichments.visibility}},
                                            field_map: {visibility_filename: {from: filename}, dataset_id: {from: filename}, source_identifier: {from: source_identifier}}},
                         queries: [{template: "SELECT o.* FROM ivoa.obscore o\\nWHERE o.filename LIKE '{source_identifier}%'\\n", adapter: casda, name: visibility}]},
             adapters: {tap: {retries: 1, timeout_seconds: 60}, required: [casda]},
             source_identity: {template_vars: {source_name: {transform: lowercase}, source_identifier: {from: canonical}}, canonical: source_identifier},
             definitions: {transforms: {lowercase: {kind: lowercase}, trim: {kind: trim}, has_rows: {kind: is_present}}},
             metadata: {description: Generic single-archive survey, id: minimal_survey}}

            """
        // Three-space indentation, sequences not indented under their key, comments and quoting.
        let reindented = """
            # minimal survey, re-indented
            kind: "ProjectConfig"
            apiVersion: 'beampipe.dev/v2'
            metadata:
               id: minimal_survey
               description: "Generic single-archive survey"
            adapters:
               tap:
                  retries: 1
                  timeout_seconds: 60
               required:
               - casda
            discovery:
               queries:
               -  template: "SELECT o.* FROM ivoa.obscore o\\nWHERE o.filename LIKE '{source_identifier}%'\\n"
                  name: visibility
                  adapter: casda
               prepare_metadata:
                  discovery_flags:
                     visibility_complete: {from: enrichments.visibility, transform: has_rows}
                  field_map:
                     visibility_filename: {from: filename}
                     source_identifier: {from: source_identifier}
                     dataset_id: {from: filename}
            manifest:
               source_template: {source_identifier: "{source_identifier}"}
               group_by: [source_identifier]
            automation:
               discovery: {enabled: true, batch_size: 10, tick_discovery_batch_limit: 10, concurrent_discovery_batch_limit: 4, stale_after_hours: 24}
            source_identity:
               template_vars:
                  source_name: {transform: lowercase}
                  source_identifier: {from: canonical}
               canonical: source_identifier
            definitions:
               transforms:
                  trim: {kind: trim}
                  lowercase: {kind: lowercase}
                  has_rows: {kind: is_present}

            """
        let a = try #require(validProject(flow))
        let b = try #require(validProject(reindented))
        #expect(a.specSHA256 == "0dfdb224a22b1b091af311b0c25cdea06214221637ec130871e76a5235e834bf")
        #expect(b.specSHA256 == a.specSHA256)
        #expect(a.canonicalJSON == b.canonicalJSON)
    }

    @Test("ryu float layout", arguments: [
        (60.0, "60.0"), (2.5, "2.5"), (0.1, "0.1"), (1e300, "1e300"), (1.5e-7, "1.5e-7"), (1e16, "1e16"), (1e15, "1000000000000000.0"),
        (0.00001, "0.00001"), (0.000001, "1e-6"), (-0.0, "-0.0"), (123456789012345680.0, "1.2345678901234568e17"), (-2.5e-10, "-2.5e-10"),
    ])
    func ryu(value: Double, expected: String) throws {
        let yaml = Self.minimalHeader + "manifest: {source_template: {v: \(value == 0 && value.sign == .minus ? "-0.0" : "\(value)")}}\n"
        let c = try #require(validProject(yaml))
        #expect(c.canonicalJSON.contains("\"v\":\(expected)}"), "\(c.canonicalJSON)")
    }
}
