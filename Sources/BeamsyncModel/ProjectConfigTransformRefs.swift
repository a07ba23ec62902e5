// beampipe 0.1.6's `transforms::validate_transform_refs`: every
// transform name used anywhere must be defined under `definitions.transforms` (there are no
// built-in names at 0.1.6, not even `trim`), and each definition must have what its kind needs.

enum ProjectTransformRefs {
    typealias Config = ProjectConfig

    static func validate(_ c: Config.V2, _ f: inout ProjectFindingList) {
        let registry = Set(c.definitions?.transforms.keys.map { $0 } ?? [])
        func check(_ name: String, _ path: String, _ f: inout ProjectFindingList) {
            guard !registry.contains(name) else { return }
            f.error("unknown_transform", .unresolvedReference, path: path, "unknown transform '\(SecretPolicy.shown(name, at: path))'",
                    hint: unknownTransformHint(name, registry: registry))
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
            for (table, entries) in [("field_map", pm.fieldMap), ("discovery_flags", pm.discoveryFlags)] {
                for key in entries.keys.sorted(by: ProjectJSONWriter.utf8Less) {
                    let spec = entries[key]!
                    let base = "discovery.prepare_metadata.\(table).\(key)"
                    if ProjectText.isBlank(spec.from) {
                        f.error("required", .invalidValue, path: "\(base).from", parent: base, "\(table) entries require from",
                                hint: "name the discovery field to read, e.g. `from: filename`")
                    }
                    switch spec.transform {
                    case .none: break
                    case .name(let n)?: check(n, "\(base).transform", &f)
                    case .chain(let steps)?:
                        if steps.isEmpty {
                            f.error("empty_transform_chain", .invalidValue, path: "\(base).transform", "transform chain must include at least one step",
                                    hint: "list at least one transform name, or delete the `transform:` line")
                        }
                        for (j, step) in steps.enumerated() { check(step, "\(base).transform[\(j)]", &f) }
                    }
                }
            }
        }
        guard let transforms = c.definitions?.transforms else { return }
        for name in transforms.keys.sorted(by: ProjectJSONWriter.utf8Less) {
            let t = transforms[name]!
            let base = "definitions.transforms.\(name)"
            if case .unknown(let text) = t.kind {
                let suggestion = Suggest.closest(to: text, in: Config.TransformKind.knownNames).map { "did you mean '\($0)'? " } ?? ""
                f.error("unknown_transform_kind", .invalidValue, path: "\(base).kind", parent: base, "transform has an unknown kind ('\(SecretPolicy.shown(text, at: base))')",
                        hint: suggestion + "known kinds: " + Config.TransformKind.knownNames.joined(separator: ", "))
            }
            func requires(_ value: String?, _ field: String, _ message: String, _ f: inout ProjectFindingList) {
                if (value ?? "").isEmpty {
                    f.error("required", .invalidValue, path: "\(base).\(field)", parent: base, message, hint: "add `\(field):` to transform '\(name)'")
                }
            }
            switch t.kind {
            case .stripPrefix: requires(t.prefix, "prefix", "strip_prefix requires prefix", &f)
            case .addPrefix: requires(t.prefix, "prefix", "add_prefix requires prefix", &f)
            case .addSuffix: requires(t.suffix, "suffix", "add_suffix requires suffix", &f)
            case .replace: requires(t.from, "from", "replace requires from", &f)
            case .defaultIfEmpty: requires(t.default, "default", "default_if_empty requires default", &f)
            case .splitLast where (t.separators ?? []).isEmpty:
                f.error("required", .invalidValue, path: "\(base).separators", parent: base, "split_last requires at least one separator",
                        hint: "add `separators: [\"/\"]` to transform '\(name)'")
            default: break
            }
            for (k, separator) in (t.separators ?? []).enumerated() where separator.isEmpty {
                f.error("required", .invalidValue, path: "\(base).separators[\(k)]", "transform separators must be non-empty",
                        hint: "remove the empty separator")
            }
            if t.kind == .regexExtract { requires(t.pattern, "pattern", "regex_extract requires pattern", &f) }
            if t.kind == .chain {
                guard let steps = t.steps, !steps.isEmpty else {
                    f.error("required", .invalidValue, path: "\(base).steps", parent: base, "chain requires steps",
                            hint: "list the transforms to apply in order, e.g. `steps: [trim, lowercase]`")
                    continue
                }
                for (k, step) in steps.enumerated() { check(step, "\(base).steps[\(k)]", &f) }
            }
        }
    }

    static func unknownTransformHint(_ name: String, registry: Set<String>) -> String {
        if let s = Suggest.closest(to: name, in: Array(registry)) { return "did you mean '\(s)'?" }
        return "define it under definitions.transforms (beampipe 0.1.6 has no built-in transforms, not even trim)"
    }
}
