import BeamsyncModel

/// What a Translator Manager says about itself: FastAPI publishes the app's title and DALiuGE's
/// version in `/openapi.json` (`DALiuGE LG Web Interface`, `6.6.0`).
public struct TranslatorInfo: Sendable, Hashable {
    public var title: String
    public var version: String

    public var isDALiuGE: Bool { title.contains("DALiuGE") }
}

/// Read-only calls that tell whether a Translator Manager answers and what it can reach; they
/// change nothing on the TM or the DIM.
extension TranslatorClient {
    /// `GET /openapi.json` for the title and version; when that has no version, `HEAD /` (the
    /// TM's liveness route) and nil. Throws when neither answers 2xx.
    public func about() async throws(TranslatorError) -> TranslatorInfo? {
        let openAPI = try await get("/openapi.json")
        if openAPI.isSuccess, let json = try? JSONValue.parse(bytes: openAPI.body),
           let version = json["info"]?["version"]?.stringValue {
            return TranslatorInfo(title: json["info"]?["title"]?.stringValue ?? "", version: version)
        }
        let request = HTTPRequest(.head, endpoint.baseURL + "/", connectTimeout: connectTimeout, timeout: timeout, tls: endpoint.tls)
        let head: HTTPResponse
        do {
            head = try await http.send(request)
        } catch {
            throw error.kind == .cancelled ? .cancelled : .unreachable(error)
        }
        guard head.isSuccess else { throw .rejected(HTTPError(method: .head, url: request.url, response: head)) }
        return nil
    }

    /// `GET /api/submission_method?dlg_mgr_host=H&dlg_mgr_port=P`: the TM asks the DALiuGE manager
    /// at H:P (as the TM's machine resolves and reaches it) for its submission methods. A manager
    /// answers `BROWSER`, `SERVER`; when the TM cannot reach one it answers an empty list after
    /// retrying for about 10 seconds.
    public func submissionMethods(managerHost: String, managerPort: Int) async throws(TranslatorError) -> [String] {
        let query = String(decoding: FormEncoding.encode([FormField("dlg_mgr_host", managerHost),
                                                          FormField("dlg_mgr_port", String(managerPort))]), as: UTF8.self)
        let response = try await get("/api/submission_method?" + query)
        guard response.isSuccess else {
            throw .rejected(HTTPError(method: .get, url: endpoint.baseURL + "/api/submission_method", response: response))
        }
        guard let methods = (try? JSONValue.parse(bytes: response.body))?["methods"]?.arrayValue else {
            throw .invalidResponse("/api/submission_method answered without a `methods` list: "
                                   + String(decoding: response.body.prefix(200), as: UTF8.self))
        }
        return methods.compactMap(\.stringValue)
    }

    /// The Node Manager the TM maps partition `#0` to when it maps onto the DIM at `settings`
    /// (`POST /map` with a one-drop template, which reads the DIM's `/api/nodes`). Nothing is
    /// stored or deployed.
    public func mappedNode(settings: MapSettings) async throws(TranslatorError) -> String {
        let probe = JSONValue.array([
            .object(["oid": .string("beamsync-map-probe"), "node": .string("#0"), "island": .string("#0")]),
            .object([:]),
        ])
        let graph = try await map(partitionedGraph: probe.canonicalBytes, settings: settings)
        guard let node = (try? JSONValue.parse(bytes: graph))?.arrayValue?.first?["node"]?.stringValue else {
            throw .invalidResponse("/map answered without a node for the probe drop: "
                                   + String(decoding: graph.prefix(200), as: UTF8.self))
        }
        return node
    }

    private func get(_ path: String) async throws(TranslatorError) -> HTTPResponse {
        let request = HTTPRequest(.get, endpoint.baseURL + path, headers: [HTTPHeader("Accept", "application/json")],
                                  connectTimeout: connectTimeout, timeout: timeout, tls: endpoint.tls)
        do {
            return try await http.send(request)
        } catch {
            throw error.kind == .cancelled ? .cancelled : .unreachable(error)
        }
    }
}
