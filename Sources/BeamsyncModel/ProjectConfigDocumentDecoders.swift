// The top level of each revision, and the sections whose shape differs between v1 and v2.

enum ProjectV2Decoder {
    typealias Ctx = ProjectDecodeContext
    typealias S = ProjectSectionDecoder

    static let topFields = [
        "apiVersion", "kind", "metadata", "adapters", "graph", "discovery", "manifest", "graph_patches",
        "output_verification", "automation", "extension", "definitions", "source_identity",
    ]

    /// Decodes with beampipe 0.1.6's types. `apiVersion` and `kind` were read by the caller.
    static func decode(_ r: inout ProjectStructReader, apiVersion: String, kind: String, ctx: inout Ctx) -> ProjectConfig.V2 {
        var c = ProjectConfig.V2(metadata: S.metadata(r.required("metadata", ctx: &ctx, expected: "{id: my_project}"), path: "metadata", ctx: &ctx))
        c.apiVersion = apiVersion
        c.kind = kind
        if let v = r.value("adapters", ctx: &ctx) { c.adapters = S.adapters(v, path: "adapters", ctx: &ctx) }
        if let v = r.optional("graph", ctx: &ctx) { c.graph = S.graph(v, path: "graph", ctx: &ctx) }
        if let v = r.value("discovery", ctx: &ctx) { c.discovery = discovery(v, path: "discovery", ctx: &ctx) }
        if let v = r.optional("manifest", ctx: &ctx) { c.manifest = manifest(v, path: "manifest", ctx: &ctx) }
        if let v = r.value("graph_patches", ctx: &ctx) {
            c.graphPatches = ctx.sequence(v, path: "graph_patches") { ctx, item, p in graphPatch(item, path: p, ctx: &ctx) } ?? []
        }
        if let v = r.value("output_verification", ctx: &ctx) { c.outputVerification = outputVerification(v, path: "output_verification", ctx: &ctx) }
        if let v = r.value("automation", ctx: &ctx) { c.automation = S.automation(v, path: "automation", ctx: &ctx) }
        if let v = r.optional("extension", ctx: &ctx) { c.extension = S.extension(v, path: "extension", ctx: &ctx) }
        if let v = r.optional("definitions", ctx: &ctx) { c.definitions = S.definitions(v, path: "definitions", ctx: &ctx) }
        if let v = r.optional("source_identity", ctx: &ctx) { c.sourceIdentity = S.sourceIdentity(v, path: "source_identity", ctx: &ctx) }
        return c
    }

