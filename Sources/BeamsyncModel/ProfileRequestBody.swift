/// Why a request body could not become a deployment profile.
public enum RequestBodyProblem: Error, Sendable, Equatable {
    /// Not JSON at all (HTTP 400); the message names the byte offset.
    case malformedJSON(String)
    /// JSON, but not a valid document: every problem, with its field path (HTTP 422).
    case invalid([Diagnostic])
}

/// A deployment profile sent to the HTTP API. It is decoded by `ProfileDecoder`, the decoder
/// profile files go through, so the API accepts exactly what a repository accepts and reports
/// the same problems at the same field paths.
public enum ProfileRequestBody {
    /// The name diagnostics carry instead of a file name.
    public static let label = "request body"

    /// Fields the server sets; a body that sends them is refused with a hint rather than an
    /// "unknown field" error.
    public static let readOnlyFields = ["uuid", "id", "revision", "spec_sha256", "created_at", "updated_at", "git"]

    /// `POST`: the body is a whole profile document.
    public static func decode(json bytes: [UInt8]) -> Result<(profile: DeploymentProfile, warnings: [Diagnostic]), RequestBodyProblem> {
        switch object(bytes) {
        case .failure(let problem): return .failure(problem)
        case .success(let members):
            if let problem = readOnly(members) { return .failure(problem) }
            // The original bytes, not a re-encoding: duplicate keys are reported, as in a file.
            return decodeDocument(bytes)
        }
    }

    /// `PATCH`: `patch` (a JSON merge patch) applied to `base`, the stored profile as a document
    /// (`document(...)`). A patch whose `deployment.kind` differs from the stored kind replaces
    /// the whole deployment, since the old kind's fields mean nothing to the new one.
    public static func merge(base: JSONValue, patch bytes: [UInt8])
        -> Result<(profile: DeploymentProfile, warnings: [Diagnostic]), RequestBodyProblem>
    {
        switch object(bytes) {
        case .failure(let problem): return .failure(problem)
        case .success(var members):
            if let problem = readOnly(members) { return .failure(problem) }
            var target = base
            if let deployment = members["deployment"], let kind = deployment["kind"], !kind.isNull,
               kind != base["deployment"]?["kind"] {
                var replaced = base.objectValue ?? [:]
                replaced["deployment"] = JSONMergePatch.apply(deployment, to: nil)
                target = .object(replaced)
                members["deployment"] = nil
            }
            let merged = JSONMergePatch.apply(.object(members), to: target)
            return decodeDocument(merged.canonicalBytes)
        }
    }

    /// The stored profile as a document that decodes back to the same profile: absent optional
    /// fields are left out, except the REST ports, whose absence means "no port" in storage but
    /// "8001" in a document, so they become explicit nulls.
    public static func document(name: String, description: String?, projectModule: String?, isDefault: Bool,
                                maxConcurrentExecutions: Int?, translation: JSONValue, deployment: JSONValue) -> JSONValue {
        var doc: [String: JSONValue] = ["name": .string(name), "is_default": .bool(isDefault),
                                        "translation": translation, "deployment": deployment]
        if let description { doc["description"] = .string(description) }
        if let projectModule { doc["project_module"] = .string(projectModule) }
        if let maxConcurrentExecutions { doc["max_concurrent_executions"] = .int(Int64(maxConcurrentExecutions)) }
        if deployment["kind"]?.stringValue == DeploymentKind.restRemote.rawValue, var d = deployment.objectValue {
            for port in ["dim_port_for_tm", "deploy_port"] where d[port] == nil { d[port] = .null }
            doc["deployment"] = .object(d)
        }
        return .object(doc)
    }

    private static func object(_ bytes: [UInt8]) -> Result<[String: JSONValue], RequestBodyProblem> {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes: bytes)
        } catch let error as JSONParseError {
            return .failure(.malformedJSON("the body is not JSON: \(error.message) at byte \(error.offset)"))
        } catch {
            return .failure(.malformedJSON("the body is not JSON"))
        }
        guard case .object(let members) = value else {
            return .failure(.invalid([Diagnostic(code: .wrongType, location: nil, path: "",
                                                 message: "expected a JSON object holding a deployment profile",
                                                 hint: "send {\"name\": ..., \"translation\": {...}, \"deployment\": {...}}")]))
        }
        return .success(members)
    }

    private static func readOnly(_ members: [String: JSONValue]) -> RequestBodyProblem? {
        let sent = readOnlyFields.filter { members[$0] != nil }
        guard !sent.isEmpty else { return nil }
        return .invalid(sent.map {
            Diagnostic(code: .readOnlyField, location: nil, path: $0, message: "'\($0)' is set by the server and cannot be written",
                       hint: $0 == "revision" ? "remove it; send the ETag in an If-Match header to guard against concurrent edits"
                           : "remove it from the body")
        })
    }

    private static func decodeDocument(_ bytes: [UInt8]) -> Result<(profile: DeploymentProfile, warnings: [Diagnostic]), RequestBodyProblem> {
        let loaded = YAMLLoader.load(file: label, bytes: bytes)
        if loaded.diagnostics.hasErrors { return .failure(.invalid(loaded.diagnostics.errors)) }
        guard loaded.documents.count == 1, let root = loaded.documents.first?.root else {
            return .failure(.invalid([Diagnostic(code: .emptyDocument, location: nil, path: "", message: "the body holds no profile",
                                                 hint: "send one JSON object")]))
        }
        var sink = DiagnosticSink(file: label)
        let profile = ProfileDecoder.decode(root, origin: DocumentOrigin(file: label), sink: &sink)
        guard let profile, !sink.hasErrors else { return .failure(.invalid(sink.diagnostics.errors)) }
        return .success((profile, sink.diagnostics.warnings))
    }
}
