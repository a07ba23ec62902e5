import BeamsyncModel
import Foundation
import Testing

/// beampipe's own ProjectConfig tests (`crates/beampipe-project/src/lib.rs`, reference §7),
/// restated for beamsync, plus beampipe's change warnings.
@Suite("ProjectConfig acceptance (beampipe's tests)")
struct ProjectConfigTests {
    static let minimal = """
        apiVersion: beampipe.dev/v2
        kind: ProjectConfig
        metadata:
          id: p
        adapters:
          required: [casda]

        """

    @Test("wallaby_reference_config_validates: a WALLABY-shaped config loads with its profile")
    func wallabyLike() throws {
        let result = loadRepository(["projects/survey.yaml": surveyProjectYAML, "profiles/slurm.yaml": slurmProfileYAML])
        #expect(result.diagnostics.errors.isEmpty, "\(result.diagnostics.map(\.description))")
        let project = try #require(result.state?.projects.first?.value)
        #expect(project.id == "survey_hires")
        #expect(project.description == "HI survey high-resolution imaging")
        #expect(project.automationProfileName == "slurm-remote")
        #expect(project.spec["output_verification"]?["required"] == .bool(true))
        #expect(project.canonicalJSON.contains(#""execution_slurm_remote_poll_interval_seconds":60.0}"#))
        #expect(project.canonicalJSON.contains(
            #""graph_patches":[{"match":{"kind":"node_name","equals":"Scatter/GenericScatterApp/Beam"},"set":{"note":"literal","num_of_copies":"$count(sbids[].datasets[])"}}]"#))
        #expect(project.specSHA256.count == 64)
    }

    @Test("the automation profile must exist (beamsync's cross-document check)")
    func automationProfileMustExist() {
        let result = loadRepository(["projects/survey.yaml": surveyProjectYAML])
        #expect(result.diagnostics.errors.map(\.path) == ["automation.execution.deployment_profile_name"])
    }

    @Test("minimal_survey_example_validates: the minimal survey example loads without diagnostics and hashes as beampipe does")
    func minimalSurvey() throws {
        let result = loadRepository(["projects/minimal_survey.yaml": minimalSurveyV2YAML])
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
        #expect(result.state?.projects.first?.value.specSHA256 == "0dfdb224a22b1b091af311b0c25cdea06214221637ec130871e76a5235e834bf")
    }

    @Test("legacy_v1_config_parses_but_does_not_validate: beamsync reads v1 by 0.1.0's rules and warns it is legacy")
    func legacyV1() throws {
        let v1 = """
            apiVersion: beampipe.dev/v1
            kind: ProjectConfig
            metadata: {id: wallaby_hires}
            adapters: {required: [casda]}
            discovery:
              prepare_metadata:
                field_map:
                  sbid: {from: obs_id, transform: extract_askap_sbid}

            """
        let result = loadRepository(["projects/legacy.yaml": v1])
        #expect(result.diagnostics.errors.isEmpty)
        #expect(result.diagnostics.warnings.map(\.code) == [.legacyAPIVersion])
        #expect(result.state?.projects.first?.value.apiVersion == .v1)
        // As v2 the same document fails the way beampipe 0.1.6 fails it.
        let asV2 = diagnoseProject(v1.replacingOccurrences(of: "beampipe.dev/v1", with: "beampipe.dev/v2")).diagnostics
        #expect(asV2.errors.map(\.path) == ["discovery.prepare_metadata.field_map.sbid.transform"])
        #expect(asV2.errors.first?.message.contains("unknown transform 'extract_askap_sbid'") == true)
    }

    @Test("v2_rejects_unknown_fields_during_parse: metadata.typo, at its line and column")
    func unknownField() throws {
        let yaml = Self.minimal.replacingOccurrences(of: "  id: p\n", with: "  id: p\n  typo: true\n")
        let result = loadRepository(["projects/p.yaml": yaml])
        let d = try #require(result.diagnostics.errors.first)
        #expect(result.diagnostics.errors.count == 1)
        #expect(d.path == "metadata.typo" && d.code == .unknownField && d.severity == .error)
        #expect(d.location == BeamsyncModel.SourceLocation(file: "projects/p.yaml", line: 5, column: 3))
        #expect(d.message == "unknown field `typo`, expected `id` or `description`")
        #expect(d.hint?.isEmpty == false)
        #expect(result.state == nil)
    }

    @Test("strict validation gives structured diagnostics (beampipe's CLI test)")
    func strictCLIShape() throws {
        let yaml = Self.minimal.replacingOccurrences(of: "  id: p\n", with: "  id: strict-cli-test\n  unknown_field: x\n")
        let d = try #require(diagnoseProject(yaml).diagnostics.errors.first)
        #expect(d.path == "metadata.unknown_field" && d.severity == .error && d.hint != nil)
    }

