import BeamsyncModel
import BeamsyncOperations
import Foundation
import Hummingbird

/// `/api/v2/executions`: create (with `Idempotency-Key`), list, read with events, cancel.
/// Reading needs a read token; creating and cancelling a write token.
enum ExecutionRoutes {
    static let path = "/api/v2/executions"
    static let listParameters = ["project_module", "status", "page", "items_per_page"]

    static func register(on router: Router<BeamsyncRequestContext>, _ api: APIDependencies, limits: ServerLimits) {
        router.post(RouterPath(path)) { request, context -> Response in
            let token = try context.require(.write)
            try api.admitWrite(token)
            try request.requireJSON()
            var request = request
            let body = try await request.bodyBytes(limit: limits.maxBodyBytes)
            let created = try await call {
                try await api.executions.create(body: body, idempotencyKey: request.headers[.init("Idempotency-Key")!], actor: token.actor)
            }
            var headers = HTTPFields()
            if let id = created.id { headers[.location] = "\(path)/\(id)" }
            if created.replayed { headers[.init("Idempotent-Replayed")!] = "true" }
            return json(HTTPResponse.Status(code: created.status), ByteBuffer(bytes: created.json), headers: headers)
        }
        router.get(RouterPath(path)) { request, context -> Response in
            _ = try context.require(.read)
            let q = try QueryParameters(request, allowed: listParameters)
            var status: ExecutionStatus? = nil
            if let text = q.string("status") {
                guard let s = ExecutionStatus(rawValue: text) else {
                    throw APIError.badQuery("status", "'\(text)' is not a status; one of \(ExecutionStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                status = s
            }
            let page = try q.int("page", range: 1...1_000_000) ?? 1
            let perPage = try q.int("items_per_page", range: 1...ExecutionService.maxItemsPerPage) ?? 50
            let body = try await call {
                try await api.executions.list(project: q.string("project_module"), status: status, page: page, itemsPerPage: perPage)
            }
            return json(.ok, ByteBuffer(bytes: body))
        }
        router.get(RouterPath("\(path)/:id")) { request, context -> Response in
            _ = try context.require(.read)
            _ = try QueryParameters(request, allowed: [])
            let id = try context.parameters.require("id")
            return json(.ok, ByteBuffer(bytes: try await call { try await api.executions.get(id) }))
        }
        router.patch(RouterPath("\(path)/:id")) { request, context -> Response in
            let token = try context.require(.write)
            try api.admitWrite(token)
            try request.requireJSON()
            let id = try context.parameters.require("id")
            var request = request
            let body = try await request.bodyBytes(limit: limits.maxBodyBytes)
            let cancelled = try await call { try await api.executions.patch(id, body: body, actor: token.actor) }
            // 200 when it ended at once (it never started); 202 when the runner still cancels the backend work.
            return json(cancelled.ended ? .ok : .accepted, ByteBuffer(bytes: cancelled.body))
        }
    }

    static func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ExecutionServiceError {
            throw ServiceErrors.map(error)
        }
    }
}
