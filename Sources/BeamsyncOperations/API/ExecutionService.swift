import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// Why an execution request was refused.
public enum ExecutionServiceError: Error, Sendable, Equatable {
    case malformedJSON(String)
    case invalid([Diagnostic])
    /// `Idempotency-Key` is not 1–128 visible ASCII characters.
    case badIdempotencyKey(String)
    /// The key was used before with a different request body.
    case idempotencyKeyReused(String)
    case notFound(String)
    case ledger(ExecutionLedgerError)
}

/// An answer to `POST /api/v2/executions`.
public struct ExecutionCreated: Sendable {
    public var status: Int
    public var json: [UInt8]
    /// The same key and request came before: this is that first answer again.
    public var replayed: Bool
    public var id: String?
}

/// Executions through the HTTP API: the same ledger (and so the same runner) as executions from
/// git and from `beamsync executions`. A create with an `Idempotency-Key` records its first
/// answer in the same transaction, so a retry gets that answer back instead of a second run.
public struct ExecutionService: Sendable {
    public let pool: PGPool

    public init(pool: PGPool) { self.pool = pool }

    /// One execution with its recorded steps (`beamsync executions show --format json` prints the same).
    public struct Detail: Encodable, Sendable {
        public var execution: ExecutionRecord
        public var events: [ExecutionEvent]
    }

    struct Page: Encodable {
        var items: [ExecutionRecord]
        var total: Int
        var page: Int
        var itemsPerPage: Int

        enum CodingKeys: String, CodingKey {
            case items, total, page, itemsPerPage = "items_per_page"
        }
    }

    public static let maxItemsPerPage = 500

    public func create(body: [UInt8], idempotencyKey: String?, actor: AuditActor) async throws -> ExecutionCreated {
        if let key = idempotencyKey, !Self.validKey(key) {
            throw ExecutionServiceError.badIdempotencyKey("Idempotency-Key must be 1-128 visible ASCII characters without spaces")
        }
        let decoded: ExecutionRequestBody
        switch ExecutionRequestBody.decode(json: body) {
        case .success(let d): decoded = d
        case .failure(.malformedJSON(let m)): throw ExecutionServiceError.malformedJSON(m)
        case .failure(.invalid(let d)): throw ExecutionServiceError.invalid(d)
        }
        let request = Self.ledgerRequest(decoded, actor: actor)
        return try await pool.withConnection { conn in
            let ledger = ExecutionLedger(conn: conn)
            guard let key = idempotencyKey else {
                let record = try await Self.mapLedger { try await ledger.create(request) }
                return ExecutionCreated(status: 201, json: try Self.render(record), replayed: false, id: record.id.lowercased)
            }
            let requestSHA = SHA256Digest.hex(decoded.canonical.canonicalBytes)
            return try await conn.transaction { conn in
                let store = IdempotencyStore(conn: conn)
                switch try await store.claim(actor: actor.name, key: key, requestSHA256: requestSHA) {
                case .mismatch:
                    throw ExecutionServiceError.idempotencyKeyReused(key)
                case .replay(let answer):
                    return ExecutionCreated(status: answer.status, json: Array(answer.body.utf8), replayed: true, id: nil)
                case .claimed:
                    let record = try await Self.mapLedger { try await ledger.createInOpenTransaction(request) }
                    let json = try Self.render(record)
                    try await store.record(actor: actor.name, key: key, executionID: record.id, status: 201,
                                           body: String(decoding: json, as: UTF8.self))
                    return ExecutionCreated(status: 201, json: json, replayed: false, id: record.id.lowercased)
                }
            }
        }
    }

    public func list(project: String?, status: ExecutionStatus?, page: Int, itemsPerPage: Int) async throws -> [UInt8] {
        let perPage = max(1, min(itemsPerPage, Self.maxItemsPerPage))
        let page = max(1, page)
        let (records, total) = try await pool.withConnection {
            try await ExecutionLedger(conn: $0).page(project: project, status: status, limit: perPage, offset: (page - 1) * perPage)
        }
        return try APIJSON.encode(Page(items: records, total: total, page: page, itemsPerPage: perPage))
    }

