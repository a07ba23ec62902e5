import BeamsyncModel
import Foundation

/// A failed HTTP exchange: what was asked (method, URL without credentials), what went wrong
/// (the kind), the status when the server answered, and the server's own message.
public struct HTTPError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Nothing listens on the port (or the host refused the connection).
        case connectionRefused = "connection refused"
        /// The host name does not resolve.
        case hostNotFound = "host not found"
        /// The connect or total timeout passed.
        case timedOut = "timed out"
        /// The TLS handshake or certificate verification failed.
        case tls = "TLS failure"
        /// The caller's task was cancelled.
        case cancelled = "cancelled"
        /// Any other transport failure (reset, empty reply, ...).
        case transport = "transport error"
        /// The server answered with a non-2xx status.
        case status = "HTTP error"
        /// The request could not be built (bad URL, bad option).
        case invalidRequest = "invalid request"
    }

    public var kind: Kind
    public var method: HTTPMethod
    /// The URL with any `user:password@` removed.
    public var url: String
    public var status: Int?
    /// The server's message for a status error (a JSON `detail` or `error` verbatim), libcurl's
    /// explanation otherwise.
    public var message: String
    /// libcurl's result code for transport failures.
    public var curlCode: Int?

    public init(kind: Kind, method: HTTPMethod, url: String, status: Int? = nil, message: String, curlCode: Int? = nil) {
        self.kind = kind
        self.method = method
        self.url = HTTPError.redact(url)
        self.status = status
        self.message = message
        self.curlCode = curlCode
    }

    /// The error for a response whose status is not 2xx.
    public init(method: HTTPMethod, url: String, response: HTTPResponse) {
        self.init(kind: .status, method: method, url: url, status: response.status,
                  message: HTTPError.serverMessage(response))
    }

    /// True for failures where the peer was never reached or did not answer in time.
    public var isUnreachable: Bool {
        switch kind {
        case .connectionRefused, .hostNotFound, .timedOut, .transport: true
        default: false
        }
    }

    public var description: String {
        var text = "\(method) \(url): "
        if let status {
            text += "HTTP \(status)"
        } else {
            text += kind.rawValue
        }
        if !message.isEmpty { text += ": \(message)" }
        return text
    }

    // MARK: Server messages

    /// What the server said, as briefly as it said it:
    /// - a JSON object's `detail` or `error` (a string verbatim, anything else as compact JSON);
    /// - a DALiuGE manager error `{"type": T, "args": A}` as `T: A`;
    /// - any other JSON as compact JSON;
    /// - an HTML page's `<pre>` or `<title>` text;
    /// - plain text trimmed. Long messages are cut at 2,000 characters.
    public static func serverMessage(_ response: HTTPResponse) -> String {
        let body = response.body
        if body.isEmpty { return "" }
        if let json = try? JSONValue.parse(bytes: body) {
            if let object = json.objectValue {
                for key in ["detail", "error"] {
                    if let value = object[key] { return verbatim(value) }
                }
                if let type = object["type"]?.stringValue, let args = object["args"] {
                    return clip("\(type): \(verbatim(args))")
                }
            }
            return clip(json.canonicalString)
        }
        let text = String(decoding: body, as: UTF8.self)
        if text.range(of: "<html", options: .caseInsensitive) != nil || text.hasPrefix("<!DOCTYPE") {
            if let pre = between(text, "<pre>", "</pre>") ?? between(text, "<title>", "</title>") {
                return clip(unescapeHTML(pre).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        return clip(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private static func verbatim(_ value: JSONValue) -> String {
        if let s = value.stringValue { return s }
        return value.canonicalString
    }

    private static func clip(_ text: String) -> String {
        text.count > 2000 ? String(text.prefix(2000)) + "…" : text
    }

    private static func between(_ text: String, _ open: String, _ close: String) -> String? {
        guard let start = text.range(of: open, options: .caseInsensitive),
              let end = text.range(of: close, options: .caseInsensitive, range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    private static func unescapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&#039;", with: "'").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// Removes `user:password@` from a URL so that errors and logs never carry credentials.
    static func redact(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
    }
}
