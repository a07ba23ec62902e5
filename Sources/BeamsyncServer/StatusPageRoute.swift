import BeamsyncOperations
import BeamsyncStore
import Foundation
import Hummingbird

/// `GET /`: reads the query (`q`, `drifted`, `page`, `per_page`), asks for the overview and
/// answers with the page and headers that keep it self-contained.
enum StatusPageRoute {
    /// A query parameter that cannot be used; the page answers 400 naming it.
    struct BadParameter: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// The inventory query from the URL's parameters.
    static func query(_ parameters: [String: String]) throws(BadParameter) -> InventoryQuery {
        func number(_ name: String, default value: Int, in range: ClosedRange<Int>) throws(BadParameter) -> Int {
            guard let text = parameters[name], !text.isEmpty else { return value }
            guard let n = Int(text), range.contains(n) else {
                throw BadParameter(description: "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), "
                                   + "found '\(String(text.prefix(40)))'")
            }
            return n
        }
        let perPage = try number("per_page", default: InventoryQuery.defaultPerPage, in: 1...InventoryQuery.maxPerPage)
        let page = try number("page", default: 1, in: 1...1_000_000)
        let search = parameters["q"]
        if let search, search.count > InventoryQuery.maxSearchLength {
            throw BadParameter(description: "q is longer than \(InventoryQuery.maxSearchLength) characters; search for a shorter part of the name or path")
        }
        let drifted: Bool
        switch parameters["drifted"] {
        case nil, "", "0", "false", "off": drifted = false
        case "1", "true", "on": drifted = true
        case let other?:
            throw BadParameter(description: "drifted must be 1 or 0, found '\(String(other.prefix(40)))'")
        }
        return InventoryQuery(search: search, driftedOnly: drifted, page: page, perPage: perPage)
    }

    static func respond(_ request: Request, context: some RequestContext, _ deps: ServerDependencies) async -> Response {
        let parameters = formParameters(request.uri.query)
        let inventory: InventoryQuery
        do {
            inventory = try query(parameters)
        } catch {
            return page(.badRequest, StatusPage.unavailable("bad request: \(error.description)"))
        }
        do {
            return page(.ok, StatusPage.html(try await deps.overview(inventory)))
        } catch {
            context.logger.error("status page failed", metadata: ["error": .string("\(error)")])
            return page(.serviceUnavailable, StatusPage.unavailable("the status cannot be read now (the database did not answer); see the controller's log"))
        }
    }

    /// `a=1&q=two+words` as an HTML form sends it (`+` is a space, then percent-decoding); the
    /// first value of a repeated name wins.
    static func formParameters(_ query: String?) -> [String: String] {
        var out: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let name = decode(parts[0])
            if out[name] == nil { out[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return out
    }

    /// The policy allows the inline style sheet and nothing else; the page is never cached or framed.
    static func page(_ status: HTTPResponse.Status, _ html: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.contentSecurityPolicy] = StatusPageStyle.contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-store"
        headers[.init("Referrer-Policy")!] = "no-referrer"
        headers[.init("X-Frame-Options")!] = "DENY"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
