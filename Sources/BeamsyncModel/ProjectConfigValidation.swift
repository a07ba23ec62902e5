// beampipe 0.1.6's `validate_report_against` rules, in its emission order, with its paths and
// messages. The JSON-Schema step is omitted: it re-checks beampipe's own serialisation
// of the typed struct and cannot fail.

enum ProjectV2Validator {
    typealias Config = ProjectConfig

    static func validate(_ c: Config.V2, map: ProjectSourceMap) -> [ProjectConfigFinding] {
        var f = ProjectFindingList(map: map)
        header(c, &f)
        adapters(c.adapters, &f)
        automation(c.automation, &f)
        if c.outputVerification.inventorySchema != Config.wallabyOutputInventorySchema {
            f.error("unsupported_output_inventory_schema", .invalidValue, path: "output_verification.inventory_schema",
                    "output_verification.inventory_schema must be \(Config.wallabyOutputInventorySchema)",
                    hint: "write `inventory_schema: \(Config.wallabyOutputInventorySchema)` or delete the line; it is the only schema beampipe knows")
        }
        if let g = c.graph { graph(g, &f) }
        queries(c.discovery.queries, kind: "queries", &f)
        queries(c.discovery.enrichments, kind: "enrichments", &f)
        if let s = c.sourceIdentity { sourceIdentity(s, &f) }
        if let e = c.extension { hooks(e, &f) }
        ProjectTransformRefs.validate(c, &f)
        graphPatches(c.graphPatches, &f)
        if let signature = c.discovery.prepareMetadata?.signature {
            for (i, field) in signature.excludeFields.enumerated() where ProjectText.isBlank(field) {
                f.error("required", .invalidValue, path: "discovery.prepare_metadata.signature.exclude_fields[\(i)]",
                        "signature exclude fields must be non-empty", hint: "name a prepared-metadata field, or remove the entry")
            }
        }
        return f.items
    }

    static func header(_ c: Config.V2, _ f: inout ProjectFindingList) {
        if c.apiVersion != Config.APIVersion.v2.rawValue {
            // Only v2 documents reach this validator (v1 has its own), so this is an unknown version.
            f.error("legacy_api_version", .legacyAPIVersion, path: "apiVersion", parent: "",
                    "apiVersion must be beampipe.dev/v2; '\(DisplayText.value(c.apiVersion))' is not a supported version",
                    hint: "beamsync reads beampipe.dev/v2 (beampipe 0.1.6) and the legacy beampipe.dev/v1; write `apiVersion: beampipe.dev/v2`")
        }
        if c.kind != "ProjectConfig" {
            f.error("invalid_kind", .kindMismatch, path: "kind", parent: "", "kind must be ProjectConfig", hint: "write `kind: ProjectConfig`")
        }
        if ProjectText.isBlank(c.metadata.id) {
            f.error("required", .invalidValue, path: "metadata.id", parent: "metadata", "metadata.id is required",
                    hint: "give the project id (the project_module that profiles and executions name), e.g. `id: wallaby_hires`")
        }
    }

    static func adapters(_ a: Config.Adapters, _ f: inout ProjectFindingList) {
        if a.required.isEmpty {
            f.error("required", .invalidValue, path: "adapters.required", parent: "adapters",
                    "adapters.required must include at least one adapter",
                    hint: "list the archive adapters the project uses, e.g. `required: [casda]`")
        }
        for (i, name) in a.required.enumerated() where ProjectText.isBlank(name) {
            f.error("required", .invalidValue, path: "adapters.required[\(i)]", "adapter identifiers must be non-empty",
                    hint: "name an adapter such as casda, or remove the entry")
        }
        if a.tap.timeoutSeconds == 0 {
            f.error("invalid_limit", .outOfRange, path: "adapters.tap.timeout_seconds", "adapters.tap.timeout_seconds must be > 0",
                    hint: "use a positive number of seconds, e.g. 30 (the default)")
        }
    }

