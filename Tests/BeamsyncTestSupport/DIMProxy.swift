import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP forwarder in front of the real DIM: counts the requests it passes on and can go down
/// (connections refused) and come back on the same port.
public final class DIMProxy: @unchecked Sendable {
    public let port: Int
    private let targetHost: String
    private let targetPort: Int
    private let lock = NSLock()
    private var listener: Int32 = -1
    private var log: [String] = []

    public init(targetHost: String, targetPort: Int) throws {
        self.targetHost = targetHost
        self.targetPort = targetPort
        let (fd, port) = try listenOnLoopback(port: 0)
        self.port = port
        listener = fd
        startAccepting(fd)
    }

    /// "METHOD /path" of every request forwarded, in order.
    public var requests: [String] { lock.withLock { log } }

    public func count(_ line: String) -> Int { requests.filter { $0 == line }.count }

    /// Stops listening: new connections are refused.
    public func goDown() {
        lock.withLock {
            if listener >= 0 {
                shutdown(listener, Int32(SHUT_RDWR))
                close(listener)
                listener = -1
            }
        }
    }

    public func comeBack() throws {
        let (fd, _) = try listenOnLoopback(port: port)
        lock.withLock { listener = fd }
        startAccepting(fd)
    }

    public func stop() { goDown() }

    private func startAccepting(_ fd: Int32) {
        let thread = Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                let worker = Thread { [self] in forward(client) }
                worker.start()
            }
        }
        thread.start()
    }

    private func forward(_ client: Int32) {
        defer { close(client) }
        guard let request = Self.readRequest(client) else { return }
        let head = String(decoding: request.prefix(512), as: UTF8.self)
        let words = head.split(separator: " ", maxSplits: 2)
        if words.count >= 2 { lock.withLock { log.append("\(words[0]) \(words[1])") } }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(upstream) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(targetPort).bigEndian)
        address.sin_addr.s_addr = inet_addr(targetHost)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return }
        Self.sendAll(upstream, request)
        // DALiuGE's managers answer HTTP/1.0-style and close: relay until end of stream.
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(upstream, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            Self.sendAll(client, Array(chunk[0..<n]))
        }
    }

    /// The whole request (head and Content-Length body), with `Connection: close` forced.
    private static func readRequest(_ fd: Int32) -> [UInt8]? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int? = nil
        while headEnd == nil {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
            headEnd = buffer.firstRange(of: separator)?.upperBound
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let length = lines.first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        while buffer.count - headEnd! < length {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
        lines.removeAll { $0.lowercased().hasPrefix("connection:") || $0.lowercased().hasPrefix("expect:") }
        lines.append("Connection: close")
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + buffer[headEnd!..<(headEnd! + length)]
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }
}
