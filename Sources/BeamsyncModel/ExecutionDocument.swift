import Foundation

/// The kinds of document a beamsync repository holds.
public enum DocumentKind: String, Sendable, Codable, CaseIterable {
    case deploymentProfile = "DeploymentProfile"
    case projectConfig = "ProjectConfig"
    case execution = "Execution"

    /// The folder a document of this kind lives in.
    public var directory: String {
        switch self {
        case .deploymentProfile: "profiles"
        case .projectConfig: "projects"
        case .execution: "executions"
        }
    }
}

/// How an execution names its deployment profile.
public enum ProfileReference: Sendable, Hashable, Codable, CustomStringConvertible {
    case id(String)
    case name(String)
    /// Neither given: the project's default, else the global default.
    case projectDefault

    public var description: String {
        switch self {
        case .id(let id): "profile id \(id)"
        case .name(let n): "profile '\(n)'"
        case .projectDefault: "the default profile"
        }
    }
}

/// Where an execution's logical graph comes from.
public enum GraphReference: Sendable, Hashable, Codable {
    /// A file in the repository, relative to the repository root (pinned by blob id when read from git).
    case path(String)
    /// A URL whose content must hash to `sha256`.
    case url(String, sha256: String)
}

/// An `Execution` document: run this graph once, when the commit that adds the document is applied.
public struct ExecutionDocument: Sendable, Hashable {
    public static let apiVersion = "beampipe.dev/v1"

    /// Unique; the idempotency key that makes the trigger happen exactly once.
    public var name: String
    public var description: String?
    public var projectModule: String
    public var profile: ProfileReference
    public var graph: GraphReference
    public var doSubmit: Bool

    public init(name: String, description: String? = nil, projectModule: String, profile: ProfileReference = .projectDefault,
                graph: GraphReference, doSubmit: Bool = true) {
        self.name = name
        self.description = description
        self.projectModule = projectModule
        self.profile = profile
        self.graph = graph
        self.doSubmit = doSubmit
    }

    /// Canonical form used for hashing and for the plan.
    public var canonicalSpec: JSONValue {
        var spec: [String: JSONValue] = ["project_module": .string(projectModule), "do_submit": .bool(doSubmit)]
        switch profile {
        case .id(let id): spec["deployment_profile_id"] = .string(id)
        case .name(let n): spec["deployment_profile_name"] = .string(n)
        case .projectDefault: break
        }
        switch graph {
        case .path(let p): spec["graph"] = .object(["path": .string(p)])
        case .url(let u, let sha): spec["graph"] = .object(["url": .string(u), "sha256": .string(sha)])
        }
        var metadata: [String: JSONValue] = ["name": .string(name)]
        if let description { metadata["description"] = .string(description) }
        return .object(["apiVersion": .string(Self.apiVersion), "kind": .string(DocumentKind.execution.rawValue),
                        "metadata": .object(metadata), "spec": .object(spec)])
    }

    public var specSHA256: String { SHA256Digest.hex(canonicalSpec.canonicalBytes) }
}

enum ExecutionDecoder {
    static func decode(_ root: SourceNode, sink: inout DiagnosticSink) -> ExecutionDocument? {
        guard var doc = FieldReader(root, path: "", sink: &sink, what: "an Execution mapping") else { return nil }
        let before = sink.diagnostics.errors.count
        if case .value(let v, let n) = doc.string("apiVersion", sink: &sink, required: true), v != ExecutionDocument.apiVersion {
            sink.error(.invalidValue, at: n, path: "apiVersion", "apiVersion '\(DisplayText.value(v))' is not supported for Execution; expected \(ExecutionDocument.apiVersion)",
                       hint: "write `apiVersion: \(ExecutionDocument.apiVersion)`")
        }
        _ = doc.string("kind", sink: &sink, required: true)  // checked by the caller that chose this decoder

        var name: String? = nil
        var description: String? = nil
        if let metaNode = doc.entry("metadata")?.value {
            if var meta = FieldReader(metaNode, path: "metadata", sink: &sink) {
                name = ProfileDecoder.validatedName(meta.string("name", sink: &sink, required: true), path: "metadata.name", sink: &sink, limit: 128)
                description = meta.string("description", sink: &sink, rule: .freeText).value
                meta.reportUnknownKeys(sink: &sink)
            }
        } else {
            sink.error(.missingField, at: root, path: "metadata", "required section 'metadata' is missing",
                       hint: "add `metadata: {name: my-run-2026-11-25}`; the name is the execution's idempotency key")
        }

        var projectModule: String? = nil
        var profile: ProfileReference = .projectDefault
        var graph: GraphReference? = nil
        var doSubmit = true
        if let specNode = doc.entry("spec")?.value {
            if var spec = FieldReader(specNode, path: "spec", sink: &sink) {
                if case .value(let p, let n) = spec.string("project_module", sink: &sink, required: true) {
                    ProfileDecoder.checkProjectModule(p, node: n, path: "spec.project_module", sink: &sink)
                    projectModule = p
                }
                let byName = spec.string("deployment_profile_name", sink: &sink)
                let byID = spec.string("deployment_profile_id", sink: &sink)
                switch (byName, byID) {
                case (.value(_, let n), .value):
                    sink.error(.invalidValue, at: n, path: "spec.deployment_profile_name",
                               "provide only one of deployment_profile_id or deployment_profile_name",
                               hint: "keep the name; ids differ between databases")
                case (.value(let v, let n), _):
                    if let nm = ProfileDecoder.validatedName(.value(v.trimmingCharacters(in: .whitespaces), n), path: "spec.deployment_profile_name", sink: &sink) {
                        profile = .name(nm)
                    }
                case (_, .value(let v, let n)):
                    if UUID(uuidString: v) == nil {
                        sink.error(.invalidValue, at: n, path: "spec.deployment_profile_id", "'\(DisplayText.value(v))' is not a UUID",
                                   hint: "use deployment_profile_name instead; it is portable between databases")
                    } else {
                        profile = .id(v.lowercased())
                    }
                default: break
                }
                if let g = spec.entry("graph")?.value {
                    graph = decodeGraph(g, path: "spec.graph", sink: &sink)
                } else {
                    sink.error(.missingField, at: specNode, path: "spec.graph", "required field 'graph' is missing",
                               hint: "add `graph: {path: graphs/my.graph}` or `graph: {url: https://..., sha256: <64 hex>}`")
                }
                doSubmit = spec.bool("do_submit", sink: &sink).value ?? true
                spec.reportUnknownKeys(sink: &sink)
            }
        } else {
            sink.error(.missingField, at: root, path: "spec", "required section 'spec' is missing",
                       hint: "add `spec:` with project_module and graph")
        }
        doc.reportUnknownKeys(sink: &sink)
        guard sink.diagnostics.errors.count == before, let name, let projectModule, let graph else { return nil }
        return ExecutionDocument(name: name, description: description, projectModule: projectModule, profile: profile,
                                 graph: graph, doSubmit: doSubmit)
    }

