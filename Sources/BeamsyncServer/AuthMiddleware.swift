import BeamsyncOperations
import BeamsyncStore
import Foundation
import Hummingbird

/// Which endpoints need a token. `/healthz` and `/readyz` never do; webhooks carry their own
/// signatures; everything under `/api/v2/` does (the routes ask for their scope); the status page
/// and `/api/v2/gitops/status` need a read token unless `publicStatus`; `/metrics` needs one when
/// `metricsNeedToken`.
public struct AccessPolicy: Sendable, Equatable {
    public var publicStatus: Bool
    public var metricsNeedToken: Bool

    public init(publicStatus: Bool = false, metricsNeedToken: Bool = false) {
        self.publicStatus = publicStatus
        self.metricsNeedToken = metricsNeedToken
    }

    enum Requirement: Equatable {
        case open
        /// A valid token of at least this scope; the route may ask for more.
        case token(TokenScope)
    }

    func requirement(for path: String) -> Requirement {
        switch path {
        case "/healthz", "/readyz": return .open
        case "/metrics": return metricsNeedToken ? .token(.read) : .open
        case "/", "/api/v2/gitops/status": return publicStatus ? .open : .token(.read)
        default:
            if path.hasPrefix("/hooks/") { return .open }
            return path.hasPrefix("/api/") ? .token(.read) : .open
        }
    }
}

/// Authenticates `Authorization: Bearer <token>` against the in-memory token table and puts the
/// caller into the context. Endpoints the policy leaves open are not checked (a token sent to
/// them is ignored).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = BeamsyncRequestContext
    let authenticator: TokenAuthenticator
    let policy: AccessPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard case .token(let scope) = policy.requirement(for: request.uri.path) else { return try await next(request, context) }
        switch await authenticator.authenticate(authorization: request.headers[.authorization]) {
        case .failure(let failure):
            throw Self.unauthorized(failure)
        case .success(let token):
            var context = context
            context.token = token
            _ = try context.require(scope)
            return try await next(request, context)
        }
    }

    static func unauthorized(_ failure: AuthenticationFailure) -> APIError {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = failure == .missing ? #"Bearer realm="beamsync""# : #"Bearer realm="beamsync", error="invalid_token""#
        let code: String
        switch failure {
        case .missing: code = "token_required"
        case .expired: code = "token_expired"
        case .revoked: code = "token_revoked"
        case .malformed, .unknown: code = "token_invalid"
        }
        return APIError(.unauthorized, code: code, failure.description, headers: headers)
    }
}
