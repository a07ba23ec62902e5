import BeamsyncModel
import Foundation
import Testing

/// A full v2 project in the shape of beampipe's WALLABY config (written for these tests): every
/// section is present and valid, so each rule case below changes one thing and expects one error.
let surveyProjectYAML = """
    apiVersion: beampipe.dev/v2
    kind: ProjectConfig
    metadata:
      id: survey_hires
      description: HI survey high-resolution imaging
    definitions:
      transforms:
        trim: {kind: trim}
        lowercase: {kind: lowercase}
        sbid_digits: {kind: extract_digits}
        strip_survey: {kind: strip_prefix, prefix: SURVEY_}
        scan_tail: {kind: split_last, separators: ["/", ":"]}
        tidy: {kind: chain, steps: [trim, lowercase]}
        has_rows: {kind: is_present}
        pick_eval: {kind: select_eval_file_by_size}
        beam_no: {kind: regex_extract, pattern: "beam(\\\\d+)", group: 1}
        with_suffix: {kind: add_suffix, suffix: _v2}
        fallback: {kind: default_if_empty, default: unknown}
        dashes: {kind: replace, from: "_", to: "-"}
        prefixed: {kind: add_prefix, prefix: "J"}
    source_identity:
      canonical: source_identifier
      template_vars:
        source_identifier:
          from: canonical
        source_name:
          transform: tidy
    adapters:
      required:
        - casda
        - vizier
      casda_tap_url: https://casda.csiro.au/casda_vo_tools/tap
      tap:
        timeout_seconds: 60
        retries: 2
        fail_open: false
    graph:
      path: graphs/hires.graph
      sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    discovery:
      queries:
        - name: visibility
          adapter: casda
          template: "SELECT * FROM ivoa.obscore WHERE filename LIKE '{source_name}%'"
          source_id_transform: strip_survey
      enrichments:
        - name: catalogue
          adapter: vizier
          template: "SELECT * FROM catalogue WHERE name = '{source_identifier}'"
      prepare_metadata:
        field_map:
          source_identifier:
            from: source_identifier
          sbid:
            from: obs_id
            transform: sbid_digits
          scan:
            from: obs_id
            transform: [trim, scan_tail]
        discovery_flags:
          catalogue_complete:
            from: enrichments.catalogue
            transform: has_rows
        signature:
          exclude_fields: [scan]
          include_discovery_flags: true
    manifest:
      group_by: [source_identifier]
      source_template:
        source_identifier: "{source_identifier}"
        sbids: []
      dataset_template:
        sbid: "{sbid}"
      expand_from: sbids
    graph_patches:
      - match:
          kind: node_name
          equals: Scatter/GenericScatterApp/Beam
        set:
          num_of_copies: "$count(sbids[].datasets[])"
          note: literal
    output_verification:
      required: true
      inventory_schema: wallaby-hires-output-inventory/v1
    automation:
      execution:
        enabled: true
        archive_name: casda
        max_sources_per_execution: 1
        tick_execution_source_limit: 500
        tick_execution_run_limit: 20
        min_sources_to_trigger: 1
        max_wait_minutes: 1440
        claim_ttl_minutes: 180
        concurrent_execution_run_limit: 2
        deployment_profile_name: slurm-remote
        execution_slurm_remote_poll_max_rounds: 480
        execution_rest_remote_poll_max_rounds: 240
        execution_rest_remote_poll_interval_seconds: 3
        execution_slurm_remote_poll_interval_seconds: 60
      discovery:
        enabled: true
        tick_discovery_source_limit: 200
        batch_size: 10
        stale_after_hours: 24
        claim_ttl_minutes: 120
        queue_max_depth: 100
        tick_discovery_batch_limit: 8
        concurrent_discovery_batch_limit: 4
    extension:
      wasm_sha256: "0000"
      hooks: [prepare_metadata, manifest]

    """

/// Decodes straight through ProjectConfigDecoder (no cross-document checks such as profile names).
func diagnoseProject(_ text: String, file: String = "projects/p.yaml") -> ProjectConfigDecoder.Result {
    let (documents, yamlDiagnostics) = YAMLLoader.load(file: file, bytes: Array(text.utf8))
    precondition(yamlDiagnostics.isEmpty, "\(yamlDiagnostics)")
    return ProjectConfigDecoder.decodeWithFindings(documents[0].root, file: file)
}

