/// How long and how much a client may take. A slow or silent client is cut off: a connection
/// that completes no request head within `idleSeconds` (whether it sends nothing or trickles
/// header bytes) is closed, and so is one whose body takes longer than `bodySeconds`.
public struct ServerLimits: Sendable, Equatable {
    /// No request head completed for this long (a new, an idle keep-alive or a slow-header
    /// connection): closed.
    public var idleSeconds: Int64 = 30
    /// A request body must arrive within this long of its head; otherwise 408 and the
    /// connection is closed.
    public var bodySeconds: Int64 = 30
    /// Request bodies above this get 413.
    public var maxBodyBytes = 1 << 20
    /// Header limits, enforced by the HTTP parser (exceeding them closes the connection with 400).
    public var maxHeaderFieldBytes = 8 << 10
    public var maxHeaderListBytes = 32 << 10
    public var maxHeaderCount = 100

    public init() {}

    public static let `default` = ServerLimits()
}
