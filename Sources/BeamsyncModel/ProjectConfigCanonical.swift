// serde serialisation of each section, member by member in beampipe's declaration order, with
// its `skip_serializing_if` rules. Keep in step with ProjectConfigTypes.swift.

extension ProjectConfig.V2 {
    /// The exact bytes beampipe 0.1.6 hashes for `spec_sha256`.
    public var canonicalJSONBytes: [UInt8] {
        var w = ProjectJSONWriter(dialect: .v2)
        w.object { w in
            w.key("apiVersion"); w.string(apiVersion)
            w.key("kind"); w.string(kind)
            w.key("metadata"); metadata.write(&w)
            w.key("adapters"); adapters.write(&w)
            if let graph { w.key("graph"); graph.write(&w) }
            w.key("discovery"); discovery.write(&w)
            if let manifest { w.key("manifest"); manifest.write(&w) }
            w.key("graph_patches"); w.array(graphPatches) { w, p in p.write(&w) }
            w.key("output_verification"); outputVerification.write(&w)
            w.key("automation"); automation.write(&w)
            if let `extension` { w.key("extension"); `extension`.write(&w) }
            if let definitions { w.key("definitions"); definitions.write(&w) }
            if let sourceIdentity { w.key("source_identity"); sourceIdentity.write(&w) }
        }
        return w.bytes
    }
}

extension ProjectConfig.V1 {
    /// The exact bytes beampipe 0.1.0 hashed for `spec_sha256` (no output_verification).
    public var canonicalJSONBytes: [UInt8] {
        var w = ProjectJSONWriter(dialect: .v1)
        w.object { w in
            w.key("apiVersion"); w.string(apiVersion)
            w.key("kind"); w.string(kind)
            w.key("metadata"); metadata.write(&w)
            w.key("adapters"); adapters.write(&w)
            if let graph { w.key("graph"); graph.write(&w) }
            w.key("discovery"); discovery.write(&w)
            if let manifest { w.key("manifest"); manifest.write(&w) }
            w.key("graph_patches"); w.array(graphPatches) { w, p in p.write(&w) }
            w.key("automation"); automation.write(&w)
            if let `extension` { w.key("extension"); `extension`.write(&w) }
            if let definitions { w.key("definitions"); definitions.write(&w) }
            if let sourceIdentity { w.key("source_identity"); sourceIdentity.write(&w) }
        }
        return w.bytes
    }
}

extension ProjectJSONWriter {
    /// `skip_serializing_if = "Option::is_none"` for a string member.
    mutating func optional(_ key: String, _ value: String?) {
        if let value { self.key(key); string(value) }
    }

    mutating func optional<I: BinaryInteger>(_ key: String, _ value: I?) {
        if let value { self.key(key); int(value) }
    }

    mutating func optional(_ key: String, _ value: Double?) {
        if let value { self.key(key); double(value) }
    }
}

extension ProjectConfig.Metadata {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("id"); w.string(id)
            w.optional("description", description)
        }
    }
}

extension ProjectConfig.Adapters {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("required"); w.strings(required)
            w.optional("casda_tap_url", casdaTapURL)
            w.optional("vizier_tap_url", vizierTapURL)
            w.key("tap")
            w.object { w in
                w.key("timeout_seconds"); w.int(tap.timeoutSeconds)
                w.key("retries"); w.int(tap.retries)
                w.key("fail_open"); w.bool(tap.failOpen)
            }
        }
    }
}

extension ProjectConfig.Graph {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.optional("url", url)
            w.optional("path", path)
            w.optional("sha256", sha256)
        }
    }
}

extension ProjectConfig.DiscoveryQuery {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("name"); w.string(name)
            w.key("adapter"); w.string(adapter)
            w.key("template"); w.string(template)
            w.optional("source_id_transform", sourceIDTransform)
        }
    }
}

extension ProjectConfig.TransformRef {
    func write(_ w: inout ProjectJSONWriter) {
        switch self {
        case .name(let n): w.string(n)
        case .chain(let steps): w.strings(steps)
        }
    }
}

extension ProjectConfig.MappingSpec {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("from"); w.string(from)
            if let transform { w.key("transform"); transform.write(&w) }
        }
    }
}

extension ProjectConfig.Signature {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            if !excludeFields.isEmpty { w.key("exclude_fields"); w.strings(excludeFields) }
            w.key("include_discovery_flags"); w.bool(includeDiscoveryFlags)
        }
    }
}

extension ProjectConfig.PrepareMetadata {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("field_map"); w.sortedMap(fieldMap) { w, m in m.write(&w) }
            w.key("discovery_flags"); w.sortedMap(discoveryFlags) { w, m in m.write(&w) }
            if let signature { w.key("signature"); signature.write(&w) }
        }
    }
}

extension ProjectConfig.Discovery {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("queries"); w.array(queries) { w, q in q.write(&w) }
            w.key("enrichments"); w.array(enrichments) { w, q in q.write(&w) }
            if let prepareMetadata { w.key("prepare_metadata"); prepareMetadata.write(&w) }
        }
    }
}

extension ProjectConfig.Manifest {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("group_by"); w.strings(groupBy)
            w.key("source_template"); w.sortedMap(sourceTemplate) { w, v in w.json(v) }
            if let datasetTemplate { w.key("dataset_template"); w.sortedMap(datasetTemplate) { w, v in w.json(v) } }
            w.optional("expand_from", expandFrom)
            w.key("path"); w.string(path)
        }
    }
}

