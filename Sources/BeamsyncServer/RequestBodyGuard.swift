import Foundation
import Hummingbird

/// Reads every request body before any route sees it: within `bodySeconds` of the head and up to
/// `maxBodyBytes`. Routes then work on the buffered bytes.
///
/// A body that does not finish in time gets 408, a larger one 413 (the rest is read and thrown
/// away within the same deadline, so a fast client keeps its connection). When the deadline
/// passes, the read is cancelled, which stops the connection from reading at all; the server's
/// idle timeout then closes it, since no further request can start. Without this a client
/// sending one byte a second kept its connection forever: body bytes count as activity.
struct RequestBodyGuard<Context: RequestContext>: RouterMiddleware {
    let limits: ServerLimits
    /// The body deadlines of every request (one ticking task, not a timer per request).
    let timer: DeadlineTimer

    enum Outcome: Sendable {
        case complete(ByteBuffer)
        case tooLarge(Int)
        case failed
        case timedOut
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.hasBody(request) else { return try await next(request, context) }
        var request = request
        switch await Self.read(request.body, limit: limits.maxBodyBytes, within: .seconds(limits.bodySeconds), timer: timer) {
        case .complete(let buffer):
            request.body = RequestBody(buffer: buffer)
            return try await next(request, context)
        case .tooLarge(let size):
            throw APIError(.contentTooLarge, code: "body_too_large",
                           "the request body is \(size) bytes; at most \(limits.maxBodyBytes) are accepted",
                           details: ["limit_bytes": .int(Int64(limits.maxBodyBytes))])
        case .failed:
            throw APIError(.badRequest, code: "body_unreadable", "the request body could not be read")
        case .timedOut:
            var headers = HTTPFields()
            headers[.connection] = "close"
            throw APIError(.requestTimeout, code: "body_timeout",
                           "the request body did not arrive within \(limits.bodySeconds) s; the connection is closed",
                           headers: headers)
        }
    }

    /// HTTP/1.1: a request has a body only with Content-Length (above 0) or Transfer-Encoding.
    static func hasBody(_ request: Request) -> Bool {
        if request.headers[.transferEncoding] != nil { return true }
        if let length = request.headers[.contentLength], let n = Int(length) { return n > 0 }
        return false
    }

    /// The body, or why not. The reader runs beside a timer; whichever ends first cancels the
    /// other, and a cancelled read ends the connection's input.
    static func read(_ body: RequestBody, limit: Int, within deadline: Duration, timer: DeadlineTimer) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                var collected = ByteBuffer()
                var size = 0
                do {
                    for try await chunk in body {
                        size += chunk.readableBytes
                        guard size <= limit else { continue }  // keep draining, keep nothing
                        var chunk = chunk
                        collected.writeBuffer(&chunk)
                    }
                } catch {
                    return Task.isCancelled ? nil : .failed
                }
                return size > limit ? .tooLarge(size) : .complete(collected)
            }
            group.addTask {
                await timer.wait(for: deadline)
                return Task.isCancelled ? nil : .timedOut
            }
            var outcome: Outcome = .timedOut
            if let first = await group.next(), let value = first { outcome = value }
            group.cancelAll()
            return outcome
        }
    }
}
