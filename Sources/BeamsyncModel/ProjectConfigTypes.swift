// The typed sections of beampipe's ProjectConfig, as declared in beampipe 0.1.6 (HEAD,
// `crates/beampipe-project/src/lib.rs`). Field order here is the declaration order, because
// beampipe's `spec_sha256` hashes serde_json output in that order (see ProjectConfigJSON.swift).
// Defaults are the serde defaults, i.e. what beampipe fills in when a key is absent.
// The v1 (0.1.0) shape reuses most of these; ProjectConfigV1.swift holds the parts that differ.

extension ProjectConfig {
    /// The only inventory schema beampipe 0.1.6 accepts for output verification.
    public static let wallabyOutputInventorySchema = "wallaby-hires-output-inventory/v1"

    public struct Metadata: Sendable, Hashable {
        public var id: String
        public var description: String?
        public init(id: String, description: String? = nil) { self.id = id; self.description = description }
    }

    public struct Tap: Sendable, Hashable {
        /// u64 in beampipe.
        public var timeoutSeconds: UInt64 = 30
        /// u32 in beampipe.
        public var retries: UInt32 = 1
        public var failOpen = false
        public init() {}
    }

    public struct Adapters: Sendable, Hashable {
        public var required: [String] = []
        public var casdaTapURL: String?
        public var vizierTapURL: String?
        public var tap = Tap()
        public init() {}
    }

    /// Where the logical graph comes from. v1 documents have no `sha256` (it stays nil).
    public struct Graph: Sendable, Hashable {
        public var url: String?
        public var path: String?
        public var sha256: String?
        public init(url: String? = nil, path: String? = nil, sha256: String? = nil) {
            self.url = url; self.path = path; self.sha256 = sha256
        }
    }

    public struct DiscoveryQuery: Sendable, Hashable {
        public var name: String
        public var adapter: String
        public var template: String
        public var sourceIDTransform: String?
        public init(name: String, adapter: String, template: String, sourceIDTransform: String? = nil) {
            self.name = name; self.adapter = adapter; self.template = template; self.sourceIDTransform = sourceIDTransform
        }
    }

    /// `transform: name` or `transform: [a, b]` (serde's untagged TransformRef).
    public enum TransformRef: Sendable, Hashable {
        case name(String)
        case chain([String])
    }

    public struct MappingSpec: Sendable, Hashable {
        /// Defaults to "" when absent; validation (not parsing) reports the missing `from`.
        public var from: String = ""
        public var transform: TransformRef?
        public init(from: String = "", transform: TransformRef? = nil) { self.from = from; self.transform = transform }
    }

    public struct Signature: Sendable, Hashable {
        public var excludeFields: [String] = []
        /// The serde default is true (beampipe's Rust `Default` says false, but only tests use it).
        public var includeDiscoveryFlags = true
        public init() {}
    }

    public struct PrepareMetadata: Sendable, Hashable {
        public var fieldMap: [String: MappingSpec] = [:]
        public var discoveryFlags: [String: MappingSpec] = [:]
        public var signature: Signature?
        public init() {}
    }

    public struct Discovery: Sendable, Hashable {
        public var queries: [DiscoveryQuery] = []
        public var enrichments: [DiscoveryQuery] = []
        public var prepareMetadata: PrepareMetadata?
        public init() {}
    }

    /// Manifest templates are free JSON objects (values of any JSON type).
    public struct Manifest: Sendable, Hashable {
        public var groupBy: [String] = []
        public var sourceTemplate: [String: JSONValue] = [:]
        public var datasetTemplate: [String: JSONValue]?
        public var expandFrom: String?
        public var path = "manifest.json"
        public init() {}
    }

    /// `node_name`, or any other string, which beampipe keeps as `unknown` and validation rejects.
    public enum GraphPatchMatchKind: Sendable, Hashable {
        case nodeName
        /// The string as written ("" when `kind` was left out).
        case unknown(String)

        public init(_ text: String) { self = text == "node_name" ? .nodeName : .unknown(text) }
    }

    public struct GraphPatchMatch: Sendable, Hashable {
        public var kind: GraphPatchMatchKind = .unknown("")
        public var equals = ""
        public init() {}
    }

    public struct GraphPatch: Sendable, Hashable {
        public var match = GraphPatchMatch()
        /// Literal JSON values, or `$count(...)` / `$sum(...)` expressions.
        public var set: [String: JSONValue] = [:]
        public init() {}
    }

    public struct OutputVerification: Sendable, Hashable {
        public var required = false
        public var inventorySchema = ProjectConfig.wallabyOutputInventorySchema
        public init() {}
    }

    public struct DiscoveryAutomation: Sendable, Hashable {
        public var enabled = false
        public var tickDiscoverySourceLimit: Int64 = 200
        public var batchSize: Int64 = 5
        /// i32 in beampipe.
        public var staleAfterHours: Int32 = 24
        public var claimTTLMinutes: Int64 = 180
        public var queueMaxDepth: Int64?
        public var tickDiscoveryBatchLimit: Int64?
        public var concurrentDiscoveryBatchLimit: Int64?
        public init() {}
    }