extension ProjectConfig.GraphPatch {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("match")
            w.object { w in
                switch match.kind {
                case .nodeName: w.key("kind"); w.string("node_name")
                case .unknown: w.key("kind"); w.string("unknown")
                }
                w.key("equals"); w.string(match.equals)
            }
            w.key("set"); w.sortedMap(set) { w, v in w.json(v) }
        }
    }
}

extension ProjectConfig.OutputVerification {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("required"); w.bool(required)
            w.key("inventory_schema"); w.string(inventorySchema)
        }
    }
}

extension ProjectConfig.Automation {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            if let e = execution {
                w.key("execution")
                w.object { w in
                    w.key("enabled"); w.bool(e.enabled)
                    w.key("archive_name"); w.string(e.archiveName)
                    w.key("max_sources_per_execution"); w.int(e.maxSourcesPerExecution)
                    w.key("tick_execution_source_limit"); w.int(e.tickExecutionSourceLimit)
                    w.key("tick_execution_run_limit"); w.int(e.tickExecutionRunLimit)
                    w.key("min_sources_to_trigger"); w.int(e.minSourcesToTrigger)
                    w.key("max_wait_minutes"); w.int(e.maxWaitMinutes)
                    w.key("claim_ttl_minutes"); w.int(e.claimTTLMinutes)
                    w.optional("concurrent_execution_run_limit", e.concurrentExecutionRunLimit)
                    w.optional("deployment_profile_name", e.deploymentProfileName)
                    w.optional("execution_slurm_remote_poll_max_rounds", e.executionSlurmRemotePollMaxRounds)
                    w.optional("execution_rest_remote_poll_max_rounds", e.executionRestRemotePollMaxRounds)
                    w.optional("execution_rest_remote_poll_interval_seconds", e.executionRestRemotePollIntervalSeconds)
                    w.optional("execution_slurm_remote_poll_interval_seconds", e.executionSlurmRemotePollIntervalSeconds)
                }
            }
            if let d = discovery {
                w.key("discovery")
                w.object { w in
                    w.key("enabled"); w.bool(d.enabled)
                    w.key("tick_discovery_source_limit"); w.int(d.tickDiscoverySourceLimit)
                    w.key("batch_size"); w.int(d.batchSize)
                    w.key("stale_after_hours"); w.int(d.staleAfterHours)
                    w.key("claim_ttl_minutes"); w.int(d.claimTTLMinutes)
                    w.optional("queue_max_depth", d.queueMaxDepth)
                    w.optional("tick_discovery_batch_limit", d.tickDiscoveryBatchLimit)
                    w.optional("concurrent_discovery_batch_limit", d.concurrentDiscoveryBatchLimit)
                }
            }
        }
    }
}

extension ProjectConfig.Extension {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.optional("wasm_sha256", wasmSHA256)
            let dialect = w.dialect
            w.key("hooks")
            w.array(hooks) { w, h in
                if case .unknown = h, dialect == .v2 { w.string("unknown") } else { w.string(h.text) }
            }
        }
    }
}

extension ProjectConfig.TransformSpec {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("kind")
            w.string(kind.isUnknown && w.dialect == .v2 ? "unknown" : kind.text)
            w.optional("prefix", prefix)
            w.optional("suffix", suffix)
            if let separators { w.key("separators"); w.strings(separators) }
            w.optional("pattern", pattern)
            w.optional("group", group)
            w.optional("from", from)
            w.optional("to", to)
            w.optional("default", `default`)
            if let steps { w.key("steps"); w.strings(steps) }
        }
    }
}

extension ProjectConfig.Definitions {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            if !transforms.isEmpty { w.key("transforms"); w.sortedMap(transforms) { w, t in t.write(&w) } }
        }
    }
}

extension ProjectConfig.SourceIdentity {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("canonical"); w.string(canonical)
            if !templateVars.isEmpty {
                w.key("template_vars")
                w.sortedMap(templateVars) { w, v in
                    w.object { w in
                        w.optional("from", v.from)
                        w.optional("transform", v.transform)
                    }
                }
            }
        }
    }
}

extension ProjectConfig.V1.Discovery {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("queries"); w.array(queries) { w, q in q.write(&w) }
            w.key("enrichments"); w.array(enrichments) { w, q in q.write(&w) }
            if let p = prepareMetadata {
                w.key("prepare_metadata")
                w.object { w in
                    w.key("field_map"); w.json(p.fieldMap)
                    w.key("discovery_flags"); w.json(p.discoveryFlags)
                    if let signature = p.signature { w.key("signature"); signature.write(&w) }
                }
            }
        }
    }
}

extension ProjectConfig.V1.Manifest {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("group_by"); w.strings(groupBy)
            w.key("source_template"); w.json(sourceTemplate)
            if let datasetTemplate { w.key("dataset_template"); w.json(datasetTemplate) }
            w.optional("expand_from", expandFrom)
            w.key("path"); w.string(path)
        }
    }
}

extension ProjectConfig.V1.GraphPatch {
    func write(_ w: inout ProjectJSONWriter) {
        w.object { w in
            w.key("match"); w.json(match)
            w.key("set"); w.json(set)
        }
    }
}
