@testable import BeamsyncSSH
import BeamsyncTestSupport
import Foundation
import Testing

/// The private sshd of scripts/sshd.sh (`TestServices.SSHServer`), as these tests use it.
extension TestServices.SSHServer {
    /// The directory scripts/sshd.sh was started with (the key lives in DIR/client/).
    var directory: String { ((key as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent }

    var target: SSHTarget { SSHTarget(host: host, port: port, user: user) }

    func credential(key: String? = nil, passphrase: String? = nil, knownHosts: String? = nil) -> SSHCredential {
        SSHCredential(privateKey: .file(path: key ?? self.key), passphrase: passphrase.map(SSHSecret.init),
                      hostKeyCheck: .knownHosts(path: knownHosts ?? self.knownHosts),
                      passphraseSource: passphrase == nil ? nil : "the test passphrase")
    }

    func passphrase() throws -> String {
        try String(contentsOfFile: passphraseFile, encoding: .utf8).trimmingCharacters(in: .newlines)
    }

    func connect(_ credential: SSHCredential? = nil, timeout: Duration = .seconds(20)) async throws -> SSHSession {
        try await SSHSession.connect(to: target, credential: credential ?? self.credential(), timeout: timeout)
    }
}

/// A temporary directory, removed by `remove()`.
struct Scratch {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "beamsync-ssh-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func sub(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o600) throws -> String {
        let file = sub(name)
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, mode_t(mode))
        return file
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs a program to completion and returns its standard output (failing on a non-zero exit).
@discardableResult
func run(_ program: String, _ arguments: [String]) throws -> String {
    try ProgramOutput.of(program, arguments)
}

/// Awaits `body` and returns the error it throws (recording an issue when it succeeds).
func thrownError<T>(_ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation) async -> Error? {
    do {
        _ = try await body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

extension TestServices.SSHServer {
    /// Restarts the server with scripts/sshd.sh (same directory, so the same host key and port):
    /// every open connection drops.
    func restart() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/sshd.sh").path
        try run("/bin/bash", [script, "restart", directory])
    }

    /// The server's log (LogLevel VERBOSE names each connection's client port).
    func log() throws -> String {
        try String(contentsOfFile: directory + "/sshd.log", encoding: .utf8)
    }

    /// Kills the sshd processes serving the connection that comes from local port `clientPort`,
    /// as if that connection's server side crashed. Found through /proc (socket inode → pids),
    /// never by process name.
    func killServerSide(ofClientPort clientPort: Int) throws -> [Int32] {
        let inodes = try serverSocketInodes(clientPort: clientPort)
        try #require(!inodes.isEmpty, "no server-side socket for client port \(clientPort)")
        var pids: [Int32] = []
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
            guard let pid = Int32(entry) else { continue }
            let fdDir = "/proc/\(entry)/fd"
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: fdDir) else { continue }
            for fd in fds {
                if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDir)/\(fd)"),
                   inodes.contains(where: { link == "socket:[\($0)]" }) {
                    pids.append(pid)
                    break
                }
            }
        }
        for pid in pids { kill(pid, SIGKILL) }
        return pids
    }

    /// Inodes of the server's sockets (local port = sshd's port) whose peer is `clientPort`.
    private func serverSocketInodes(clientPort: Int) throws -> [String] {
        var result: [String] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // procfs files claim size 0: read to end-of-file rather than by size.
            guard let handle = FileHandle(forReadingAtPath: table) else { continue }
            let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            try? handle.close()
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9 else { continue }
                let local = fields[1].split(separator: ":"), remote = fields[2].split(separator: ":")
                guard let localPort = local.last.flatMap({ Int($0, radix: 16) }),
                      let remotePort = remote.last.flatMap({ Int($0, radix: 16) }) else { continue }
                if localPort == port && remotePort == clientPort { result.append(String(fields[9])) }
            }
        }
        return result
    }
}

/// A loopback TCP port nothing listens on (bound once, then released).
func unusedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    try withUnsafeMutablePointer(to: &address) { pointer in
        try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            try #require(bind(fd, $0, length) == 0)
            try #require(getsockname(fd, $0, &length) == 0)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A loopback listener that accepts TCP connections (through its backlog) but never says a word:
/// an SSH client waits forever for the server's banner.
final class SilentListener {
    let port: Int
    private let fd: Int32

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = self.fd
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try #require(bind(fd, $0, length) == 0)
                try #require(listen(fd, 8) == 0)
                try #require(getsockname(fd, $0, &length) == 0)
            }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
