import Foundation

/// An HTTP/1.1 client over libcurl. Transfers run on the client's own threads (never on the
/// cooperative pool), with connect and total timeouts, TLS verification per request and task
/// cancellation that aborts the transfer. It logs nothing, so neither URLs' credentials nor
/// bodies can leak through it.
public final class HTTPClient: Sendable {
    private let workers: HTTPWorkers
    private let sent = RequestCounter()
    /// How many transfers may run at once.
    public let threads: Int

    /// At most this many requests to one scheme://host:port at once (nil: no limit).
    public let maxPerHost: Int?
    private let gate: HostGate?

    /// `threads`: how many transfers may run at once; more requests wait their turn.
    /// `maxPerHost`: how many of them may go to the same server at once; others to it wait.
    public init(threads: Int = 2, name: String = "beamsync-http", maxPerHost: Int? = nil) {
        self.threads = max(1, threads)
        self.maxPerHost = maxPerHost.map { max(1, $0) }
        gate = self.maxPerHost.map(HostGate.init(limit:))
        workers = HTTPWorkers(count: self.threads, name: name)
    }

    /// Requests sent through this client so far (for metrics and benchmarks).
    public var requestsSent: Int { sent.value }

    deinit { workers.stop() }

    /// Sends the request and returns the response, whatever its status. Throws only when there is
    /// no response: connection refused, host not found, timeout, TLS failure, cancellation.
    public func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        let host = gate == nil ? "" : Self.origin(of: request.url)
        if let gate, await !gate.enter(host) {
            throw HTTPError(kind: .cancelled, method: request.method, url: request.url, message: "cancelled before sending")
        }
        let flag = CancelFlag()
        sent.increment()
        let result: Result<HTTPResponse, HTTPError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                workers.submit { handle in
                    guard let handle else {
                        continuation.resume(returning: .failure(HTTPError(
                            kind: .invalidRequest, method: request.method, url: request.url,
                            message: "libcurl could not create a handle")))
                        return
                    }
                    if flag.isCancelled {
                        continuation.resume(returning: .failure(HTTPError(
                            kind: .cancelled, method: request.method, url: request.url, message: "cancelled before sending")))
                        return
                    }
                    continuation.resume(returning: handle.perform(request, cancel: flag))
                }
            }
        } onCancel: {
            flag.cancel()
        }
        if let gate { await gate.leave(host) }
        return try result.get()
    }

    /// `scheme://host:port` of a URL (without credentials), the key of the per-host limit.
    static func origin(of url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        return url[..<schemeEnd.upperBound].lowercased() + authority.lowercased()
    }

    /// Sends the request and throws `HTTPError` with kind `.status` unless the status is 2xx.
    public func sendExpectingSuccess(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        let response = try await send(request)
        guard response.isSuccess else { throw HTTPError(method: request.method, url: request.url, response: response) }
        return response
    }
}

/// A thread-safe counter.
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// Admits at most `limit` requests per server at once, the others in arrival order.
public actor HostGate {
    public let limit: Int
    private var inFlight: [String: Int] = [:]
    private var waiting: [String: [(id: UInt64, continuation: CheckedContinuation<Bool, Never>)]] = [:]
    private var nextID: UInt64 = 0

    public init(limit: Int) { self.limit = limit }

    /// true: go ahead (call `leave` afterwards); false: the task was cancelled while waiting.
    public func enter(_ host: String) async -> Bool {
        if inFlight[host, default: 0] < limit {
            inFlight[host, default: 0] += 1
            return true
        }
        let id = nextID
        nextID += 1
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                if Task.isCancelled {
                    continuation.resume(returning: false)
                } else {
                    waiting[host, default: []].append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.withdraw(host, id) }
        }
    }

    /// Hands the slot to the next waiter for `host`, or frees it.
    public func leave(_ host: String) {
        if var queue = waiting[host], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[host] = queue.isEmpty ? nil : queue
            next.continuation.resume(returning: true)
            return
        }
        let remaining = inFlight[host, default: 1] - 1
        inFlight[host] = remaining > 0 ? remaining : nil
    }

    private func withdraw(_ host: String, _ id: UInt64) {
        guard var queue = waiting[host], let index = queue.firstIndex(where: { $0.id == id }) else { return }
        let waiter = queue.remove(at: index)
        waiting[host] = queue.isEmpty ? nil : queue
        waiter.continuation.resume(returning: false)
    }
}