    public struct ExecutionAutomation: Sendable, Hashable {
        public var enabled = false
        public var archiveName = "casda"
        public var maxSourcesPerExecution: Int64 = 20
        public var tickExecutionSourceLimit: Int64 = 500
        public var tickExecutionRunLimit: Int64 = 20
        public var minSourcesToTrigger: Int64 = 1
        public var maxWaitMinutes: Int64 = 1440
        public var claimTTLMinutes: Int64 = 180
        public var concurrentExecutionRunLimit: Int64?
        public var deploymentProfileName: String?
        public var executionSlurmRemotePollMaxRounds: Int64?
        public var executionRestRemotePollMaxRounds: Int64?
        public var executionRestRemotePollIntervalSeconds: Double?
        public var executionSlurmRemotePollIntervalSeconds: Double?
        public init() {}
    }

    public struct Automation: Sendable, Hashable {
        public var execution: ExecutionAutomation?
        public var discovery: DiscoveryAutomation?
        public init() {}
    }

    public enum ExtensionHook: Sendable, Hashable {
        case prepareMetadata
        case manifest
        case graphPatches
        /// Any other string, kept as written; v2 serialises it as `unknown`, v1 as written.
        case unknown(String)

        public static let allowed = ["prepare_metadata", "manifest", "graph_patches"]

        public init(_ text: String) {
            switch text {
            case "prepare_metadata": self = .prepareMetadata
            case "manifest": self = .manifest
            case "graph_patches": self = .graphPatches
            default: self = .unknown(text)
            }
        }

        public var text: String {
            switch self {
            case .prepareMetadata: "prepare_metadata"
            case .manifest: "manifest"
            case .graphPatches: "graph_patches"
            case .unknown(let t): t
            }
        }
    }

    public struct Extension: Sendable, Hashable {
        public var wasmSHA256: String?
        public var hooks: [ExtensionHook] = []
        public init() {}
    }

    public enum TransformKind: Sendable, Hashable, CaseIterable {
        case identity, trim, lowercase, uppercase, replace, addPrefix, addSuffix, defaultIfEmpty, chain
        case stripPrefix, extractDigits, splitLast, isPresent, selectEvalFileBySize, regexExtract
        /// Parsing keeps unknown kinds so that validation can report them (as beampipe does).
        case unknown(String)

        public static let allCases: [TransformKind] = [
            .identity, .trim, .lowercase, .uppercase, .replace, .addPrefix, .addSuffix, .defaultIfEmpty, .chain,
            .stripPrefix, .extractDigits, .splitLast, .isPresent, .selectEvalFileBySize, .regexExtract,
        ]

        /// The snake_case names beampipe accepts, in its declaration order.
        public static let knownNames = allCases.map(\.text)

        public init(_ text: String) {
            self = Self.allCases.first { $0.text == text } ?? .unknown(text)
        }

        /// The name as written (for known kinds, the snake_case name).
        public var text: String {
            switch self {
            case .identity: "identity"
            case .trim: "trim"
            case .lowercase: "lowercase"
            case .uppercase: "uppercase"
            case .replace: "replace"
            case .addPrefix: "add_prefix"
            case .addSuffix: "add_suffix"
            case .defaultIfEmpty: "default_if_empty"
            case .chain: "chain"
            case .stripPrefix: "strip_prefix"
            case .extractDigits: "extract_digits"
            case .splitLast: "split_last"
            case .isPresent: "is_present"
            case .selectEvalFileBySize: "select_eval_file_by_size"
            case .regexExtract: "regex_extract"
            case .unknown(let t): t
            }
        }

        public var isUnknown: Bool { if case .unknown = self { true } else { false } }
    }

    public struct TransformSpec: Sendable, Hashable {
        public var kind: TransformKind
        public var prefix: String?
        public var suffix: String?
        public var separators: [String]?
        public var pattern: String?
        /// u32 in beampipe.
        public var group: UInt32?
        public var from: String?
        public var to: String?
        public var `default`: String?
        public var steps: [String]?
        public init(kind: TransformKind) { self.kind = kind }
    }

    public struct Definitions: Sendable, Hashable {
        public var transforms: [String: TransformSpec] = [:]
        public init() {}
    }

    public struct TemplateVar: Sendable, Hashable {
        public var from: String?
        public var transform: String?
        public init(from: String? = nil, transform: String? = nil) { self.from = from; self.transform = transform }
    }

    public struct SourceIdentity: Sendable, Hashable {
        public var canonical = "source_identifier"
        public var templateVars: [String: TemplateVar] = [:]
        public init() {}
    }

    /// A ProjectConfig as beampipe 0.1.6 (`apiVersion: beampipe.dev/v2`) reads it.
    public struct V2: Sendable, Hashable {
        public var apiVersion = APIVersion.v2.rawValue
        public var kind = "ProjectConfig"
        public var metadata: Metadata
        public var adapters = Adapters()
        public var graph: Graph?
        public var discovery = Discovery()
        public var manifest: Manifest?
        public var graphPatches: [GraphPatch] = []
        public var outputVerification = OutputVerification()
        public var automation = Automation()
        public var `extension`: Extension?
        public var definitions: Definitions?
        public var sourceIdentity: SourceIdentity?
        public init(metadata: Metadata) { self.metadata = metadata }
    }
}
