// Decoders for the sections whose shape is the same in v1 and v2 (the differences are handled by
// `ctx.dialect`). Each returns the section with serde's defaults filled in; a wrong value is
// reported and replaced by its default so that decoding can go on.

enum ProjectSectionDecoder {
    typealias Ctx = ProjectDecodeContext

    static func metadata(_ node: SourceNode?, path: String, ctx: inout Ctx) -> ProjectConfig.Metadata {
        var out = ProjectConfig.Metadata(id: "")
        guard let node, var r = ProjectStructReader(node, path: path, structName: "ProjectMetadata", fields: ["id", "description"], ctx: &ctx)
        else { return out }
        if let v = r.required("id", ctx: &ctx, expected: "my_project") {
            out.id = ctx.string(v, path: r.childPath("id"), rule: .line) ?? ""
            // project_configs.project_id is VARCHAR(80), which counts Unicode scalars.
            if out.id.utf8.count > 80, out.id.unicodeScalars.count > 80 {
                ctx.problem(.outOfRange, at: v, path: r.childPath("id"), "metadata.id is \(out.id.unicodeScalars.count) characters; at most 80 are stored",
                            hint: "use a shorter project id")
                out.id = ""
            }
        }
        out.description = ctx.optionalString(r.optional("description", ctx: &ctx), path: r.childPath("description"))
        r.finish(ctx: &ctx)
        return out
    }

