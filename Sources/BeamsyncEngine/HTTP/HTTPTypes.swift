import BeamsyncTime
/// The methods the engine uses.
public enum HTTPMethod: String, Sendable, Hashable, CustomStringConvertible {
    case get = "GET"
    case post = "POST"
    case delete = "DELETE"
    case head = "HEAD"

    public var description: String { rawValue }
}

/// One header line. Names compare case-insensitively where it matters (`HTTPResponse.header`).
public struct HTTPHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One `name=value` pair of an `application/x-www-form-urlencoded` body.
public struct FormField: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A request body and the content type it implies.
public enum HTTPBody: Sendable, Hashable {
    /// `application/x-www-form-urlencoded`, fields in the given order.
    case form([FormField])
    /// `application/json`; the bytes are sent as they are.
    case json([UInt8])
    /// Any other payload with its content type.
    case bytes([UInt8], contentType: String)

    var contentType: String {
        switch self {
        case .form: "application/x-www-form-urlencoded"
        case .json: "application/json"
        case .bytes(_, let type): type
        }
    }

    var encoded: [UInt8] {
        switch self {
        case .form(let fields): FormEncoding.encode(fields)
        case .json(let bytes): bytes
        case .bytes(let bytes, _): bytes
        }
    }
}

/// TLS settings of one request: verification on or off (a profile's `verify_ssl`) and an optional
/// CA bundle (PEM) that replaces the system trust store.
public struct TLSOptions: Sendable, Hashable {
    public var verify: Bool
    public var caFile: String?

    public init(verify: Bool = true, caFile: String? = nil) {
        self.verify = verify
        self.caFile = caFile
    }

    public static let `default` = TLSOptions()
}

public struct HTTPRequest: Sendable, Hashable {
    public var method: HTTPMethod
    public var url: String
    public var headers: [HTTPHeader]
    public var body: HTTPBody?
    /// Time allowed to establish the TCP (and TLS) connection.
    public var connectTimeout: Duration
    /// Time allowed for the whole exchange, connection included.
    public var timeout: Duration
    public var tls: TLSOptions

    public init(_ method: HTTPMethod, _ url: String, headers: [HTTPHeader] = [], body: HTTPBody? = nil,
                connectTimeout: Duration = .seconds(10), timeout: Duration = .seconds(30), tls: TLSOptions = .default) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.tls = tls
    }
}

public struct HTTPResponse: Sendable, Hashable {
    public var status: Int
    /// Headers of the final response, in order (duplicates kept).
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

extension Duration {
    /// Whole milliseconds, at least 1 (libcurl treats 0 as "no timeout").
    var curlMilliseconds: Int { Int(max(1, inMilliseconds)) }
}
