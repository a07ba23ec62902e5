import BeamsyncModel

/// Why a DIM call failed, in the terms a runner acts on.
public enum DIMError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No answer: connection refused, host not found, timeout, TLS failure.
    case unreachable(HTTPError)
    /// The DIM does not know the session (DALiuGE's 555 with `NoSessionException` inside).
    case sessionUnknown(sessionID: String)
    /// `create` with an id the DIM already has (555 with `SessionAlreadyExistsException` inside).
    case sessionExists(sessionID: String)
    /// A Node Manager behind the DIM failed or did not answer (555 `SubManagerException`
    /// naming the node; a dead NM makes the DIM wait 10 s first).
    case nodeFailure(node: String, reason: String, HTTPError)
    /// Any other error answer; `HTTPError.message` carries the DIM's text.
    case rejected(HTTPError)
    /// A 2xx answer we cannot read.
    case invalidResponse(String)
    /// The call makes no sense as asked (for example deploy without roots).
    case invalidRequest(String)
    case cancelled

    public var description: String {
        switch self {
        case .unreachable(let e): "DIM unreachable: \(e)"
        case .sessionUnknown(let id): "DIM does not know session '\(id)'"
        case .sessionExists(let id): "DIM already has a session '\(id)'"
        case .nodeFailure(let node, let reason, let e): "DIM node \(node) failed (\(reason)): \(e)"
        case .rejected(let e): "DIM error: \(e)"
        case .invalidResponse(let why): "DIM: \(why)"
        case .invalidRequest(let why): "DIM request: \(why)"
        case .cancelled: "DIM call cancelled"
        }
    }

    /// Worth retrying later: the DIM or one of its nodes may come back.
    public var isTransient: Bool {
        switch self {
        case .unreachable, .nodeFailure: true
        case .rejected(let e): (e.status ?? 0) >= 500 && e.status != 555
        default: false
        }
    }
}

/// What `GET /api` on a DIM says.
public struct DIMInfo: Sendable, Hashable {
    public var hosts: [String]
    public var sessionIDs: [String]
}

/// What a poller needs from a DIM. `DIMClient` is the real one; tests script their own.
public protocol DIMSessionObserver: Sendable {
    func sessionStatus(_ sessionID: String) async throws(DIMError) -> SessionStatus
    func graphStatus(_ sessionID: String) async throws(DIMError) -> GraphStatus
}

/// DALiuGE's Data Island Manager REST API (`/api/sessions/...`).
public struct DIMClient: DIMSessionObserver {
    public var endpoint: DIMEndpoint
    public var http: HTTPClient
    public var connectTimeout: Duration = .seconds(5)
    /// beampipe's timeouts: create 30 s, append 60 s, deploy 30 s. Status calls get 20 s because
    /// a DIM waits 10 s for a dead Node Manager before it answers 555 naming the node.
    public var createTimeout: Duration = .seconds(30)
    public var appendTimeout: Duration = .seconds(60)
    public var deployTimeout: Duration = .seconds(30)
    public var statusTimeout: Duration = .seconds(20)

    public init(endpoint: DIMEndpoint, http: HTTPClient) {
        self.endpoint = endpoint
        self.http = http
    }

    /// `POST /api/sessions {"sessionId": id}`.
    public func createSession(_ sessionID: String) async throws(DIMError) {
        let body = JSONValue.object(["sessionId": .string(sessionID)]).canonicalBytes
        _ = try await call(.post, "/api/sessions", body: .json(body), timeout: createTimeout, session: sessionID)
    }

    /// `POST /api/sessions/{id}/graph/append` with the prepared graph.
    public func appendGraph(_ sessionID: String, graph: PhysicalGraph) async throws(DIMError) {
        _ = try await call(.post, sessionPath(sessionID, "/graph/append"), body: .json(graph.jsonBytes),
                           timeout: appendTimeout, session: sessionID)
    }

    /// `POST /api/sessions/{id}/deploy` with form `completed=<root,root,...>`. Refuses an empty
    /// root list: the DIM would accept it and leave the session RUNNING forever.
    public func deploy(_ sessionID: String, roots: [String]) async throws(DIMError) {
        guard !roots.isEmpty else {
            throw .invalidRequest("deploy of session '\(sessionID)' without root drops would never finish")
        }
        _ = try await call(.post, sessionPath(sessionID, "/deploy"),
                           body: .form([FormField("completed", roots.joined(separator: ","))]),
                           timeout: deployTimeout, session: sessionID)
    }

    /// Create, append and deploy in order; `step` is told before each call so a runner can record it.
    public func submit(sessionID: String, graph: PhysicalGraph,
                       step: @Sendable (SubmitStep) async -> Void = { _ in }) async throws(DIMError) {
        await step(.creating)
        try await createSession(sessionID)
        await step(.appending)
        try await appendGraph(sessionID, graph: graph)
        await step(.deploying)
        try await deploy(sessionID, roots: graph.roots)
    }

    public enum SubmitStep: String, Sendable { case creating, appending, deploying }

