import BeamsyncOperations
import BeamsyncStore
import Hummingbird

/// The per-request state the middleware hands to the routes: who the caller is.
public struct BeamsyncRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware` when the request carried a valid token.
    public var token: AuthenticatedToken?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Bodies are read (and limited) by `RequestBodyGuard`, not by Hummingbird's decoders.
    public var maxUploadSize: Int { ServerLimits.default.maxBodyBytes }

    /// The caller, who must hold at least `scope` (403 otherwise; 401 without a token).
    public func require(_ scope: TokenScope) throws -> AuthenticatedToken {
        guard let token else { throw AuthMiddleware.unauthorized(.missing) }
        guard token.scope >= scope else {
            throw APIError(.forbidden, code: "insufficient_scope",
                           "token '\(token.name)' has scope \(token.scope.rawValue); this needs \(scope.rawValue) "
                               + "(create one with `beamsync token create --scope \(scope.rawValue)`)",
                           details: ["required_scope": .string(scope.rawValue), "token_scope": .string(token.scope.rawValue)])
        }
        return token
    }
}