/// Line and column of the `|` marker in `needle`, found (without the marker) in `text`.
func markerPosition(_ needle: String, in text: String) -> (line: Int, column: Int)? {
    let parts = needle.components(separatedBy: "|")
    guard parts.count == 2, let range = text.range(of: parts[0] + parts[1]) else { return nil }
    let before = text[..<range.lowerBound] + parts[0]
    let lines = before.components(separatedBy: "\n")
    return (lines.count, lines.last!.count + 1)
}

/// Replaces the first occurrence of `old` (which must exist).
func editing(_ text: String, _ old: String, _ new: String) -> String {
    guard let r = text.range(of: old) else { preconditionFailure("'\(old)' not in the document") }
    return text.replacingCharacters(in: r, with: new)
}

struct ProjectRuleCase: CustomTestStringConvertible, Sendable {
    var replace: String
    var with: String
    var path: String
    var code: DiagnosticCode
    /// beampipe's wording, which the message must contain.
    var message: String
    /// Where the diagnostic must point: the text around it with `|` at the exact spot.
    var at: String
    var hint: String? = nil

    var testDescription: String { "\(path): \(message)" }
    var yaml: String { editing(surveyProjectYAML, replace, with) }
}

let v2RuleCases: [ProjectRuleCase] = [
    // 1-3: header
    .init(replace: "apiVersion: beampipe.dev/v2", with: "apiVersion: beampipe.dev/v3", path: "apiVersion", code: .legacyAPIVersion,
          message: "apiVersion must be beampipe.dev/v2", at: "apiVersion: |beampipe.dev/v3", hint: "beampipe.dev/v1"),
    .init(replace: "kind: ProjectConfig", with: "kind: ProjectSettings", path: "kind", code: .kindMismatch,
          message: "kind must be ProjectConfig", at: "kind: |ProjectSettings"),
    .init(replace: "id: survey_hires", with: "id: \"  \"", path: "metadata.id", code: .invalidValue,
          message: "metadata.id is required", at: "id: |\"  \""),
    // 4-6: adapters
    .init(replace: "  required:\n    - casda\n    - vizier", with: "  required: []", path: "adapters.required", code: .invalidValue,
          message: "adapters.required must include at least one adapter", at: "  required: |[]"),
    .init(replace: "    - vizier", with: "    - \" \"", path: "adapters.required[1]", code: .invalidValue,
          message: "adapter identifiers must be non-empty", at: "    - |\" \""),
    .init(replace: "timeout_seconds: 60", with: "timeout_seconds: 0", path: "adapters.tap.timeout_seconds", code: .outOfRange,
          message: "adapters.tap.timeout_seconds must be > 0", at: "timeout_seconds: |0"),
    // 7: automation.discovery
    .init(replace: "batch_size: 10", with: "batch_size: 0", path: "automation.discovery.batch_size", code: .outOfRange,
          message: "automation.discovery.batch_size must be > 0", at: "  batch_size: |0"),
    .init(replace: "tick_discovery_source_limit: 200", with: "tick_discovery_source_limit: -5", path: "automation.discovery.tick_discovery_source_limit",
          code: .outOfRange, message: "automation.discovery.tick_discovery_source_limit must be > 0", at: "tick_discovery_source_limit: |-5"),
    .init(replace: "stale_after_hours: 24", with: "stale_after_hours: 0", path: "automation.discovery.stale_after_hours", code: .outOfRange,
          message: "automation.discovery.stale_after_hours must be > 0", at: "stale_after_hours: |0"),
    .init(replace: "claim_ttl_minutes: 120", with: "claim_ttl_minutes: 0", path: "automation.discovery.claim_ttl_minutes", code: .outOfRange,
          message: "automation.discovery.claim_ttl_minutes must be > 0", at: "claim_ttl_minutes: |0"),
    .init(replace: "queue_max_depth: 100", with: "queue_max_depth: 0", path: "automation.discovery.queue_max_depth", code: .outOfRange,
          message: "automation.discovery.queue_max_depth must be > 0 when set", at: "queue_max_depth: |0"),
    .init(replace: "tick_discovery_batch_limit: 8", with: "tick_discovery_batch_limit: 0", path: "automation.discovery.tick_discovery_batch_limit",
          code: .outOfRange, message: "automation.discovery.tick_discovery_batch_limit must be > 0 when set", at: "tick_discovery_batch_limit: |0"),
    .init(replace: "concurrent_discovery_batch_limit: 4", with: "concurrent_discovery_batch_limit: -1",
          path: "automation.discovery.concurrent_discovery_batch_limit", code: .outOfRange,
          message: "automation.discovery.concurrent_discovery_batch_limit must be > 0 when set", at: "concurrent_discovery_batch_limit: |-1"),
    // 8: automation.execution
    .init(replace: "max_sources_per_execution: 1", with: "max_sources_per_execution: 0", path: "automation.execution.max_sources_per_execution",
          code: .outOfRange, message: "automation.execution.max_sources_per_execution must be > 0", at: "max_sources_per_execution: |0"),
    .init(replace: "tick_execution_run_limit: 20", with: "tick_execution_run_limit: 0", path: "automation.execution.tick_execution_run_limit",
          code: .outOfRange, message: "automation.execution.tick_execution_run_limit must be > 0", at: "tick_execution_run_limit: |0"),
    .init(replace: "tick_execution_source_limit: 500", with: "tick_execution_source_limit: 0", path: "automation.execution.tick_execution_source_limit",
          code: .outOfRange, message: "automation.execution.tick_execution_source_limit must be > 0", at: "tick_execution_source_limit: |0"),
    .init(replace: "min_sources_to_trigger: 1", with: "min_sources_to_trigger: 0", path: "automation.execution.min_sources_to_trigger",
          code: .outOfRange, message: "automation.execution.min_sources_to_trigger must be > 0", at: "min_sources_to_trigger: |0"),
    .init(replace: "max_wait_minutes: 1440", with: "max_wait_minutes: -1", path: "automation.execution.max_wait_minutes",
          code: .outOfRange, message: "automation.execution.max_wait_minutes must be > 0", at: "max_wait_minutes: |-1"),
    .init(replace: "claim_ttl_minutes: 180", with: "claim_ttl_minutes: 0", path: "automation.execution.claim_ttl_minutes",
          code: .outOfRange, message: "automation.execution.claim_ttl_minutes must be > 0", at: "claim_ttl_minutes: |0"),
    .init(replace: "concurrent_execution_run_limit: 2", with: "concurrent_execution_run_limit: 0", path: "automation.execution.concurrent_execution_run_limit",
          code: .outOfRange, message: "automation.execution.concurrent_execution_run_limit must be > 0 when set", at: "concurrent_execution_run_limit: |0"),
    .init(replace: "execution_slurm_remote_poll_max_rounds: 480", with: "execution_slurm_remote_poll_max_rounds: 0",
          path: "automation.execution.execution_slurm_remote_poll_max_rounds", code: .outOfRange,
          message: "automation.execution.execution_slurm_remote_poll_max_rounds must be > 0 when set", at: "execution_slurm_remote_poll_max_rounds: |0"),
    .init(replace: "execution_rest_remote_poll_max_rounds: 240", with: "execution_rest_remote_poll_max_rounds: -2",
          path: "automation.execution.execution_rest_remote_poll_max_rounds", code: .outOfRange,
          message: "automation.execution.execution_rest_remote_poll_max_rounds must be > 0 when set", at: "execution_rest_remote_poll_max_rounds: |-2"),
    .init(replace: "execution_rest_remote_poll_interval_seconds: 3", with: "execution_rest_remote_poll_interval_seconds: 0.0",
          path: "automation.execution.execution_rest_remote_poll_interval_seconds", code: .outOfRange,
          message: "automation.execution.execution_rest_remote_poll_interval_seconds must be finite and > 0 when set",
          at: "execution_rest_remote_poll_interval_seconds: |0.0"),
    .init(replace: "execution_slurm_remote_poll_interval_seconds: 60", with: "execution_slurm_remote_poll_interval_seconds: -1.5",
          path: "automation.execution.execution_slurm_remote_poll_interval_seconds", code: .outOfRange,
          message: "automation.execution.execution_slurm_remote_poll_interval_seconds must be finite and > 0 when set",
          at: "execution_slurm_remote_poll_interval_seconds: |-1.5"),
    // beampipe would turn .inf into null and drop the setting; beamsync reports it with the same rule.
    .init(replace: "execution_slurm_remote_poll_interval_seconds: 60", with: "execution_slurm_remote_poll_interval_seconds: .inf",
          path: "automation.execution.execution_slurm_remote_poll_interval_seconds", code: .invalidValue,
          message: "automation.execution.execution_slurm_remote_poll_interval_seconds must be finite and > 0 when set",
          at: "execution_slurm_remote_poll_interval_seconds: |.inf"),
    // 9: output verification
    .init(replace: "inventory_schema: wallaby-hires-output-inventory/v1", with: "inventory_schema: Wallaby-hires-output-inventory/v1",
          path: "output_verification.inventory_schema", code: .invalidValue,
          message: "output_verification.inventory_schema must be wallaby-hires-output-inventory/v1", at: "inventory_schema: |Wallaby"),
    // 10: graph
    .init(replace: "  path: graphs/hires.graph\n", with: "  path: graphs/hires.graph\n  url: https://example.org/hires.graph\n", path: "graph",
          code: .invalidValue, message: "graph must use exactly one of url or path", at: "graph:\n  |path: graphs"),
    .init(replace: "  path: graphs/hires.graph\n", with: "", path: "graph", code: .invalidValue,
          message: "graph must use exactly one of url or path", at: "graph:\n  |sha256"),
    .init(replace: "  path: graphs/hires.graph", with: "  url: \" \"", path: "graph.url", code: .invalidValue,
          message: "graph.url must be non-empty when set", at: "  url: |\" \""),
    .init(replace: "  path: graphs/hires.graph", with: "  path: \"\"", path: "graph.path", code: .invalidValue,
          message: "graph.path must be non-empty when set", at: "  path: |\"\""),
    .init(replace: "  sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n", with: "", path: "graph.sha256", code: .missingField,
          message: "graph.sha256 is required to pin graph content", at: "graph:\n  |path"),
    .init(replace: "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", with: "sha256: 9f86d0818z", path: "graph.sha256",
          code: .invalidValue, message: "graph.sha256 must contain exactly 64 hexadecimal characters", at: "sha256: |9f86d0818z"),
    // 11: queries and enrichments
    .init(replace: "- name: visibility", with: "- name: \"\"", path: "discovery.queries[0].name", code: .invalidValue,
          message: "discovery queries name must be non-empty", at: "- name: |\"\""),
    .init(replace: "adapter: casda", with: "adapter: \" \"", path: "discovery.queries[0].adapter", code: .invalidValue,
          message: "discovery queries adapter must be non-empty", at: "adapter: |\" \""),
    .init(replace: "template: \"SELECT * FROM ivoa.obscore WHERE filename LIKE '{source_name}%'\"", with: "template: \"\"",
          path: "discovery.queries[0].template", code: .invalidValue, message: "discovery queries template must be non-empty", at: "template: |\"\""),
    .init(replace: "template: \"SELECT * FROM catalogue WHERE name = '{source_identifier}'\"", with: "template: \"  \"",
          path: "discovery.enrichments[0].template", code: .invalidValue, message: "discovery enrichments template must be non-empty", at: "template: |\"  \""),
    // 12: source identity
    .init(replace: "canonical: source_identifier", with: "canonical: \"\"", path: "source_identity.canonical", code: .invalidValue,
          message: "source_identity.canonical must be non-empty", at: "canonical: |\"\""),
    .init(replace: "    source_name:\n", with: "    \" \": {from: canonical}\n    source_name:\n", path: "source_identity.template_vars", code: .invalidValue,
          message: "template variable names must be non-empty", at: "    |\" \": {from"),
    // 13: extension hooks
    .init(replace: "hooks: [prepare_metadata, manifest]", with: "hooks: [prepare_metadata, manifests]", path: "extension.hooks[1]", code: .invalidValue,
          message: "extension.hooks contains an unknown hook", at: "hooks: [prepare_metadata, |manifests]",
          hint: "allowed hooks are prepare_metadata, manifest, and graph_patches"),
    // 14: transform references
    .init(replace: "transform: tidy", with: "transform: tidy2", path: "source_identity.template_vars.source_name.transform", code: .unresolvedReference,
          message: "unknown transform 'tidy2'", at: "transform: |tidy2"),
    .init(replace: "source_id_transform: strip_survey", with: "source_id_transform: nope", path: "discovery.queries[0].source_id_transform",
          code: .unresolvedReference, message: "unknown transform 'nope'", at: "source_id_transform: |nope"),
    .init(replace: "        from: obs_id\n        transform: sbid_digits", with: "        from: \" \"\n        transform: sbid_digits",
          path: "discovery.prepare_metadata.field_map.sbid.from", code: .invalidValue, message: "field_map entries require from", at: "        from: |\" \""),
    .init(replace: "        from: obs_id\n        transform: sbid_digits", with: "        transform: sbid_digits",
          path: "discovery.prepare_metadata.field_map.sbid.from", code: .missingField, message: "field_map entries require from",
          at: "      sbid:\n        |transform"),
    .init(replace: "transform: sbid_digits", with: "transform: sbid_digit", path: "discovery.prepare_metadata.field_map.sbid.transform",
          code: .unresolvedReference, message: "unknown transform 'sbid_digit'", at: "transform: |sbid_digit", hint: "did you mean 'sbid_digits'?"),
    .init(replace: "transform: [trim, scan_tail]", with: "transform: []", path: "discovery.prepare_metadata.field_map.scan.transform",
          code: .invalidValue, message: "transform chain must include at least one step", at: "transform: |[]"),
    .init(replace: "transform: [trim, scan_tail]", with: "transform: [trim, scan_tails]", path: "discovery.prepare_metadata.field_map.scan.transform[1]",
          code: .unresolvedReference, message: "unknown transform 'scan_tails'", at: "transform: [trim, |scan_tails]"),
    .init(replace: "from: enrichments.catalogue", with: "from: \"\"", path: "discovery.prepare_metadata.discovery_flags.catalogue_complete.from",
          code: .invalidValue, message: "discovery_flags entries require from", at: "from: |\"\""),
    .init(replace: "transform: has_rows", with: "transform: [has_row]", path: "discovery.prepare_metadata.discovery_flags.catalogue_complete.transform[0]",
          code: .unresolvedReference, message: "unknown transform 'has_row'", at: "transform: [|has_row]"),
    .init(replace: "trim: {kind: trim}", with: "trim: {kind: trimm}", path: "definitions.transforms.trim.kind", code: .invalidValue,
          message: "transform has an unknown kind", at: "trim: {kind: |trimm}", hint: "did you mean 'trim'?"),
    .init(replace: "strip_survey: {kind: strip_prefix, prefix: SURVEY_}", with: "strip_survey: {kind: strip_prefix}",
          path: "definitions.transforms.strip_survey.prefix", code: .missingField, message: "strip_prefix requires prefix", at: "strip_survey: |{kind"),
    .init(replace: "prefixed: {kind: add_prefix, prefix: \"J\"}", with: "prefixed: {kind: add_prefix, prefix: \"\"}",
          path: "definitions.transforms.prefixed.prefix", code: .invalidValue, message: "add_prefix requires prefix", at: "add_prefix, prefix: |\"\""),
    .init(replace: "with_suffix: {kind: add_suffix, suffix: _v2}", with: "with_suffix: {kind: add_suffix}",
          path: "definitions.transforms.with_suffix.suffix", code: .missingField, message: "add_suffix requires suffix", at: "with_suffix: |{kind"),
    .init(replace: "dashes: {kind: replace, from: \"_\", to: \"-\"}", with: "dashes: {kind: replace, to: \"-\"}",
          path: "definitions.transforms.dashes.from", code: .missingField, message: "replace requires from", at: "dashes: |{kind"),
    .init(replace: "fallback: {kind: default_if_empty, default: unknown}", with: "fallback: {kind: default_if_empty, default: \"\"}",
          path: "definitions.transforms.fallback.default", code: .invalidValue, message: "default_if_empty requires default", at: "default: |\"\""),
    .init(replace: "scan_tail: {kind: split_last, separators: [\"/\", \":\"]}", with: "scan_tail: {kind: split_last, separators: []}",
          path: "definitions.transforms.scan_tail.separators", code: .invalidValue, message: "split_last requires at least one separator",
          at: "separators: |[]"),
    .init(replace: "scan_tail: {kind: split_last, separators: [\"/\", \":\"]}", with: "scan_tail: {kind: split_last, separators: [\"/\", \"\"]}",
          path: "definitions.transforms.scan_tail.separators[1]", code: .invalidValue, message: "transform separators must be non-empty",
          at: "separators: [\"/\", |\"\"]"),
    .init(replace: "beam_no: {kind: regex_extract, pattern: \"beam(\\\\d+)\", group: 1}", with: "beam_no: {kind: regex_extract, group: 1}",
          path: "definitions.transforms.beam_no.pattern", code: .missingField, message: "regex_extract requires pattern", at: "beam_no: |{kind"),
    .init(replace: "tidy: {kind: chain, steps: [trim, lowercase]}", with: "tidy: {kind: chain}",
          path: "definitions.transforms.tidy.steps", code: .missingField, message: "chain requires steps", at: "tidy: |{kind"),
    .init(replace: "tidy: {kind: chain, steps: [trim, lowercase]}", with: "tidy: {kind: chain, steps: []}",
          path: "definitions.transforms.tidy.steps", code: .invalidValue, message: "chain requires steps", at: "steps: |[]"),
    .init(replace: "tidy: {kind: chain, steps: [trim, lowercase]}", with: "tidy: {kind: chain, steps: [trim, lower]}",
          path: "definitions.transforms.tidy.steps[1]", code: .unresolvedReference, message: "unknown transform 'lower'", at: "steps: [trim, |lower]"),
    // 15: graph patches
    .init(replace: "      kind: node_name\n", with: "", path: "graph_patches[0].match.kind", code: .missingField,
          message: "graph patch match kind is unknown", at: "  - match:\n      |equals", hint: "allowed match kind is node_name"),
    .init(replace: "kind: node_name", with: "kind: node_id", path: "graph_patches[0].match.kind", code: .invalidValue,
          message: "graph patch match kind is unknown", at: "kind: |node_id", hint: "allowed match kind is node_name"),
    .init(replace: "equals: Scatter/GenericScatterApp/Beam", with: "equals: \" \"", path: "graph_patches[0].match.equals", code: .invalidValue,
          message: "graph patch match equals must be non-empty", at: "equals: |\" \""),
    .init(replace: "    set:\n      num_of_copies: \"$count(sbids[].datasets[])\"\n      note: literal", with: "    set: {}",
          path: "graph_patches[0].set", code: .invalidValue, message: "graph patch set must include at least one field", at: "    set: |{}"),
    .init(replace: "      note: literal", with: "      \"\": literal", path: "graph_patches[0].set", code: .invalidValue,
          message: "graph patch set field names must be non-empty", at: "      |\"\": literal"),
    .init(replace: "num_of_copies: \"$count(sbids[].datasets[])\"", with: "num_of_copies: \"$max(sbids[])\"", path: "graph_patches[0].set.num_of_copies",
          code: .invalidValue, message: "graph patch expressions must use existing $count(...) or $sum(...) forms", at: "num_of_copies: |\"$max"),
    .init(replace: "num_of_copies: \"$count(sbids[].datasets[])\"", with: "num_of_copies: \"$count(sbids[]\"", path: "graph_patches[0].set.num_of_copies",
          code: .invalidValue, message: "graph patch expressions must use existing $count(...) or $sum(...) forms", at: "num_of_copies: |\"$count"),
    // 16: signature
    .init(replace: "exclude_fields: [scan]", with: "exclude_fields: [scan, \" \"]", path: "discovery.prepare_metadata.signature.exclude_fields[1]",
          code: .invalidValue, message: "signature exclude fields must be non-empty", at: "exclude_fields: [scan, |\" \"]"),
]