    static func discovery(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.Discovery {
        var out = ProjectConfig.Discovery()
        guard var r = ProjectStructReader(node, path: path, structName: "DiscoveryConfig",
                                          fields: ["queries", "enrichments", "prepare_metadata"], ctx: &ctx) else { return out }
        out.queries = S.queries(r.value("queries", ctx: &ctx), path: r.childPath("queries"), ctx: &ctx)
        out.enrichments = S.queries(r.value("enrichments", ctx: &ctx), path: r.childPath("enrichments"), ctx: &ctx)
        if let v = r.optional("prepare_metadata", ctx: &ctx) { out.prepareMetadata = prepareMetadata(v, path: r.childPath("prepare_metadata"), ctx: &ctx) }
        r.finish(ctx: &ctx)
        return out
    }

    static func prepareMetadata(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.PrepareMetadata {
        var out = ProjectConfig.PrepareMetadata()
        guard var r = ProjectStructReader(node, path: path, structName: "PrepareMetadataConfig",
                                          fields: ["field_map", "discovery_flags", "signature"], ctx: &ctx) else { return out }
        if let v = r.value("field_map", ctx: &ctx) {
            out.fieldMap = ctx.stringMap(v, path: r.childPath("field_map")) { ctx, value, p in mappingSpec(value, path: p, ctx: &ctx) } ?? [:]
        }
        if let v = r.value("discovery_flags", ctx: &ctx) {
            out.discoveryFlags = ctx.stringMap(v, path: r.childPath("discovery_flags")) { ctx, value, p in mappingSpec(value, path: p, ctx: &ctx) } ?? [:]
        }
        if let v = r.optional("signature", ctx: &ctx) { out.signature = S.signature(v, path: r.childPath("signature"), ctx: &ctx) }
        r.finish(ctx: &ctx)
        return out
    }

    static func mappingSpec(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.MappingSpec? {
        guard var r = ProjectStructReader(node, path: path, structName: "MappingSpec", fields: ["from", "transform"], ctx: &ctx) else { return nil }
        var out = ProjectConfig.MappingSpec()
        if let v = r.value("from", ctx: &ctx), let s = ctx.string(v, path: r.childPath("from"), rule: .line) { out.from = s }
        if let v = r.optional("transform", ctx: &ctx) { out.transform = transformRef(v, path: r.childPath("transform"), ctx: &ctx) }
        r.finish(ctx: &ctx)
        return out
    }

    /// serde's untagged enum: a string, or a list of strings; anything else matches no variant.
    static func transformRef(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.TransformRef? {
        if case .scalar(let s) = node, case .string = s.value { return ctx.string(node, path: path, rule: .line).map { .name($0) } }
        if case .sequence(let seq) = node, seq.items.allSatisfy({ if case .scalar(let s) = $0, case .string = s.value { true } else { false } }) {
            return ctx.stringList(node, path: path, rule: .line).map { .chain($0) }
        }
        ctx.problem(.wrongType, at: node, path: path,
                    "data did not match any variant of untagged enum TransformRef (found \(ProjectDecodeContext.unexpected(node, path: path)))",
                    hint: "write one transform name (`transform: trim`) or a list of names (`transform: [trim, lowercase]`)")
        return nil
    }

    static func template(_ node: SourceNode, path: String, ctx: inout Ctx) -> [String: JSONValue]? {
        guard case .mapping = node else {
            ctx.typeError(node, path: path, expected: "a map", hint: "write the template as a mapping of `field: value` lines")
            return nil
        }
        return ctx.freeJSON(node, path: path).objectValue
    }

    static func manifest(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.Manifest {
        var out = ProjectConfig.Manifest()
        guard var r = ProjectStructReader(node, path: path, structName: "ManifestConfig",
                                          fields: ["group_by", "source_template", "dataset_template", "expand_from", "path"], ctx: &ctx)
        else { return out }
        if let v = r.value("group_by", ctx: &ctx) { out.groupBy = ctx.stringList(v, path: r.childPath("group_by"), rule: .line) ?? [] }
        if let v = r.value("source_template", ctx: &ctx) { out.sourceTemplate = template(v, path: r.childPath("source_template"), ctx: &ctx) ?? [:] }
        if let v = r.optional("dataset_template", ctx: &ctx) { out.datasetTemplate = template(v, path: r.childPath("dataset_template"), ctx: &ctx) }
        out.expandFrom = ctx.optionalString(r.optional("expand_from", ctx: &ctx), path: r.childPath("expand_from"), rule: .line)
        if let v = r.value("path", ctx: &ctx), let s = ctx.string(v, path: r.childPath("path"), rule: .line) { out.path = s }
        r.finish(ctx: &ctx)
        return out
    }

    static func graphPatch(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.GraphPatch? {
        guard var r = ProjectStructReader(node, path: path, structName: "GraphPatch", fields: ["match", "set"], ctx: &ctx) else { return nil }
        var out = ProjectConfig.GraphPatch()
        if let v = r.value("match", ctx: &ctx),
           var m = ProjectStructReader(v, path: r.childPath("match"), structName: "GraphPatchMatch", fields: ["kind", "equals"], ctx: &ctx) {
            if let k = m.value("kind", ctx: &ctx), let text = S.enumText(k, path: m.childPath("kind"), ctx: &ctx) {
                out.match.kind = ProjectConfig.GraphPatchMatchKind(text)
            }
            if let e = m.value("equals", ctx: &ctx), let s = ctx.string(e, path: m.childPath("equals")) { out.match.equals = s }
            m.finish(ctx: &ctx)
        }
        if let v = r.value("set", ctx: &ctx) {
            out.set = ctx.stringMap(v, path: r.childPath("set")) { ctx, value, p in ctx.freeJSON(value, path: p) } ?? [:]
        }
        r.finish(ctx: &ctx)
        return out
    }

    static func outputVerification(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.OutputVerification {
        var out = ProjectConfig.OutputVerification()
        guard var r = ProjectStructReader(node, path: path, structName: "OutputVerificationConfig",
                                          fields: ["required", "inventory_schema"], ctx: &ctx) else { return out }
        if let v = r.value("required", ctx: &ctx), let b = ctx.bool(v, path: r.childPath("required")) { out.required = b }
        if let v = r.value("inventory_schema", ctx: &ctx), let s = ctx.string(v, path: r.childPath("inventory_schema"), rule: .line) { out.inventorySchema = s }
        r.finish(ctx: &ctx)
        return out
    }
}

enum ProjectV1Decoder {
    typealias Ctx = ProjectDecodeContext
    typealias S = ProjectSectionDecoder

    static let topFields = [
        "apiVersion", "kind", "metadata", "adapters", "graph", "discovery", "manifest", "graph_patches",
        "automation", "extension", "definitions", "source_identity",
    ]

    /// Decodes with beampipe 0.1.0's types.
    static func decode(_ r: inout ProjectStructReader, apiVersion: String, kind: String, ctx: inout Ctx) -> ProjectConfig.V1 {
        var c = ProjectConfig.V1(metadata: S.metadata(r.required("metadata", ctx: &ctx, expected: "{id: my_project}"), path: "metadata", ctx: &ctx))
        c.apiVersion = apiVersion
        c.kind = kind
        if let v = r.value("adapters", ctx: &ctx) { c.adapters = S.adapters(v, path: "adapters", ctx: &ctx) }
        if let v = r.optional("graph", ctx: &ctx) { c.graph = S.graph(v, path: "graph", ctx: &ctx) }
        if let v = r.value("discovery", ctx: &ctx) { c.discovery = discovery(v, path: "discovery", ctx: &ctx) }
        if let v = r.optional("manifest", ctx: &ctx) { c.manifest = manifest(v, path: "manifest", ctx: &ctx) }
        if let v = r.value("graph_patches", ctx: &ctx) {
            c.graphPatches = ctx.sequence(v, path: "graph_patches") { ctx, item, p in graphPatch(item, path: p, ctx: &ctx) } ?? []
        }
        if let v = r.value("automation", ctx: &ctx) { c.automation = S.automation(v, path: "automation", ctx: &ctx) }
        if let v = r.optional("extension", ctx: &ctx) { c.extension = S.extension(v, path: "extension", ctx: &ctx) }
        if let v = r.optional("definitions", ctx: &ctx) { c.definitions = S.definitions(v, path: "definitions", ctx: &ctx) }
        if let v = r.optional("source_identity", ctx: &ctx) { c.sourceIdentity = S.sourceIdentity(v, path: "source_identity", ctx: &ctx) }
        return c
    }

    static func discovery(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.V1.Discovery {
        var out = ProjectConfig.V1.Discovery()
        guard var r = ProjectStructReader(node, path: path, structName: "DiscoveryConfig",
                                          fields: ["queries", "enrichments", "prepare_metadata"], ctx: &ctx) else { return out }
        out.queries = S.queries(r.value("queries", ctx: &ctx), path: r.childPath("queries"), ctx: &ctx)
        out.enrichments = S.queries(r.value("enrichments", ctx: &ctx), path: r.childPath("enrichments"), ctx: &ctx)
        if let v = r.optional("prepare_metadata", ctx: &ctx) {
            let p = r.childPath("prepare_metadata")
            if var m = ProjectStructReader(v, path: p, structName: "PrepareMetadataConfig",
                                           fields: ["field_map", "discovery_flags", "signature"], ctx: &ctx) {
                var pm = ProjectConfig.V1.PrepareMetadata()
                if let f = m.value("field_map", ctx: &ctx) { pm.fieldMap = ctx.freeJSON(f, path: m.childPath("field_map")) }
                if let f = m.value("discovery_flags", ctx: &ctx) { pm.discoveryFlags = ctx.freeJSON(f, path: m.childPath("discovery_flags")) }
                if let s = m.optional("signature", ctx: &ctx) { pm.signature = S.signature(s, path: m.childPath("signature"), ctx: &ctx) }
                m.finish(ctx: &ctx)
                out.prepareMetadata = pm
            }
        }
        r.finish(ctx: &ctx)
        return out
    }

    static func manifest(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.V1.Manifest {
        var out = ProjectConfig.V1.Manifest()
        guard var r = ProjectStructReader(node, path: path, structName: "ManifestConfig",
                                          fields: ["group_by", "source_template", "dataset_template", "expand_from", "path"], ctx: &ctx)
        else { return out }
        if let v = r.value("group_by", ctx: &ctx) { out.groupBy = ctx.stringList(v, path: r.childPath("group_by"), rule: .line) ?? [] }
        if let v = r.value("source_template", ctx: &ctx) { out.sourceTemplate = ctx.freeJSON(v, path: r.childPath("source_template")) }
        if let v = r.optional("dataset_template", ctx: &ctx) { out.datasetTemplate = ctx.freeJSON(v, path: r.childPath("dataset_template")) }
        out.expandFrom = ctx.optionalString(r.optional("expand_from", ctx: &ctx), path: r.childPath("expand_from"), rule: .line)
        if let v = r.value("path", ctx: &ctx), let s = ctx.string(v, path: r.childPath("path"), rule: .line) { out.path = s }
        r.finish(ctx: &ctx)
        return out
    }

    static func graphPatch(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.V1.GraphPatch? {
        guard var r = ProjectStructReader(node, path: path, structName: "GraphPatch", fields: ["match", "set"], ctx: &ctx) else { return nil }
        let match = r.required("match", ctx: &ctx, expected: "{kind: node_name, equals: ...}").map { ctx.freeJSON($0, path: r.childPath("match")) }
        let set = r.required("set", ctx: &ctx, expected: "{field: value}").map { ctx.freeJSON($0, path: r.childPath("set")) }
        r.finish(ctx: &ctx)
        guard let match, let set else { return nil }
        return ProjectConfig.V1.GraphPatch(match: match, set: set)
    }
}
