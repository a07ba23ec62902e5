import BeamsyncServer
import BeamsyncTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// A raw TCP client that sends a request a little at a time, on its own thread (its blocking
/// socket calls must not hold Swift's cooperative threads, which the in-process server uses).
enum SlowClient {
    struct Outcome: Sendable {
        /// Seconds from connecting until the server closed the connection (nil: still open at the end).
        var closedAfter: Double?
        /// Everything the server sent.
        var received: String
    }

    /// Sends `prefix` at once, then `trickle` one byte every `interval` seconds, for at most
    /// `giveUpAfter` seconds, reading whatever the server answers.
    static func run(port: Int, prefix: String, trickle: String, interval: Double, giveUpAfter: Double) async -> Outcome {
        await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(returning: blockingRun(port: port, prefix: Array(prefix.utf8), trickle: Array(trickle.utf8),
                                                           interval: interval, giveUpAfter: giveUpAfter))
            }.start()
        }
    }

    private static func blockingRun(port: Int, prefix: [UInt8], trickle: [UInt8], interval: Double, giveUpAfter: Double) -> Outcome {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return Outcome(closedAfter: 0, received: "connect failed") }
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var noSignal: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &noSignal, socklen_t(MemoryLayout<Int32>.size))
        let start = Date()
        var received: [UInt8] = []
        _ = prefix.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var next = start.addingTimeInterval(interval)
        var sent = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date().timeIntervalSince(start) < giveUpAfter {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                return Outcome(closedAfter: Date().timeIntervalSince(start), received: String(decoding: received, as: UTF8.self))
            }
            if n > 0 { received += buffer[0..<n] }
            if Date() >= next, sent < trickle.count {
                var byte = trickle[sent]
                if send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) < 0 {
                    return Outcome(closedAfter: Date().timeIntervalSince(start), received: String(decoding: received, as: UTF8.self))
                }
                sent += 1
                next = next.addingTimeInterval(interval)
            }
        }
        return Outcome(closedAfter: nil, received: String(decoding: received, as: UTF8.self))
    }
}

@Suite("Slow and silent clients are closed", .serialized, .enabled(if: apiTestsEnabled))
struct SlowClientTests {
    @Test("the defaults close slow or silent clients within 30 s and limit sizes")
    func defaults() {
        let limits = ServerLimits.default
        #expect(limits.idleSeconds <= 30 && limits.bodySeconds <= 30 && limits.idleSeconds > 0 && limits.bodySeconds > 0)
        #expect(limits.maxBodyBytes == 1 << 20 && limits.maxHeaderListBytes <= 64 << 10)
    }

    @Test("a client trickling header bytes, one sending nothing, and one trickling its body are all cut off")
    func slowClients() async throws {
        var limits = ServerLimits()
        limits.idleSeconds = 2
        limits.bodySeconds = 2
        try await withAPIServer(limits: limits) { server in
            // One header byte every 0.3 s: the head never completes; closed after the idle time.
            let header = await SlowClient.run(port: server.port, prefix: "GET /healthz HTTP/1.1\r\n",
                                              trickle: "Host: 127.0.0.1\r\nX-Padding: " + String(repeating: "a", count: 200),
                                              interval: 0.3, giveUpAfter: 12)
            #expect(header.closedAfter.map { $0 >= 1.5 && $0 < 6 } == true, "closed after \(String(describing: header.closedAfter))")

            let silent = await SlowClient.run(port: server.port, prefix: "", trickle: "", interval: 1, giveUpAfter: 12)
            #expect(silent.closedAfter.map { $0 >= 1.5 && $0 < 6 } == true, "closed after \(String(describing: silent.closedAfter))")

            // A complete head, then one body byte every 0.3 s: 408 once the body time is up, then closed.
            let body = await SlowClient.run(port: server.port,
                                            prefix: "POST /hooks/generic HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
                                            trickle: String(repeating: "b", count: 100), interval: 0.3, giveUpAfter: 15)
            #expect(body.received.hasPrefix("HTTP/1.1 408"), "\(body.received)")
            #expect(body.received.contains("\"code\":\"body_timeout\""))
            #expect(body.closedAfter.map { $0 < 9 } == true, "closed after \(String(describing: body.closedAfter))")

            // A keep-alive connection that sends a whole request at once is served normally.
            let fast = await SlowClient.run(port: server.port, prefix: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", trickle: "",
                                            interval: 1, giveUpAfter: 1)
            #expect(fast.received.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test("over-long headers and bodies are refused")
    func sizeLimits() async throws {
        try await withAPIServer { server in
            let huge = String(repeating: "h", count: 40 << 10)
            let r = try await Curl.request("GET", "\(server.base)/healthz", headers: ["X-Huge": huge])
            #expect(r.status == 400 || r.status == 431, "\(r.status)")
            let big = String(repeating: "x", count: (1 << 20) + 10)
            let tooLarge = try await Curl.request("POST", "\(server.base)/hooks/generic", headers: ["Content-Type": "application/json"], body: big)
            #expect(tooLarge.status == 413 && tooLarge.text.contains("body_too_large"))
        }
    }
}