@Suite("ProjectConfig v2 validation rules (beampipe 0.1.6)")
struct ProjectConfigRuleTests {
    @Test("the survey project is valid and keeps every section")
    func baseIsValid() throws {
        let result = diagnoseProject(surveyProjectYAML)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
        let c = try #require(result.config?.v2)
        #expect(c.definitions?.transforms.count == 13)
        #expect(c.definitions?.transforms["beam_no"]?.group == 1)
        #expect(c.discovery.prepareMetadata?.fieldMap["scan"]?.transform == .chain(["trim", "scan_tail"]))
        #expect(c.graphPatches.first?.match.kind == .nodeName)
        #expect(c.extension?.hooks == [.prepareMetadata, .manifest])
        #expect(c.automation.execution?.executionSlurmRemotePollIntervalSeconds == 60)
    }

    @Test("each rule reports one error at the offending node, with beampipe's path and message", arguments: v2RuleCases)
    func rule(_ c: ProjectRuleCase) throws {
        let result = diagnoseProject(c.yaml)
        let errors = result.diagnostics.errors
        #expect(errors.count == 1, "\(errors.map(\.description))")
        let d = try #require(errors.first { $0.path == c.path }, "\(errors.map(\.description))")
        #expect(d.code == c.code)
        #expect(d.message.contains(c.message), "\(d.message)")
        #expect(d.hint?.isEmpty == false)
        if let hint = c.hint { #expect(d.hint?.contains(hint) == true, "\(d.hint ?? "")") }
        let expected = try #require(markerPosition(c.at, in: c.yaml), "marker \(c.at) not found")
        #expect(d.location?.line == expected.line && d.location?.column == expected.column,
                "at \(d.location.map(\.description) ?? "nil"), expected \(expected)")
        #expect(result.config == nil)
    }

