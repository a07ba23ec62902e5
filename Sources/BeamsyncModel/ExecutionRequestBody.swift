import Foundation

/// An execution asked for over the HTTP API: the same fields as an Execution document's `spec`
/// (plus an optional name), except that the graph is a URL with its SHA-256 pin or the graph's
/// bytes in base64, since there is no repository to hold it.
public struct ExecutionRequestBody: Sendable, Hashable {
    public enum Graph: Sendable, Hashable {
        case url(String, sha256: String)
        case content([UInt8])
    }

    public var name: String?
    public var projectModule: String
    public var profile: ProfileReference
    public var graph: Graph
    public var doSubmit: Bool

    /// What two requests must share to be the same request (for `Idempotency-Key`): the decoded
    /// fields, so spacing, key order and padding around names do not matter.
    public var canonical: JSONValue {
        var o: [String: JSONValue] = ["project_module": .string(projectModule), "do_submit": .bool(doSubmit)]
        if let name { o["name"] = .string(name) }
        switch profile {
        case .id(let id): o["deployment_profile_id"] = .string(id)
        case .name(let n): o["deployment_profile_name"] = .string(n)
        case .projectDefault: break
        }
        switch graph {
        case .url(let u, let sha): o["graph"] = .object(["url": .string(u), "sha256": .string(sha)])
        case .content(let bytes): o["graph"] = .object(["sha256": .string(SHA256Digest.hex(bytes))])
        }
        return .object(o)
    }

    public static func decode(json bytes: [UInt8]) -> Result<ExecutionRequestBody, RequestBodyProblem> {
        do {
            guard case .object = try JSONValue.parse(bytes: bytes) else {
                return .failure(.invalid([Diagnostic(code: .wrongType, location: nil, path: "", message: "expected a JSON object",
                                                     hint: "send {\"project_module\": ..., \"graph\": {...}}")]))
            }
        } catch let error as JSONParseError {
            return .failure(.malformedJSON("the body is not JSON: \(error.message) at byte \(error.offset)"))
        } catch {
            return .failure(.malformedJSON("the body is not JSON"))
        }
        let label = ProfileRequestBody.label
        let loaded = YAMLLoader.load(file: label, bytes: bytes)
        if loaded.diagnostics.hasErrors { return .failure(.invalid(loaded.diagnostics.errors)) }
        guard let root = loaded.documents.first?.root else {
            return .failure(.invalid([Diagnostic(code: .emptyDocument, location: nil, path: "", message: "the body is empty", hint: nil)]))
        }
        var sink = DiagnosticSink(file: label)
        guard let body = decode(root, sink: &sink), !sink.hasErrors else { return .failure(.invalid(sink.diagnostics.errors)) }
        return .success(body)
    }

    static func decode(_ root: SourceNode, sink: inout DiagnosticSink) -> ExecutionRequestBody? {
        guard var r = FieldReader(root, path: "", sink: &sink, what: "an execution request") else { return nil }
        let before = sink.diagnostics.errors.count
        var name: String? = nil
        if case .value(let n, let node) = r.string("name", sink: &sink) {
            name = ProfileDecoder.validatedName(.value(n.trimmingCharacters(in: .whitespaces), node), path: "name", sink: &sink, limit: 128)
        }
        var projectModule: String? = nil
        if case .value(let p, let node) = r.string("project_module", sink: &sink, required: true) {
            ProfileDecoder.checkProjectModule(p, node: node, path: "project_module", sink: &sink)
            projectModule = p
        }
        var profile = ProfileReference.projectDefault
        switch (r.string("deployment_profile_name", sink: &sink), r.string("deployment_profile_id", sink: &sink)) {
        case (.value(_, let node), .value):
            sink.error(.invalidValue, at: node, path: "deployment_profile_name", "provide only one of deployment_profile_id or deployment_profile_name",
                       hint: "keep one of them; without either, the project's default profile is used")
        case (.value(let v, let node), _):
            if let n = ProfileDecoder.validatedName(.value(v.trimmingCharacters(in: .whitespaces), node), path: "deployment_profile_name", sink: &sink) {
                profile = .name(n)
            }
        case (_, .value(let v, let node)):
            if UUID(uuidString: v.trimmingCharacters(in: .whitespaces)) == nil {
                sink.error(.invalidValue, at: node, path: "deployment_profile_id", "'\(v)' is not a UUID",
                           hint: "give the profile's uuid as GET /api/v2/deployment-profiles shows it, or use deployment_profile_name")
            } else {
                profile = .id(v.trimmingCharacters(in: .whitespaces).lowercased())
            }
        default: break
        }
        var graph: Graph? = nil
        if let node = r.entry("graph")?.value {
            graph = decodeGraph(node, sink: &sink)
        } else {
            sink.error(.missingField, at: root, path: "graph", "required field 'graph' is missing",
                       hint: "add \"graph\": {\"url\": \"https://...\", \"sha256\": \"<64 hex>\"} or {\"content_base64\": \"...\"}")
        }
        let doSubmit = r.bool("do_submit", sink: &sink).value ?? true
        r.reportUnknownKeys(sink: &sink)
        guard sink.diagnostics.errors.count == before, let projectModule, let graph else { return nil }
        return ExecutionRequestBody(name: name, projectModule: projectModule, profile: profile, graph: graph, doSubmit: doSubmit)
    }

    static func decodeGraph(_ node: SourceNode, sink: inout DiagnosticSink) -> Graph? {
        guard var r = FieldReader(node, path: "graph", sink: &sink) else { return nil }
        let url = r.string("url", sink: &sink)
        let sha = r.string("sha256", sink: &sink)
        let content = r.string("content_base64", sink: &sink)
        r.reportUnknownKeys(sink: &sink)
        switch (url, content) {
        case (.value(_, let n), .value):
            sink.error(.invalidValue, at: n, path: "graph.url", "give either url (with sha256) or content_base64, not both",
                       hint: "keep one graph source")
            return nil
        case (.value(let u, let n), _):
            if let problem = URLCheck.problem(with: u) {
                sink.error(.invalidValue, at: n, path: "graph.url", "graph url '\(u)' is not an absolute http(s) URL: \(problem)",
                           hint: "write the full address of the graph file")
                return nil
            }
            guard case .value(let s, let sn) = sha else {
                sink.error(.missingField, at: node, path: "graph.sha256", "a graph url needs a sha256 pin",
                           hint: "add \"sha256\": \"<64 hex>\" from `sha256sum <graph file>`; other content is refused")
                return nil
            }
            guard s.count == 64, s.allSatisfy({ $0.isHexDigit && $0.isASCII }) else {
                sink.error(.invalidValue, at: sn, path: "graph.sha256", "sha256 must be 64 hexadecimal characters",
                           hint: "compute it with `sha256sum <graph file>`")
                return nil
            }
            return .url(u, sha256: s.lowercased())
        case (_, .value(let text, let n)):
            if case .value(_, let sn) = sha {
                sink.error(.invalidValue, at: sn, path: "graph.sha256", "sha256 goes with url; content is hashed as it is stored",
                           hint: "remove sha256")
                return nil
            }
            guard let data = Data(base64Encoded: text), !data.isEmpty else {
                sink.error(.invalidValue, at: n, path: "graph.content_base64", "content_base64 is not non-empty base64",
                           hint: "encode the graph file with `base64 -w0 <graph file>`")
                return nil
            }
            return .content([UInt8](data))
        default:
            sink.error(.missingField, at: node, path: "graph", "graph needs a url (with sha256) or content_base64",
                       hint: "add \"url\" and \"sha256\", or \"content_base64\"")
            return nil
        }
    }
}
