import Hummingbird

/// A request's query string, checked against the parameters an endpoint knows: an unknown one
/// (a typo such as `?project=`) is a 400 that lists the known ones, not a silently ignored filter.
struct QueryParameters {
    private var values: [String: String] = [:]

    init(_ request: Request, allowed: [String]) throws {
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard allowed.contains(name) else {
                throw APIError.badQuery(name, "unknown parameter; this endpoint takes \(allowed.joined(separator: ", "))")
            }
            guard values[name] == nil else { throw APIError.badQuery(name, "given more than once") }
            values[name] = String(value)
        }
    }

    func string(_ name: String) -> String? { values[name] }

    func bool(_ name: String) throws -> Bool? {
        guard let text = values[name] else { return nil }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.badQuery(name, "'\(text)' is not true or false")
        }
    }

    func int(_ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text = values[name] else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw APIError.badQuery(name, "'\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// A stable key for the response cache: parameters in name order.
    var cacheKey: String {
        values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: "&")
    }
}

extension Request {
    /// The body `RequestBodyGuard` has already read.
    mutating func bodyBytes(limit: Int) async throws -> [UInt8] {
        Array(buffer: try await collectBody(upTo: limit))
    }

    /// JSON bodies only (`application/json`, `application/merge-patch+json` or any `+json` type).
    func requireJSON() throws {
        let type = headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let type, type == "application/json" || type.hasSuffix("+json") else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                           "the body must be JSON: send Content-Type: application/json (found \(type ?? "no Content-Type"))")
        }
    }
}