    @Test("rules are reported in beampipe's order, all at once")
    func order() {
        var yaml = surveyProjectYAML
        yaml = editing(yaml, "exclude_fields: [scan]", "exclude_fields: [\"\"]")
        yaml = editing(yaml, "equals: Scatter/GenericScatterApp/Beam", "equals: \"\"")
        yaml = editing(yaml, "transform: tidy", "transform: nope")
        yaml = editing(yaml, "claim_ttl_minutes: 180", "claim_ttl_minutes: 0")
        yaml = editing(yaml, "batch_size: 10", "batch_size: 0")
        yaml = editing(yaml, "timeout_seconds: 60", "timeout_seconds: 0")
        let paths = diagnoseProject(yaml).diagnostics.errors.map(\.path)
        #expect(paths == [
            "adapters.tap.timeout_seconds", "automation.discovery.batch_size", "automation.execution.claim_ttl_minutes",
            "source_identity.template_vars.source_name.transform", "graph_patches[0].match.equals",
            "discovery.prepare_metadata.signature.exclude_fields[0]",
        ])
    }

    @Test("findings keep beampipe's codes for compatible reports")
    func beampipeCodes() {
        let yaml = editing(editing(surveyProjectYAML, "batch_size: 10", "batch_size: 0"), "transform: tidy", "transform: nope")
        let findings = diagnoseProject(yaml).findings
        #expect(findings.map(\.beampipeCode) == ["invalid_limit", "unknown_transform"])
    }

    @Test("what beampipe does not validate stays accepted", arguments: [
        ("graph:\n  path: graphs/hires.graph", "graph:\n  path: graphs/hires.graph\n  # no URL syntax check either"),
        ("hooks: [prepare_metadata, manifest]", "hooks: [manifest, manifest]"),
        ("note: literal", "note: \"$count()\""),
        ("note: literal", "note: 42"),
        ("archive_name: casda", "archive_name: \"\""),
        ("wasm_sha256: \"0000\"", "wasm_sha256: not-a-hash"),
        ("pick_eval: {kind: select_eval_file_by_size}", "pick_eval: {kind: select_eval_file_by_size, pattern: ignored}"),
        ("tidy: {kind: chain, steps: [trim, lowercase]}", "tidy: {kind: chain, steps: [tidy]}"),
    ])
    func notValidated(old: String, new: String) {
        let result = diagnoseProject(editing(surveyProjectYAML, old, new))
        #expect(result.diagnostics.errors.isEmpty, "\(result.diagnostics.map(\.description))")
    }
}
