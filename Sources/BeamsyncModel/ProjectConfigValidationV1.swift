// beampipe 0.1.0's `validate_report` for legacy v1 documents, in its order and with its
// verbatim messages. 0.1.0 reported plain strings; each finding also carries the path the string
// names and the code of the equivalent 0.1.6 rule.

enum ProjectV1Validator {
    typealias Config = ProjectConfig

    /// The transform names 0.1.0 knew without a definition (definitions win on a clash).
    static let legacyAliases: Set<String> = [
        "strip_hipass_prefix", "extract_askap_sbid", "extract_scan_id", "is_present", "select_eval_file_by_size", "identity",
    ]

    static func validate(_ c: Config.V1, map: ProjectSourceMap) -> [ProjectConfigFinding] {
        var f = ProjectFindingList(map: map)
        if c.kind != "ProjectConfig" {
            f.error("invalid_kind", .kindMismatch, path: "kind", parent: "", "kind must be ProjectConfig", hint: "write `kind: ProjectConfig`")
        }
        if ProjectText.isBlank(c.metadata.id) {
            f.error("required", .invalidValue, path: "metadata.id", parent: "metadata", "metadata.id is required",
                    hint: "give the project id (the project_module that profiles and executions name)")
        }
        if c.adapters.required.isEmpty {
            f.error("required", .invalidValue, path: "adapters.required", parent: "adapters", "adapters.required must include at least one adapter",
                    hint: "list the archive adapters the project uses, e.g. `required: [casda]`")
        }
        if c.adapters.tap.timeoutSeconds == 0 {
            f.error("invalid_limit", .outOfRange, path: "adapters.tap.timeout_seconds", "adapters.tap.timeout_seconds must be > 0",
                    hint: "use a positive number of seconds, e.g. 30 (the default)")
        }
        if let d = c.automation.discovery {
            ProjectV2Validator.positive(d.batchSize, "automation.discovery.batch_size", whenSet: false, &f)
            ProjectV2Validator.positive(d.tickDiscoverySourceLimit, "automation.discovery.tick_discovery_source_limit", whenSet: false, &f)
        }
        if let e = c.automation.execution {
            ProjectV2Validator.positive(e.maxSourcesPerExecution, "automation.execution.max_sources_per_execution", whenSet: false, &f)
            ProjectV2Validator.positive(e.tickExecutionRunLimit, "automation.execution.tick_execution_run_limit", whenSet: false, &f)
        }
        if let g = c.graph, g.url != nil, g.path != nil {
            f.error("mutually_exclusive", .invalidValue, path: "graph", "graph must use only one of url or path", hint: "keep either `url:` or `path:`")
        }
        for (i, hook) in (c.extension?.hooks ?? []).enumerated() {
            guard case .unknown(let text) = hook else { continue }
            f.error("unknown_extension_hook", .invalidValue, path: "extension.hooks[\(i)]",
                    "extension.hooks contains unknown hook '\(DisplayText.value(text))'; allowed: [\"prepare_metadata\", \"manifest\", \"graph_patches\"]",
                    hint: Suggest.closest(to: text, in: Config.ExtensionHook.allowed).map { "did you mean '\($0)'?" } ?? "use one of the allowed hooks")
        }
        transformRefs(c, &f)
        for (i, field) in (c.discovery.prepareMetadata?.signature?.excludeFields ?? []).enumerated() where ProjectText.isBlank(field) {
            let path = "discovery.prepare_metadata.signature.exclude_fields[\(i)]"
            f.error("required", .invalidValue, path: path, "\(path) must be non-empty", hint: "name a prepared-metadata field, or remove the entry")
        }
        return f.items
    }

    static func transformRefs(_ c: Config.V1, _ f: inout ProjectFindingList) {
        let defined = Set(c.definitions?.transforms.keys.map { $0 } ?? [])
        let registry = defined.union(legacyAliases)
        func check(_ name: String, _ path: String, _ f: inout ProjectFindingList) {
            guard !registry.contains(name) else { return }
            f.error("unknown_transform", .unresolvedReference, path: path, "unknown transform '\(SecretPolicy.shown(name, at: path))' at \(path)",
                    hint: Suggest.closest(to: name, in: Array(registry)).map { "did you mean '\($0)'?" } ?? "define it under definitions.transforms")
        }
        if let vars = c.sourceIdentity?.templateVars {
            for name in vars.keys.sorted(by: ProjectJSONWriter.utf8Less) {
                if let t = vars[name]!.transform { check(t, "source_identity.template_vars.\(name).transform", &f) }
            }
        }
        for (i, q) in c.discovery.queries.enumerated() {
            if let t = q.sourceIDTransform { check(t, "discovery.queries[\(i)].source_id_transform", &f) }
        }
        if let pm = c.discovery.prepareMetadata {
            // Free JSON at 0.1.0: only objects are looked at, and only their `transform` member.
            for (table, value) in [("field_map", pm.fieldMap), ("discovery_flags", pm.discoveryFlags)] {
                guard let entries = value.objectValue else { continue }
                for key in entries.keys.sorted(by: ProjectJSONWriter.utf8Less) {
                    let base = "discovery.prepare_metadata.\(table).\(key).transform"
                    switch entries[key]!["transform"] {
                    case .string(let n)?: check(n, base, &f)
                    case .array(let items)?:
                        for (j, item) in items.enumerated() {
                            if case .string(let n) = item { check(n, "\(base)[\(j)]", &f); continue }
                            f.error("invalid_value", .wrongType, path: "\(base)[\(j)]", "\(base)[\(j)] must be a transform name string",
                                    hint: "write the transform's name as text")
                        }
                    default: break
                    }
                }
            }
        }
        guard let transforms = c.definitions?.transforms else { return }
        for name in transforms.keys.sorted(by: ProjectJSONWriter.utf8Less) {
            let t = transforms[name]!
            let base = "definitions.transforms.\(name)"
            if case .unknown(let text) = t.kind {
                f.error("unknown_transform_kind", .invalidValue, path: "\(base).kind", parent: base, "\(base) has unknown kind '\(SecretPolicy.shown(text, at: base))'",
                        hint: (Suggest.closest(to: text, in: Config.TransformKind.knownNames).map { "did you mean '\($0)'? " } ?? "")
                            + "known kinds: " + Config.TransformKind.knownNames.joined(separator: ", "))
            }
            func requires(_ value: String?, _ field: String, _ f: inout ProjectFindingList) {
                if (value ?? "").isEmpty {
                    f.error("required", .invalidValue, path: "\(base).\(field)", parent: base, "\(base) \(t.kind.text) requires \(field)",
                            hint: "add `\(field):` to transform '\(name)'")
                }
            }
            switch t.kind {
            case .stripPrefix, .addPrefix: requires(t.prefix, "prefix", &f)
            case .addSuffix: requires(t.suffix, "suffix", &f)
            case .replace: requires(t.from, "from", &f)
            case .regexExtract: requires(t.pattern, "pattern", &f)
            case .chain:
                guard let steps = t.steps, !steps.isEmpty else {
                    f.error("required", .invalidValue, path: "\(base).steps", parent: base, "\(base) chain requires steps",
                            hint: "list the transforms to apply in order")
                    continue
                }
                for (k, step) in steps.enumerated() { check(step, "\(base).steps[\(k)]", &f) }
            default: break
            }
        }
    }
}