    /// By id or name.
    public func get(_ idOrName: String) async throws -> [UInt8] {
        let detail: Detail? = try await pool.withConnection { conn in
            let ledger = ExecutionLedger(conn: conn)
            guard let record = try await ledger.get(idOrName: idOrName) else { return nil }
            return Detail(execution: record, events: try await ledger.events(of: record.id))
        }
        guard let detail else { throw ExecutionServiceError.notFound(idOrName) }
        return try APIJSON.encode(detail)
    }

    /// `{"status": "cancelled"}` and nothing else: asks the runner to cancel (as `beamsync executions cancel`).
    /// A cancel: the execution as it is afterwards with its events, and whether it has already ended
    /// (a pending execution nothing was sent for ends `cancelled` at once; others are cancelled at
    /// their backend by the runner).
    public func patch(_ idOrName: String, body: [UInt8], actor: AuditActor) async throws -> (body: [UInt8], ended: Bool) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes: body)
        } catch let error as JSONParseError {
            throw ExecutionServiceError.malformedJSON("the body is not JSON: \(error.message) at byte \(error.offset)")
        }
        var problems: [Diagnostic] = []
        if let members = value.objectValue {
            if members["status"] != .string(ExecutionStatus.cancelled.rawValue) {
                problems.append(Diagnostic(code: members["status"] == nil ? .missingField : .invalidValue, location: nil, path: "status",
                                           message: "only {\"status\": \"cancelled\"} can be sent; the runner moves every other status",
                                           hint: "send {\"status\": \"cancelled\"} to cancel the execution"))
            }
            for key in members.keys.sorted() where key != "status" {
                problems.append(Diagnostic(code: .unknownField, location: nil, path: key, message: "unknown field '\(key)'",
                                           hint: "the only field is status"))
            }
        } else {
            problems.append(Diagnostic(code: .wrongType, location: nil, path: "", message: "expected a JSON object",
                                       hint: "send {\"status\": \"cancelled\"}"))
        }
        if !problems.isEmpty { throw ExecutionServiceError.invalid(problems) }
        let detail: Detail = try await pool.withConnection { conn in
            let ledger = ExecutionLedger(conn: conn)
            let record = try await Self.mapLedger { try await ledger.requestCancel(idOrName: idOrName, actor: actor.name) }
            return Detail(execution: record, events: try await ledger.events(of: record.id))
        }
        return (try APIJSON.encode(detail), detail.execution.isTerminal)
    }

    static func ledgerRequest(_ body: ExecutionRequestBody, actor: AuditActor) -> ExecutionRequest {
        var profileID: String? = nil
        var profileName: String? = nil
        switch body.profile {
        case .id(let id): profileID = id
        case .name(let n): profileName = n
        case .projectDefault: break
        }
        let graph: ExecutionRequest.Graph
        switch body.graph {
        case .url(let url, let sha): graph = .url(url, sha256: sha)
        case .content(let bytes): graph = .content(bytes, path: nil)
        }
        return ExecutionRequest(name: body.name, projectModule: body.projectModule, profileID: profileID, profileName: profileName,
                                graph: graph, doSubmit: body.doSubmit, createdBy: actor.name)
    }

    static func render(_ record: ExecutionRecord) throws -> [UInt8] { try APIJSON.encode(record) }

    static func mapLedger<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ExecutionLedgerError {
            if case .executionNotFound(let n) = error { throw ExecutionServiceError.notFound(n) }
            throw ExecutionServiceError.ledger(error)
        }
    }

    /// beampipe's rule: 1–128 visible ASCII characters, no whitespace.
    static func validKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 128 && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}

extension UUID {
    var lowercased: String { uuidString.lowercased() }
}
