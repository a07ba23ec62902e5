import BeamsyncController
import BeamsyncOperations
import BeamsyncStore
import Foundation
import Hummingbird
import HummingbirdCore
import Logging

/// What the HTTP server needs from the rest of beamsync.
public struct ServerDependencies: Sendable {
    public var metrics: ControllerMetrics
    public var secrets: WebhookSecrets
    /// Asks for a reconcile where the leader sees it (a webhook is a hint); a throw is a 503.
    public var wake: @Sendable () async throws -> Void
    /// The status document served at /api/v2/gitops/status.
    public var status: @Sendable () async throws -> GitOpsStatus
    /// Whether the database answers (for /readyz).
    public var databaseReady: @Sendable () async -> Bool
    /// Webhook bodies larger than this are refused with 413.
    public var maxBodyBytes: Int = 1 << 20
    /// Which endpoints need a token.
    public var access = AccessPolicy()
    /// The token table (shared with `api` when the API is served).
    public var authenticator = TokenAuthenticator()
    /// The API v2 routes; nil serves only health, metrics, status and webhooks.
    public var api: APIDependencies?
    public var limits = ServerLimits.default
    /// What the status page at / shows (by default: the status document and nothing else).
    public var overview: @Sendable (InventoryQuery) async throws -> StatusOverview
    /// Keeps a record of each webhook request (by default: none).
    public var recordDelivery: @Sendable (WebhookDelivery) async -> Void = { _ in }

    public init(metrics: ControllerMetrics, secrets: WebhookSecrets, wake: @escaping @Sendable () async throws -> Void,
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
    public static func router(_ deps: ServerDependencies) -> Router<BeamsyncRequestContext> {
        let router = Router(context: BeamsyncRequestContext.self)
        // Middleware applies to the routes added after it: first.
        router.add(middleware: JSONErrorMiddleware<BeamsyncRequestContext>())
        router.add(middleware: RequestBodyGuard<BeamsyncRequestContext>(limits: deps.limits, timer: DeadlineTimer()))
        router.add(middleware: AuthMiddleware(authenticator: deps.api?.authenticator ?? deps.authenticator, policy: deps.access))
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            await deps.databaseReady()
                ? text(.ok, "ready\n")
                : APIError.unavailable("the database does not answer").response()
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
                    throw APIError(.contentTooLarge, code: "body_too_large", "webhook body larger than \(deps.maxBodyBytes) bytes")
                }
                let verdict = WebhookAuthenticator.verify(provider, headers: headers, body: Array(buffer: body), secrets: deps.secrets)
                switch verdict {
                case .accepted:
                    do {
                        try await deps.wake()
                    } catch {
                        await delivered("failed", .serviceUnavailable, "the reconcile request could not be recorded in the database")
                        throw APIError.unavailable("the reconcile request could not be recorded in the database; send the webhook again")
                    }
                    await delivered("accepted", .accepted, nil)
                    return text(.accepted, "reconcile requested\n")
                case .disabled:
                    await delivered("disabled", .notFound, "no secret is configured")
                    throw APIError.notFound("no secret is configured for \(provider.rawValue) webhooks")
                case .rejected(let why):
                    await delivered("rejected", .unauthorized, why)
                    throw APIError(.unauthorized, code: "bad_signature", why)
                }
            }
        }
        if let api = deps.api {
            ProfileRoutes.register(on: router, api, limits: deps.limits)
            ExecutionRoutes.register(on: router, api, limits: deps.limits)
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

    /// The application bound to `host:port` (port 0: any free port, reported to `onRunning`).
    /// With the API, the token table is loaded before the first request is accepted and
    /// `APIChangeFeed` runs beside the server.
    public static func application(_ deps: ServerDependencies, host: String, port: Int, logger: Logger,
                                   onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let limits = deps.limits
        var decoder = HTTP1Channel.Configuration.DecoderConfiguration()
        decoder.maxHeaderFieldSize = limits.maxHeaderFieldBytes
        decoder.maxHeaderListSize = limits.maxHeaderListBytes
        decoder.maxHeaderFieldCount = limits.maxHeaderCount
        var app = Application(router: router(deps),
                              server: .http1(configuration: .init(idleTimeout: .seconds(limits.idleSeconds), httpDecoderConfiguration: decoder)),
                              configuration: .init(address: .hostname(host, port: port), serverName: "beamsync"),
                              onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
                              logger: logger)
        if let feed = deps.api?.feed {
            app.beforeServerStarts { try await feed.loadTokens() }
            app.addServices(APIFeedService(feed: feed))
        }
        return app
    }
}
