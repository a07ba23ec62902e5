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

    /// `threads`: how many transfers may run at once; more requests wait their turn.
    public init(threads: Int = 2, name: String = "beamsync-http") {
        self.threads = max(1, threads)
        workers = HTTPWorkers(count: self.threads, name: name)
    }

    /// Requests sent through this client so far (for metrics and benchmarks).
    public var requestsSent: Int { sent.value }

    deinit { workers.stop() }

    /// Sends the request and returns the response, whatever its status. Throws only when there is
    /// no response: connection refused, host not found, timeout, TLS failure, cancellation.
    public func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
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
        return try result.get()
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
