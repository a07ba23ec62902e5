import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension SSHConnection {
    /// The target's addresses. getaddrinfo blocks and ignores the deadline; it runs on this
    /// session's own thread.
    func resolve() throws -> [(family: Int32, address: [UInt8])] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard rc == 0, let list else {
            throw SSHError.resolveFailed(endpoint: endpoint, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(list) }
        var result: [(Int32, [UInt8])] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = list
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                let bytes = UnsafeRawBufferPointer(start: address, count: Int(entry.pointee.ai_addrlen))
                result.append((entry.pointee.ai_family, Array(bytes)))
            }
            cursor = entry.pointee.ai_next
        }
        return result
    }

    /// Connects a non-blocking socket to the first address that answers.
    func openSocket(_ addresses: [(family: Int32, address: [UInt8])], _ operation: UInt64,
                            _ deadline: ContinuousClock.Instant) async throws -> (Int32, Int) {
        var lastError: Int32 = ECONNREFUSED
        for (family, address) in addresses {
            let fd = Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errno; continue }
            var connected = address.withUnsafeBytes { raw in
                Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            } == 0
            if !connected && errno == EINPROGRESS {
                loop.socket = fd
                do {
                    try await loop.wait(operation: operation, events: Int16(POLLOUT), deadline: deadline, isolation: self)
                } catch {
                    loop.socket = -1
                    Glibc.close(fd)
                    throw error
                }
                loop.socket = -1
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                connected = soError == 0
                if !connected { lastError = soError }
            } else if !connected {
                lastError = errno
            }
            if connected {
                var on: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, socklen_t(MemoryLayout<Int32>.size))
                return (fd, Self.localPort(fd))
            }
            Glibc.close(fd)
        }
        if lastError == ECONNREFUSED { throw SSHError.connectionRefused(endpoint: endpoint) }
        throw SSHError.connectFailed(endpoint: endpoint, reason: String(cString: strerror(lastError)))
    }

    static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return 0 }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return 0
        }
    }
}