    static func decodeGraph(_ node: SourceNode, path: String, sink: inout DiagnosticSink) -> GraphReference? {
        guard var r = FieldReader(node, path: path, sink: &sink) else { return nil }
        let before = sink.diagnostics.errors.count
        let filePath = r.string("path", sink: &sink)
        let url = r.string("url", sink: &sink)
        let sha = r.string("sha256", sink: &sink)
        r.reportUnknownKeys(sink: &sink)
        var result: GraphReference? = nil
        switch (filePath, url) {
        case (.value(_, let n), .value):
            sink.error(.invalidValue, at: n, path: "\(path).path", "give either path or url, not both", hint: "keep one graph source")
        case (.value(let p, let n), _):
            if let problem = RepositoryPath.problem(with: p) {
                sink.error(.unsafePath, at: n, path: "\(path).path", "graph path '\(DisplayText.value(p))' is not allowed: \(problem)",
                           hint: "use a path relative to the repository root, e.g. graphs/hello.graph")
            } else {
                result = .path(RepositoryPath.normalized(p))
            }
            if case .value(_, let sn) = sha {
                sink.error(.invalidValue, at: sn, path: "\(path).sha256", "sha256 is only used with url; a path is pinned by its git blob",
                           hint: "remove sha256")
            }
        case (_, .value(let u, let n)):
            if let problem = URLCheck.problem(with: u) {
                sink.error(.invalidValue, at: n, path: "\(path).url", "graph url '\(DisplayText.value(u))' is not an absolute http(s) URL: \(problem)",
                           hint: "write the full address of the graph file")
            }
            switch sha {
            case .value(let s, let sn):
                if s.count != 64 || !s.allSatisfy({ $0.isHexDigit && $0.isASCII }) {
                    sink.error(.invalidValue, at: sn, path: "\(path).sha256", "sha256 must be 64 hexadecimal characters",
                               hint: "compute it with `sha256sum <graph file>`")
                } else {
                    result = .url(u, sha256: s.lowercased())
                }
            default:
                sink.error(.missingField, at: node, path: "\(path).sha256", "a graph url needs a sha256 pin",
                           hint: "add `sha256: <64 hex>` from `sha256sum <graph file>` so the content cannot change under you")
            }
        default:
            sink.error(.missingField, at: node, path: path, "graph needs a path or a url",
                       hint: "add `path: graphs/my.graph` or `url: https://...` with `sha256:`")
        }
        return sink.diagnostics.errors.count == before ? result : nil
    }
}

/// Rules for paths inside the repository: relative, no `..`, no empty or `.` segments.
public enum RepositoryPath {
    public static func problem(with path: String) -> String? {
        if path.isEmpty { return "it is empty" }
        if path.hasPrefix("/") { return "it is absolute" }
        if path.contains("\\") { return "it contains a backslash" }
        if path.contains("\0") { return "it contains a NUL byte" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") { return "it climbs out of the repository with '..'" }
        if parts.dropLast().contains("") { return "it contains an empty segment ('//')" }
        return nil
    }

    public static func normalized(_ path: String) -> String {
        path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }
}