    static func positive(_ value: Int64?, _ path: String, whenSet: Bool, _ f: inout ProjectFindingList) {
        guard let value, value <= 0 else { return }
        f.error("invalid_limit", .outOfRange, path: path, "\(path) must be > 0\(whenSet ? " when set" : "") (found \(value))",
                hint: whenSet ? "use a positive number, or delete the line for no limit" : "use a positive number")
    }

    static func automation(_ a: Config.Automation, _ f: inout ProjectFindingList) {
        if let d = a.discovery {
            let p = "automation.discovery."
            positive(d.batchSize, p + "batch_size", whenSet: false, &f)
            positive(d.tickDiscoverySourceLimit, p + "tick_discovery_source_limit", whenSet: false, &f)
            positive(Int64(d.staleAfterHours), p + "stale_after_hours", whenSet: false, &f)
            positive(d.claimTTLMinutes, p + "claim_ttl_minutes", whenSet: false, &f)
            positive(d.queueMaxDepth, p + "queue_max_depth", whenSet: true, &f)
            positive(d.tickDiscoveryBatchLimit, p + "tick_discovery_batch_limit", whenSet: true, &f)
            positive(d.concurrentDiscoveryBatchLimit, p + "concurrent_discovery_batch_limit", whenSet: true, &f)
        }
        if let e = a.execution {
            let p = "automation.execution."
            positive(e.maxSourcesPerExecution, p + "max_sources_per_execution", whenSet: false, &f)
            positive(e.tickExecutionRunLimit, p + "tick_execution_run_limit", whenSet: false, &f)
            positive(e.tickExecutionSourceLimit, p + "tick_execution_source_limit", whenSet: false, &f)
            positive(e.minSourcesToTrigger, p + "min_sources_to_trigger", whenSet: false, &f)
            positive(e.maxWaitMinutes, p + "max_wait_minutes", whenSet: false, &f)
            positive(e.claimTTLMinutes, p + "claim_ttl_minutes", whenSet: false, &f)
            positive(e.concurrentExecutionRunLimit, p + "concurrent_execution_run_limit", whenSet: true, &f)
            positive(e.executionSlurmRemotePollMaxRounds, p + "execution_slurm_remote_poll_max_rounds", whenSet: true, &f)
            positive(e.executionRestRemotePollMaxRounds, p + "execution_rest_remote_poll_max_rounds", whenSet: true, &f)
            for (value, key) in [(e.executionRestRemotePollIntervalSeconds, "execution_rest_remote_poll_interval_seconds"),
                                 (e.executionSlurmRemotePollIntervalSeconds, "execution_slurm_remote_poll_interval_seconds")] {
                if let v = value, !v.isFinite || v <= 0 {
                    f.error("invalid_limit", .outOfRange, path: p + key, "\(p + key) must be finite and > 0 when set (found \(RyuFormat.string(v)))",
                            hint: "use a positive number of seconds, or delete the line for the default")
                }
            }
        }
    }

