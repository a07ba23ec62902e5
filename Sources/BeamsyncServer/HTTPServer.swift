import BeamsyncController
import BeamsyncOperations
import BeamsyncStore
import Foundation
import Hummingbird
import Logging

/// What the HTTP server needs from the rest of beamsync.
public struct ServerDependencies: Sendable {
    public var metrics: ControllerMetrics
    public var secrets: WebhookSecrets
    /// Wakes the controller (a webhook is a hint).
    public var wake: @Sendable () -> Void
    /// The status document served at /api/v2/gitops/status.
    public var status: @Sendable () async throws -> GitOpsStatus
    /// Whether the database answers (for /readyz).
    public var databaseReady: @Sendable () async -> Bool
    /// Webhook bodies larger than this are refused with 413.
    public var maxBodyBytes: Int = 1 << 20
    /// What the status page at / shows (by default: the status document and nothing else).
    public var overview: @Sendable (InventoryQuery) async throws -> StatusOverview
    /// Keeps a record of each webhook request (by default: none).
    public var recordDelivery: @Sendable (WebhookDelivery) async -> Void = { _ in }

    public init(metrics: ControllerMetrics, secrets: WebhookSecrets, wake: @escaping @Sendable () -> Void,
                status: @escaping @Sendable () async throws -> GitOpsStatus, databaseReady: @escaping @Sendable () async -> Bool) {
        self.metrics = metrics
        self.secrets = secrets
        self.wake = wake
        self.status = status
        self.databaseReady = databaseReady
        overview = { query in StatusOverview(status: try await status(), inventory: InventoryPage(query: query, rows: [], total: 0)) }
    }
}

/// The controller's HTTP endpoints: health, readiness, metrics, webhooks, status.
public enum BeamsyncHTTP {
    public static func router(_ deps: ServerDependencies) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            await deps.databaseReady()
                ? text(.ok, "ready\n")
                : text(.serviceUnavailable, "database unreachable\n")
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: deps.metrics.render())))
        }
        router.get("/api/v2/gitops/status") { _, _ -> Response in
            json(.ok, try await deps.status().json())
        }
        router.get("/") { request, context -> Response in
            await StatusPageRoute.respond(request, context: context, deps)
        }
        for provider in WebhookProvider.allCases {
            router.post("/hooks/\(provider.rawValue)") { request, _ -> Response in
                var request = request
                var headers: [String: String] = [:]
                for field in request.headers { headers[field.name.canonicalName] = field.value }
                func delivered(_ result: String, _ status: HTTPResponse.Status, _ message: String?) async {
                    deps.metrics.webhook(provider: provider.rawValue, result: result)
                    await deps.recordDelivery(WebhookDelivery(provider: provider.rawValue, result: result, httpStatus: Int(status.code),
                                                              event: provider.event(headers), delivery: provider.delivery(headers),
                                                              message: message))
                }
                let body: ByteBuffer
                do {
                    body = try await request.collectBody(upTo: deps.maxBodyBytes)
                } catch {
                    await delivered("too_large", .contentTooLarge, "body larger than \(deps.maxBodyBytes) bytes")
                    return text(.contentTooLarge, "body larger than \(deps.maxBodyBytes) bytes\n")
                }
                let verdict = WebhookAuthenticator.verify(provider, headers: headers, body: Array(buffer: body), secrets: deps.secrets)
                switch verdict {
                case .accepted:
                    await delivered("accepted", .accepted, nil)
                    deps.wake()
                    return text(.accepted, "reconcile requested\n")
                case .disabled:
                    await delivered("disabled", .notFound, "no secret is configured")
                    return text(.notFound, "no secret is configured for \(provider.rawValue) webhooks\n")
                case .rejected(let why):
                    await delivered("rejected", .unauthorized, why)
                    return text(.unauthorized, "\(why)\n")
                }
            }
        }
        return router
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
    }

    /// The application bound to `host:port`.
    public static func application(_ deps: ServerDependencies, host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        Application(router: router(deps), configuration: .init(address: .hostname(host, port: port), serverName: "beamsync"), logger: logger)
    }
}
