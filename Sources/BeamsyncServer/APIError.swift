import BeamsyncModel
import Foundation
import Hummingbird

/// Every error the HTTP server answers, as JSON:
/// `{"error": "<what happened and what to do>", "code": "<stable word>", ...details}`.
/// Validation errors add `diagnostics: [{path, code, message, hint}]`; the details of other
/// errors are listed in docs/api.md. Messages never repeat a token or a secret.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// More members of the body (`diagnostics`, `git`, `executions`, ...).
    public var details: [String: JSONValue]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, details: [String: JSONValue] = [:],
                headers: HTTPFields = HTTPFields()) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }

    public var body: JSONValue {
        var o = details
        o["error"] = .string(message)
        o["code"] = .string(code)
        return .object(o)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    public func response() -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body.canonicalBytes + [0x0A])))
    }

    /// 422 with every problem at its field path.
    public static func invalid(_ diagnostics: [Diagnostic], what: String) -> APIError {
        let count = diagnostics.count
        return APIError(.unprocessableContent, code: "validation_failed",
                        "\(what) is not valid: \(count) problem\(count == 1 ? "" : "s"); see diagnostics",
                        details: ["diagnostics": .array(diagnostics.map(problem))])
    }

    public static func problem(_ d: Diagnostic) -> JSONValue {
        .object(["path": .string(d.path), "code": .string(d.code.rawValue), "message": .string(d.message),
                 "hint": d.hint.map(JSONValue.string) ?? .null])
    }

    public static func malformedJSON(_ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_json", message + "; send a JSON object with Content-Type: application/json")
    }

    public static func badQuery(_ parameter: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_query", "query parameter '\(parameter)': \(message)", details: ["parameter": .string(parameter)])
    }

    public static func notFound(_ message: String) -> APIError {
        APIError(.notFound, code: "not_found", message)
    }

    public static func internalError() -> APIError {
        APIError(.internalServerError, code: "internal_error", "the server failed to answer; the error is in its log")
    }

    public static func unavailable(_ message: String) -> APIError {
        APIError(.serviceUnavailable, code: "unavailable", message)
    }
}

/// Any error a handler throws becomes a JSON error body: `APIError` as it is, Hummingbird's
/// `HTTPError` (unknown route, wrong method, ...) with its status, anything else as a 500 whose
/// detail goes to the log only.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response()
        } catch let error as HTTPError {
            let code: String
            switch error.status {
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .contentTooLarge: code = "body_too_large"
            default: code = "http_\(error.status.code)"
            }
            let message = error.body ?? (error.status == .notFound
                ? "no such endpoint: \(request.method.rawValue) \(request.uri.path) (the API is described in docs/api.md)"
                : error.status.reasonPhrase)
            return APIError(error.status, code: code, message, headers: error.headers).response()
        } catch {
            context.logger.error("request failed", metadata: ["path": .string(request.uri.path), "error": .string("\(error)")])
            return APIError.internalError().response()
        }
    }
}