    static func adapters(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.Adapters {
        var out = ProjectConfig.Adapters()
        guard var r = ProjectStructReader(node, path: path, structName: "AdapterConfig",
                                          fields: ["required", "casda_tap_url", "vizier_tap_url", "tap"], ctx: &ctx) else { return out }
        if let v = r.value("required", ctx: &ctx) { out.required = ctx.stringList(v, path: r.childPath("required"), rule: .line) ?? [] }
        out.casdaTapURL = ctx.optionalString(r.optional("casda_tap_url", ctx: &ctx), path: r.childPath("casda_tap_url"), rule: .line)
        out.vizierTapURL = ctx.optionalString(r.optional("vizier_tap_url", ctx: &ctx), path: r.childPath("vizier_tap_url"), rule: .line)
        if let v = r.value("tap", ctx: &ctx) { out.tap = tap(v, path: r.childPath("tap"), ctx: &ctx) }
        r.finish(ctx: &ctx)
        return out
    }

    static func tap(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.Tap {
        var out = ProjectConfig.Tap()
        guard var r = ProjectStructReader(node, path: path, structName: "TapConfig",
                                          fields: ["timeout_seconds", "retries", "fail_open"], ctx: &ctx) else { return out }
        if let v = r.value("timeout_seconds", ctx: &ctx), let n = ctx.u64(v, path: r.childPath("timeout_seconds")) { out.timeoutSeconds = n }
        if let v = r.value("retries", ctx: &ctx), let n = ctx.u32(v, path: r.childPath("retries")) { out.retries = n }
        if let v = r.value("fail_open", ctx: &ctx), let b = ctx.bool(v, path: r.childPath("fail_open")) { out.failOpen = b }
        r.finish(ctx: &ctx)
        return out
    }

    static func graph(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.Graph {
        var out = ProjectConfig.Graph()
        // v1 has no sha256 member.
        let fields = ctx.dialect == .v2 ? ["url", "path", "sha256"] : ["url", "path"]
        guard var r = ProjectStructReader(node, path: path, structName: "GraphConfig", fields: fields, ctx: &ctx) else { return out }
        out.url = ctx.optionalString(r.optional("url", ctx: &ctx), path: r.childPath("url"), rule: .line)
        out.path = ctx.optionalString(r.optional("path", ctx: &ctx), path: r.childPath("path"), rule: .line)
        if ctx.dialect == .v2 {
            out.sha256 = ctx.optionalString(r.optional("sha256", ctx: &ctx), path: r.childPath("sha256"), rule: .line)
        }
        r.finish(ctx: &ctx)
        return out
    }

    static func query(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.DiscoveryQuery? {
        guard var r = ProjectStructReader(node, path: path, structName: "DiscoveryQuery",
                                          fields: ["name", "adapter", "template", "source_id_transform"], ctx: &ctx) else { return nil }
        // A missing member is reported and left blank, which validation then ignores (same path).
        var q = ProjectConfig.DiscoveryQuery(name: "", adapter: "", template: "")
        if let v = r.required("name", ctx: &ctx, expected: "visibility") { q.name = ctx.string(v, path: r.childPath("name"), rule: .line) ?? "" }
        if let v = r.required("adapter", ctx: &ctx, expected: "casda") { q.adapter = ctx.string(v, path: r.childPath("adapter"), rule: .line) ?? "" }
        if let v = r.required("template", ctx: &ctx, expected: "SELECT ...") { q.template = ctx.string(v, path: r.childPath("template")) ?? "" }
        q.sourceIDTransform = ctx.optionalString(r.optional("source_id_transform", ctx: &ctx), path: r.childPath("source_id_transform"), rule: .line)
        r.finish(ctx: &ctx)
        return q
    }

    static func queries(_ node: SourceNode?, path: String, ctx: inout Ctx) -> [ProjectConfig.DiscoveryQuery] {
        guard let node else { return [] }
        return ctx.sequence(node, path: path) { ctx, item, p in query(item, path: p, ctx: &ctx) } ?? []
    }

    static func signature(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.Signature {
        var out = ProjectConfig.Signature()
        // beampipe's SignatureConfig has no deny_unknown_fields and drops unknown keys silently;
        // beamsync reports them like everywhere else rather than lose them without a word.
        guard var r = ProjectStructReader(node, path: path, structName: "SignatureConfig",
                                          fields: ["exclude_fields", "include_discovery_flags"], ctx: &ctx) else { return out }
        if let v = r.value("exclude_fields", ctx: &ctx) { out.excludeFields = ctx.stringList(v, path: r.childPath("exclude_fields"), rule: .line) ?? [] }
        if let v = r.value("include_discovery_flags", ctx: &ctx), let b = ctx.bool(v, path: r.childPath("include_discovery_flags")) {
            out.includeDiscoveryFlags = b
        }
        r.finish(ctx: &ctx)
        return out
    }

    static func automation(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.Automation {
        var out = ProjectConfig.Automation()
        guard var r = ProjectStructReader(node, path: path, structName: "AutomationConfig", fields: ["execution", "discovery"], ctx: &ctx)
        else { return out }
        if let v = r.optional("execution", ctx: &ctx) { out.execution = executionAutomation(v, path: r.childPath("execution"), ctx: &ctx) }
        if let v = r.optional("discovery", ctx: &ctx) { out.discovery = discoveryAutomation(v, path: r.childPath("discovery"), ctx: &ctx) }
        r.finish(ctx: &ctx)
        return out
    }

    static let discoveryAutomationFields = [
        "enabled", "tick_discovery_source_limit", "batch_size", "stale_after_hours", "claim_ttl_minutes",
        "queue_max_depth", "tick_discovery_batch_limit", "concurrent_discovery_batch_limit",
    ]

    static func discoveryAutomation(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.DiscoveryAutomation {
        var d = ProjectConfig.DiscoveryAutomation()
        guard var r = ProjectStructReader(node, path: path, structName: "DiscoveryAutomationConfig",
                                          fields: discoveryAutomationFields, ctx: &ctx) else { return d }
        func i64(_ key: String, _ ctx: inout Ctx, _ r: inout ProjectStructReader) -> Int64? {
            r.value(key, ctx: &ctx).flatMap { ctx.i64($0, path: r.childPath(key)) }
        }
        if let v = r.value("enabled", ctx: &ctx), let b = ctx.bool(v, path: r.childPath("enabled")) { d.enabled = b }
        if let n = i64("tick_discovery_source_limit", &ctx, &r) { d.tickDiscoverySourceLimit = n }
        if let n = i64("batch_size", &ctx, &r) { d.batchSize = n }
        if let v = r.value("stale_after_hours", ctx: &ctx), let n = ctx.i32(v, path: r.childPath("stale_after_hours")) { d.staleAfterHours = n }
        if let n = i64("claim_ttl_minutes", &ctx, &r) { d.claimTTLMinutes = n }
        d.queueMaxDepth = ctx.optionalI64(r.optional("queue_max_depth", ctx: &ctx), path: r.childPath("queue_max_depth"))
        d.tickDiscoveryBatchLimit = ctx.optionalI64(r.optional("tick_discovery_batch_limit", ctx: &ctx), path: r.childPath("tick_discovery_batch_limit"))
        d.concurrentDiscoveryBatchLimit = ctx.optionalI64(r.optional("concurrent_discovery_batch_limit", ctx: &ctx),
                                                          path: r.childPath("concurrent_discovery_batch_limit"))
        r.finish(ctx: &ctx)
        return d
    }

    static let executionAutomationFields = [
        "enabled", "archive_name", "max_sources_per_execution", "tick_execution_source_limit", "tick_execution_run_limit",
        "min_sources_to_trigger", "max_wait_minutes", "claim_ttl_minutes", "concurrent_execution_run_limit",
        "deployment_profile_name", "execution_slurm_remote_poll_max_rounds", "execution_rest_remote_poll_max_rounds",
        "execution_rest_remote_poll_interval_seconds", "execution_slurm_remote_poll_interval_seconds",
    ]

    static func executionAutomation(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.ExecutionAutomation {
        var e = ProjectConfig.ExecutionAutomation()
        guard var r = ProjectStructReader(node, path: path, structName: "ExecutionAutomationConfig",
                                          fields: executionAutomationFields, ctx: &ctx) else { return e }
        func i64(_ key: String, _ ctx: inout Ctx, _ r: inout ProjectStructReader) -> Int64? {
            r.value(key, ctx: &ctx).flatMap { ctx.i64($0, path: r.childPath(key)) }
        }
        func optionalI64(_ key: String, _ ctx: inout Ctx, _ r: inout ProjectStructReader) -> Int64? {
            ctx.optionalI64(r.optional(key, ctx: &ctx), path: r.childPath(key))
        }
        func optionalF64(_ key: String, _ ctx: inout Ctx, _ r: inout ProjectStructReader) -> Double? {
            ctx.optionalF64(r.optional(key, ctx: &ctx), path: r.childPath(key),
                            rule: "\(r.childPath(key)) must be finite and > 0 when set")
        }
        if let v = r.value("enabled", ctx: &ctx), let b = ctx.bool(v, path: r.childPath("enabled")) { e.enabled = b }
        if let v = r.value("archive_name", ctx: &ctx), let s = ctx.string(v, path: r.childPath("archive_name"), rule: .line) { e.archiveName = s }
        if let n = i64("max_sources_per_execution", &ctx, &r) { e.maxSourcesPerExecution = n }
        if let n = i64("tick_execution_source_limit", &ctx, &r) { e.tickExecutionSourceLimit = n }
        if let n = i64("tick_execution_run_limit", &ctx, &r) { e.tickExecutionRunLimit = n }
        if let n = i64("min_sources_to_trigger", &ctx, &r) { e.minSourcesToTrigger = n }
        if let n = i64("max_wait_minutes", &ctx, &r) { e.maxWaitMinutes = n }
        if let n = i64("claim_ttl_minutes", &ctx, &r) { e.claimTTLMinutes = n }
        e.concurrentExecutionRunLimit = optionalI64("concurrent_execution_run_limit", &ctx, &r)
        e.deploymentProfileName = ctx.optionalString(r.optional("deployment_profile_name", ctx: &ctx), path: r.childPath("deployment_profile_name"), rule: .line)
        e.executionSlurmRemotePollMaxRounds = optionalI64("execution_slurm_remote_poll_max_rounds", &ctx, &r)
        e.executionRestRemotePollMaxRounds = optionalI64("execution_rest_remote_poll_max_rounds", &ctx, &r)
        e.executionRestRemotePollIntervalSeconds = optionalF64("execution_rest_remote_poll_interval_seconds", &ctx, &r)
        e.executionSlurmRemotePollIntervalSeconds = optionalF64("execution_slurm_remote_poll_interval_seconds", &ctx, &r)
        r.finish(ctx: &ctx)
        return e
    }

    /// v2's unit enums (`#[serde(other)]`): any string is accepted, anything else is a type error.
    static func enumText(_ node: SourceNode, path: String, ctx: inout Ctx) -> String? {
        ctx.map.record(path, node)
        if case .scalar(let s) = node, case .string(let t) = s.value { return t }
        if ctx.dialect == .v1 { return ctx.string(node, path: path) }
        ctx.typeError(node, path: path, expected: "string or map", hint: "write the name as text")
        return nil
    }

    static func `extension`(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.Extension {
        var out = ProjectConfig.Extension()
        guard var r = ProjectStructReader(node, path: path, structName: "ExtensionConfig", fields: ["wasm_sha256", "hooks"], ctx: &ctx)
        else { return out }
        out.wasmSHA256 = ctx.optionalString(r.optional("wasm_sha256", ctx: &ctx), path: r.childPath("wasm_sha256"), rule: .line)
        if let v = r.value("hooks", ctx: &ctx) {
            out.hooks = ctx.sequence(v, path: r.childPath("hooks")) { ctx, item, p in
                enumText(item, path: p, ctx: &ctx).map(ProjectConfig.ExtensionHook.init)
            } ?? []
        }
        r.finish(ctx: &ctx)
        return out
    }

    static let transformFields = ["kind", "prefix", "suffix", "separators", "pattern", "group", "from", "to", "default", "steps"]

    static func transformSpec(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.TransformSpec? {
        guard var r = ProjectStructReader(node, path: path, structName: "TransformSpec", fields: transformFields, ctx: &ctx) else { return nil }
        // A missing or wrong kind is reported and kept as unknown, so references to the name still resolve.
        var spec = ProjectConfig.TransformSpec(kind: .unknown(""))
        if let v = r.required("kind", ctx: &ctx, expected: "trim"), let text = enumText(v, path: r.childPath("kind"), ctx: &ctx) {
            spec.kind = ProjectConfig.TransformKind(text)
        }
        func text(_ key: String, _ ctx: inout Ctx, _ r: inout ProjectStructReader) -> String? {
            ctx.optionalString(r.optional(key, ctx: &ctx), path: r.childPath(key))
        }
        func list(_ key: String, _ ctx: inout Ctx, _ r: inout ProjectStructReader) -> [String]? {
            r.optional(key, ctx: &ctx).flatMap { ctx.stringList($0, path: r.childPath(key)) }
        }
        spec.prefix = text("prefix", &ctx, &r)
        spec.suffix = text("suffix", &ctx, &r)
        spec.separators = list("separators", &ctx, &r)
        spec.pattern = text("pattern", &ctx, &r)
        spec.group = r.optional("group", ctx: &ctx).flatMap { ctx.u32($0, path: r.childPath("group")) }
        spec.from = text("from", &ctx, &r)
        spec.to = text("to", &ctx, &r)
        spec.default = text("default", &ctx, &r)
        spec.steps = list("steps", &ctx, &r)
        r.finish(ctx: &ctx)
        return spec
    }

    static func definitions(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.Definitions {
        var out = ProjectConfig.Definitions()
        guard var r = ProjectStructReader(node, path: path, structName: "DefinitionsConfig", fields: ["transforms"], ctx: &ctx) else { return out }
        if let v = r.value("transforms", ctx: &ctx) {
            out.transforms = ctx.stringMap(v, path: r.childPath("transforms")) { ctx, value, p in transformSpec(value, path: p, ctx: &ctx) } ?? [:]
        }
        r.finish(ctx: &ctx)
        return out
    }

    static func sourceIdentity(_ node: SourceNode, path: String, ctx: inout Ctx) -> ProjectConfig.SourceIdentity {
        var out = ProjectConfig.SourceIdentity()
        guard var r = ProjectStructReader(node, path: path, structName: "SourceIdentityConfig", fields: ["canonical", "template_vars"], ctx: &ctx)
        else { return out }
        if let v = r.value("canonical", ctx: &ctx), let s = ctx.string(v, path: r.childPath("canonical"), rule: .line) { out.canonical = s }
        if let v = r.value("template_vars", ctx: &ctx) {
            out.templateVars = ctx.stringMap(v, path: r.childPath("template_vars")) { ctx, value, p in
                guard var t = ProjectStructReader(value, path: p, structName: "TemplateVarSpec", fields: ["from", "transform"], ctx: &ctx)
                else { return nil }
                let from = ctx.optionalString(t.optional("from", ctx: &ctx), path: t.childPath("from"), rule: .line)
                let transform = ctx.optionalString(t.optional("transform", ctx: &ctx), path: t.childPath("transform"), rule: .line)
                t.finish(ctx: &ctx)
                return ProjectConfig.TemplateVar(from: from, transform: transform)
            } ?? [:]
        }
        r.finish(ctx: &ctx)
        return out
    }
}