    @Test("invalid_automation_limits_have_precise_paths: each out-of-range automation limit is reported at its field path and line")
    func automationLimits() {
        let yaml = Self.minimal + """
            automation:
              discovery: {batch_size: 0, stale_after_hours: -1, concurrent_discovery_batch_limit: 0}
              execution: {max_sources_per_execution: 0, claim_ttl_minutes: 0, execution_rest_remote_poll_interval_seconds: 0}

            """
        let errors = diagnoseProject(yaml).diagnostics.errors
        #expect(errors.map(\.path) == [
            "automation.discovery.batch_size", "automation.discovery.stale_after_hours", "automation.discovery.concurrent_discovery_batch_limit",
            "automation.execution.max_sources_per_execution", "automation.execution.claim_ttl_minutes",
            "automation.execution.execution_rest_remote_poll_interval_seconds",
        ])
        #expect(errors.allSatisfy { $0.code == .outOfRange && $0.message.hasPrefix($0.path + " must be") })
        #expect(errors.map(\.location!.line) == [8, 8, 8, 9, 9, 9])
    }

    @Test("output_verification_policy_is_explicit_and_schema_pinned: not required by default, with the WALLABY schema; another schema is refused")
    func outputVerification() throws {
        let defaults = try #require(diagnoseProject(Self.minimal).config)
        #expect(defaults.canonicalJSON.contains(#""output_verification":{"required":false,"inventory_schema":"wallaby-hires-output-inventory/v1"}"#))
        let required = try #require(diagnoseProject(Self.minimal + "output_verification: {required: true}\n").config?.v2)
        #expect(required.outputVerification.required && required.outputVerification.inventorySchema == ProjectConfig.wallabyOutputInventorySchema)
        let other = diagnoseProject(Self.minimal + "output_verification: {required: false, inventory_schema: custom/v1}\n").diagnostics.errors
        #expect(other.map(\.path) == ["output_verification.inventory_schema"])
        #expect(other.first?.message == "output_verification.inventory_schema must be wallaby-hires-output-inventory/v1")
    }

    @Test("graph_requires_one_source_and_a_sha256_pin: a graph needs exactly one of url or path, and a sha256 pin")
    func graph() {
        let sha = String(repeating: "aB", count: 32)
        func errors(_ graph: String) -> [String] { diagnoseProject(Self.minimal + "graph: \(graph)\n").diagnostics.errors.map(\.message) }
        #expect(errors("{path: g.graph, sha256: \(sha)}").isEmpty)
        #expect(errors("{url: https://example.org/g.graph, sha256: \(sha)}").isEmpty)
        #expect(errors("{path: g.graph}") == ["graph.sha256 is required to pin graph content"])
        #expect(errors("{sha256: \(sha)}") == ["graph must use exactly one of url or path"])
        #expect(errors("{path: g, url: u, sha256: \(sha)}") == ["graph must use exactly one of url or path"])
        #expect(errors("{}") == ["graph must use exactly one of url or path", "graph.sha256 is required to pin graph content"])
    }

    @Test("enrichment_validation_uses_the_enrichment_path: an empty enrichment template is reported at its path, line and column")
    func enrichmentPath() throws {
        let yaml = Self.minimal + "discovery:\n  enrichments:\n    - {name: catalogue, adapter: vizier, template: \" \"}\n"
        let d = try #require(diagnoseProject(yaml).diagnostics.errors.first)
        #expect(d.path == "discovery.enrichments[0].template")
        #expect(d.message == "discovery enrichments template must be non-empty")
        #expect(d.location?.line == 9 && d.location?.column == 52)
    }

    // MARK: Change warnings

    func config(_ extra: String) throws -> ProjectConfig {
        try #require(diagnoseProject(Self.minimal + extra).config)
    }

    @Test("no previous config, or an identical one, gives no warnings")
    func noWarnings() throws {
        let c = try config("discovery: {prepare_metadata: {field_map: {a: {from: x}, b: {from: y}}}}\n")
        let reordered = try config("discovery: {prepare_metadata: {field_map: {b: {from: y}, a: {from: x}}}}\n")
        #expect(ProjectConfig.warnings(previous: nil, current: c).isEmpty)
        #expect(ProjectConfig.warnings(previous: reordered, current: c).isEmpty)
    }

    @Test("signature, field_map and definitions changes warn, in beampipe's order")
    func changeWarnings() throws {
        let before = try config("discovery: {prepare_metadata: {field_map: {a: {from: x}}}}\n")
        let after = try config("""
            discovery: {prepare_metadata: {field_map: {a: {from: y}}, signature: {}}}
            definitions: {}

            """)
        let warnings = ProjectConfig.warnings(previous: before, current: after)
        #expect(warnings.map(\.path) == ["discovery.prepare_metadata.signature", "discovery.prepare_metadata.field_map", "definitions.transforms"])
        #expect(warnings.allSatisfy { $0.severity == .warning })
        #expect(warnings[0].message.contains("discovery signature config changed; expect discovery re-signatures and a workflow_run_pending wave"))
        #expect(warnings[1].message.contains("field_map changed; prepared metadata shape and discovery signatures may change"))
        #expect(warnings[2].message.contains("definitions.transforms changed"))
    }

    @Test("adding an empty prepare_metadata warns about field_map (null versus {})")
    func emptyPrepareMetadata() throws {
        let warnings = ProjectConfig.warnings(previous: try config(""), current: try config("discovery: {prepare_metadata: {}}\n"))
        #expect(warnings.map(\.path) == ["discovery.prepare_metadata.field_map"])
    }
}