    static func graph(_ g: Config.Graph, _ f: inout ProjectFindingList) {
        if (g.url == nil ? 0 : 1) + (g.path == nil ? 0 : 1) != 1 {
            f.error("mutually_exclusive", .invalidValue, path: "graph", "graph must use exactly one of url or path",
                    hint: g.url == nil ? "add `path:` (a file in the beampipe host's BEAMPIPE_HOME) or `url:`" : "keep either `url:` or `path:`, not both")
        }
        if let url = g.url, ProjectText.isBlank(url) {
            f.error("required", .invalidValue, path: "graph.url", "graph.url must be non-empty when set", hint: "give the graph's URL, or remove the line")
        }
        if let path = g.path, ProjectText.isBlank(path) {
            f.error("required", .invalidValue, path: "graph.path", "graph.path must be non-empty when set", hint: "give the graph's path, or remove the line")
        }
        if let sha = g.sha256 {
            let ok = sha.utf8.count == 64 && sha.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }
            if !ok {
                f.error("invalid_sha256", .invalidValue, path: "graph.sha256", "graph.sha256 must contain exactly 64 hexadecimal characters",
                        hint: "paste the SHA-256 of the graph file (`sha256sum graph.json`); found \(sha.utf8.count) characters")
            }
        } else {
            f.error("required", .missingField, path: "graph.sha256", parent: "graph", "graph.sha256 is required to pin graph content",
                    hint: "add `sha256:` with the SHA-256 of the graph file (`sha256sum graph.json`)")
        }
    }

    static func queries(_ qs: [Config.DiscoveryQuery], kind: String, _ f: inout ProjectFindingList) {
        for (i, q) in qs.enumerated() {
            let base = "discovery.\(kind)[\(i)]"
            for (field, value) in [("name", q.name), ("adapter", q.adapter), ("template", q.template)] where ProjectText.isBlank(value) {
                f.error("required", .invalidValue, path: "\(base).\(field)", parent: base, "discovery \(kind) \(field) must be non-empty",
                        hint: field == "template" ? "write the ADQL query, e.g. `template: SELECT * FROM ivoa.obscore`" : "give the \(field)")
            }
        }
    }

    static func sourceIdentity(_ s: Config.SourceIdentity, _ f: inout ProjectFindingList) {
        if ProjectText.isBlank(s.canonical) {
            f.error("required", .invalidValue, path: "source_identity.canonical", "source_identity.canonical must be non-empty",
                    hint: "delete the line for the default (source_identifier), or name the canonical field")
        }
        for name in s.templateVars.keys.sorted(by: ProjectJSONWriter.utf8Less) where ProjectText.isBlank(name) {
            f.errorAtKey("required", .invalidValue, path: "source_identity.template_vars", keyPath: "source_identity.template_vars.\(name)",
                         "template variable names must be non-empty", hint: "give the variable a name")
        }
    }

    static func hooks(_ e: Config.Extension, _ f: inout ProjectFindingList) {
        for (i, hook) in e.hooks.enumerated() {
            guard case .unknown(let text) = hook else { continue }
            let suggestion = Suggest.closest(to: text, in: Config.ExtensionHook.allowed).map { "did you mean '\($0)'? " } ?? ""
            f.error("unknown_extension_hook", .invalidValue, path: "extension.hooks[\(i)]", "extension.hooks contains an unknown hook ('\(DisplayText.value(text))')",
                    hint: suggestion + "allowed hooks are prepare_metadata, manifest, and graph_patches")
        }
    }

    static func graphPatches(_ patches: [Config.GraphPatch], _ f: inout ProjectFindingList) {
        for (i, patch) in patches.enumerated() {
            let base = "graph_patches[\(i)]"
            if case .unknown(let text) = patch.match.kind {
                f.error("unknown_graph_patch_match_kind", .invalidValue, path: "\(base).match.kind", parent: "\(base).match",
                        "graph patch match kind is unknown\(text.isEmpty ? "" : " ('\(DisplayText.value(text))')")", hint: "allowed match kind is node_name")
            }
            if ProjectText.isBlank(patch.match.equals) {
                f.error("required", .invalidValue, path: "\(base).match.equals", parent: "\(base).match", "graph patch match equals must be non-empty",
                        hint: "give the node name to patch, e.g. `equals: Scatter/GenericScatterApp/Beam`")
            }
            if patch.set.isEmpty {
                f.error("required", .invalidValue, path: "\(base).set", parent: base, "graph patch set must include at least one field",
                        hint: "add `set:` with the node fields to change, e.g. `num_of_copies: 4`")
            }
            for key in patch.set.keys.sorted(by: ProjectJSONWriter.utf8Less) {
                if ProjectText.isBlank(key) {
                    f.errorAtKey("required", .invalidValue, path: "\(base).set", keyPath: "\(base).set.\(key)",
                                 "graph patch set field names must be non-empty", hint: "name the node field to set")
                }
                if case .string(let s) = patch.set[key]!, s.hasPrefix("$"),
                   !((s.hasPrefix("$count(") || s.hasPrefix("$sum(")) && s.hasSuffix(")")) {
                    f.error("invalid_expression", .invalidValue, path: "\(base).set.\(key)",
                            "graph patch expressions must use existing $count(...) or $sum(...) forms",
                            hint: "write `$count(sbids[].datasets[])` or `$sum(...)`; a value starting with `$` is otherwise not allowed")
                }
            }
        }
    }
}
