import BeamsyncOperations
import BeamsyncStore
import Foundation
import Hummingbird

/// `/api/v2/deployment-profiles`: list (filters, pages), create, read, merge-patch, delete.
/// Reading needs a read token; writing an admin token (beampipe reserves profile writes for
/// superusers) and counts against the token's write rate.
enum ProfileRoutes {
    static let path = "/api/v2/deployment-profiles"
    static let listParameters = ["project_module", "name", "is_default", "global_only", "page", "items_per_page"]

    static func register(on router: Router<BeamsyncRequestContext>, _ api: APIDependencies, limits: ServerLimits) {
        router.get(RouterPath(path)) { request, context -> Response in
            _ = try context.require(.read)
            let q = try QueryParameters(request, allowed: listParameters)
            var query = ProfileQuery(projectModule: q.string("project_module"), name: q.string("name"), isDefault: try q.bool("is_default"),
                                     globalOnly: try q.bool("global_only") ?? false)
            if query.globalOnly && query.projectModule != nil {
                throw APIError.badQuery("global_only", "cannot be combined with project_module (global profiles have none)")
            }
            query.page = try q.int("page", range: 1...1_000_000) ?? 1
            query.itemsPerPage = try q.int("items_per_page", range: 1...ProfileQuery.maxItemsPerPage) ?? ProfileQuery.defaultItemsPerPage
            let key = q.cacheKey
            let (hit, generation) = api.listCache.lookup(key)
            if let hit { return json(.ok, hit) }
            let body = ByteBuffer(bytes: try await call { try await api.profiles.list(query) })
            api.listCache.store(key, body, generation: generation)
            return json(.ok, body)
        }
        router.post(RouterPath(path)) { request, context -> Response in
            let token = try context.require(.admin)
            try api.admitWrite(token)
            try request.requireJSON()
            var request = request
            let body = try await request.bodyBytes(limit: limits.maxBodyBytes)
            let created = try await call { try await api.profiles.create(body: body, actor: token.actor) }
            api.listCache.invalidate()
            var headers = HTTPFields()
            headers[.location] = "\(path)/\(created.id)"
            headers[.eTag] = created.etag
            return json(.created, ByteBuffer(bytes: created.json), headers: headers)
        }
        router.get(RouterPath("\(path)/:id")) { request, context -> Response in
            _ = try context.require(.read)
            _ = try QueryParameters(request, allowed: [])
            let id = try context.parameters.require("id")
            guard let found = try await call({ try await api.profiles.get(id: id) }) else {
                throw APIError.notFound("no deployment profile with id \(id)")
            }
            return json(.ok, ByteBuffer(bytes: found.json), headers: etag(found.etag))
        }
        router.patch(RouterPath("\(path)/:id")) { request, context -> Response in
            let token = try context.require(.admin)
            try api.admitWrite(token)
            try request.requireJSON()
            let id = try context.parameters.require("id")
            var request = request
            let patch = try await request.bodyBytes(limit: limits.maxBodyBytes)
            let updated = try await call {
                try await api.profiles.update(id: id, patch: patch, ifMatch: request.headers[.ifMatch], actor: token.actor)
            }
            api.listCache.invalidate()
            return json(.ok, ByteBuffer(bytes: updated.json), headers: etag(updated.etag))
        }
        router.delete(RouterPath("\(path)/:id")) { request, context -> Response in
            let token = try context.require(.admin)
            try api.admitWrite(token)
            let id = try context.parameters.require("id")
            _ = try await call { try await api.profiles.delete(id: id, ifMatch: request.headers[.ifMatch], actor: token.actor) }
            api.listCache.invalidate()
            return Response(status: .noContent)
        }
    }

    /// Runs a service call, turning its refusals into HTTP answers.
    static func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ProfileServiceError {
            throw ServiceErrors.map(error)
        }
    }

    static func etag(_ value: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.eTag] = value
        return headers
    }
}

/// A JSON response from bytes already encoded.
func json(_ status: HTTPResponse.Status, _ body: ByteBuffer, headers: HTTPFields = HTTPFields()) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: .init(byteBuffer: body))
}
