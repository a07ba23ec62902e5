// The legacy v1 shape (beampipe 0.1.0, `apiVersion: beampipe.dev/v1`). Only the sections whose
// types differ from v2 are declared here; everything else reuses the v2 section types.
// Differences: free JSON where 0.1.0 had `serde_json::Value`, no `output_verification`,
// no `graph.sha256`, transform kinds and hooks as plain strings (kept as written).

extension ProjectConfig {
    public struct V1: Sendable, Hashable {
        public struct PrepareMetadata: Sendable, Hashable {
            /// Free JSON; `null` when absent (and serialised as `null`, as 0.1.0 did).
            public var fieldMap: JSONValue = .null
            public var discoveryFlags: JSONValue = .null
            public var signature: Signature?
            public init() {}
        }

        public struct Discovery: Sendable, Hashable {
            public var queries: [DiscoveryQuery] = []
            public var enrichments: [DiscoveryQuery] = []
            public var prepareMetadata: PrepareMetadata?
            public init() {}
        }

        public struct Manifest: Sendable, Hashable {
            public var groupBy: [String] = []
            /// Free JSON, `null` when absent.
            public var sourceTemplate: JSONValue = .null
            public var datasetTemplate: JSONValue?
            public var expandFrom: String?
            public var path = "manifest.json"
            public init() {}
        }

        /// Both members are required and may hold any JSON.
        public struct GraphPatch: Sendable, Hashable {
            public var match: JSONValue
            public var set: JSONValue
            public init(match: JSONValue, set: JSONValue) { self.match = match; self.set = set }
        }

        public var apiVersion = APIVersion.v1.rawValue
        public var kind = "ProjectConfig"
        public var metadata: Metadata
        public var adapters = Adapters()
        /// `sha256` is always nil: v1 has no graph pin.
        public var graph: Graph?
        public var discovery = Discovery()
        public var manifest: Manifest?
        public var graphPatches: [GraphPatch] = []
        public var automation = Automation()
        public var `extension`: Extension?
        public var definitions: Definitions?
        public var sourceIdentity: SourceIdentity?
        public init(metadata: Metadata) { self.metadata = metadata }
    }
}