    /// `GET /api/sessions/{id}/status`, classified. An unknown session reads as `.missing`
    /// (the DIM answers 200 `{"node": {"Status": "Success"}}` for it).
    public func sessionStatus(_ sessionID: String) async throws(DIMError) -> SessionStatus {
        let response = try await call(.get, sessionPath(sessionID, "/status"), timeout: statusTimeout, session: sessionID)
        return SessionStatus(json: try parse(response, what: "session status"))
    }

    /// `GET /api/sessions/{id}/graph/status`.
    public func graphStatus(_ sessionID: String) async throws(DIMError) -> GraphStatus {
        let response = try await call(.get, sessionPath(sessionID, "/graph/status"), timeout: statusTimeout,
                                      session: sessionID)
        let json = try parse(response, what: "graph status")
        guard json.objectValue != nil else { throw .invalidResponse("graph status is not a JSON object") }
        return GraphStatus(json: json)
    }

    /// Whether the DIM knows the session (`GET /api/sessions/{id}`; 555 `NoSessionException` → false).
    public func sessionExists(_ sessionID: String) async throws(DIMError) -> Bool {
        do {
            _ = try await call(.get, sessionPath(sessionID, ""), timeout: statusTimeout, session: sessionID)
            return true
        } catch .sessionUnknown {
            return false
        }
    }

    /// `POST /api/sessions/{id}/cancel`.
    public func cancelSession(_ sessionID: String) async throws(DIMError) {
        _ = try await call(.post, sessionPath(sessionID, "/cancel"), body: .form([]), timeout: deployTimeout,
                           session: sessionID)
    }

    /// `DELETE /api/sessions/{id}` (also for running sessions).
    public func deleteSession(_ sessionID: String) async throws(DIMError) {
        _ = try await call(.delete, sessionPath(sessionID, ""), timeout: deployTimeout, session: sessionID)
    }

    /// `GET /api`: the DIM's nodes and session ids. Answers at once even when an NM is down. A
    /// Node Manager answers `/api` too (`{"sessions": [...]}`), without `hosts`: that is an error.
    public func info() async throws(DIMError) -> DIMInfo {
        let json = try parse(try await call(.get, "/api", timeout: statusTimeout, session: nil), what: "/api")
        guard let hosts = json["hosts"]?.arrayValue else {
            throw .invalidResponse("GET /api answered without a `hosts` list, so this is not a Data Island Manager"
                                   + (json["sessions"] != nil ? " (a Node Manager answers like this)" : ""))
        }
        return DIMInfo(hosts: hosts.compactMap(\.stringValue),
                       sessionIDs: json["sessionIds"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }

    // MARK: Plumbing

    private func sessionPath(_ sessionID: String, _ suffix: String) -> String {
        "/api/sessions/" + FormEncoding.pathSegment(sessionID) + suffix
    }

    private func call(_ method: HTTPMethod, _ path: String, body: HTTPBody? = nil, timeout: Duration,
                      session: String?) async throws(DIMError) -> HTTPResponse {
        let request = HTTPRequest(method, endpoint.baseURL + path, headers: [HTTPHeader("Accept", "application/json")],
                                  body: body, connectTimeout: connectTimeout, timeout: timeout, tls: endpoint.tls)
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch {
            throw error.kind == .cancelled ? .cancelled : .unreachable(error)
        }
        guard response.isSuccess else {
            throw Self.classify(HTTPError(method: method, url: request.url, response: response), response: response,
                                session: session)
        }
        return response
    }

    /// Maps DALiuGE's error answers. Through a DIM, per-node failures are 555
    /// `{"type": "SubManagerException", "args": {"<node>": {"type": "<inner>", ...}}}`; an NM
    /// answers 404 `NoSessionException` / 409 `SessionAlreadyExistsException` directly.
    static func classify(_ error: HTTPError, response: HTTPResponse, session: String?) -> DIMError {
        let json = try? JSONValue.parse(bytes: response.body)
        let outerType = json?["type"]?.stringValue
        var inner: [(node: String, type: String)] = []
        if let args = json?["args"]?.objectValue {
            for node in args.keys.sorted() {
                inner.append((node, args[node]?["type"]?.stringValue ?? args[node]?.canonicalString ?? "?"))
            }
        }
        let types = Set(inner.map(\.type) + [outerType].compactMap { $0 })
        if let session {
            if types.contains("NoSessionException") { return .sessionUnknown(sessionID: session) }
            if types.contains("SessionAlreadyExistsException") { return .sessionExists(sessionID: session) }
        }
        if let failing = inner.first(where: { ["SubManagerException", "RestClientException"].contains($0.type) }) {
            return .nodeFailure(node: failing.node, reason: failing.type, error)
        }
        if error.status == 556 {  // RestClientException: the DIM could not reach a node
            return .nodeFailure(node: inner.first?.node ?? "?", reason: outerType ?? "RestClientException", error)
        }
        return .rejected(error)
    }

    private func parse(_ response: HTTPResponse, what: String) throws(DIMError) -> JSONValue {
        do {
            return try JSONValue.parse(bytes: response.body)
        } catch {
            throw .invalidResponse("\(what) is not JSON: " + String(decoding: response.body.prefix(200), as: UTF8.self))
        }
    }
}
