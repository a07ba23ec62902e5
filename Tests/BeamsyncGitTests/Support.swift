@testable import BeamsyncGit
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A directory under the system temp dir, removed by `remove()`.
struct Scratch {
    let path: String

    init(in base: String? = nil) throws {
        let root = base ?? FileManager.default.temporaryDirectory.path
        path = root + "/beamsync-git-test-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func sub(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws -> String {
        let file = sub(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

struct CommandFailure: Error, CustomStringConvertible {
    let description: String
}

/// Runs a program on a thread of its own (never blocking the cooperative pool, which the
/// timing tests rely on) and returns its trimmed stdout; throws with stderr when it fails.
@discardableResult
func run(_ executable: String, _ arguments: [String], in directory: String? = nil,
         environment: [String: String] = [:], stdin: Data? = nil) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result {
                try runBlocking(executable, arguments, in: directory, environment: environment, stdin: stdin)
            })
        }.start()
    }
}

private func runBlocking(_ executable: String, _ arguments: [String], in directory: String?,
                         environment: [String: String], stdin: Data?) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandFailure(description: "\(executable) \(arguments.joined(separator: " ")) exited with "
            + "\(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A non-bare repository made with the git CLI, playing the remote that beamsync mirrors.
struct Upstream {
    let path: String
    var url: String { "file://" + path }

    static let environment = [
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Ada Author", "GIT_AUTHOR_EMAIL": "ada@example.org",
        "GIT_COMMITTER_NAME": "Cy Committer", "GIT_COMMITTER_EMAIL": "cy@example.org",
    ]

    init(at path: String) async throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try await git("init", "-q", "-b", "main")
    }

    @discardableResult
    func git(_ arguments: String..., stdin: Data? = nil) async throws -> String {
        try await run("/usr/bin/git", arguments, in: path, environment: Self.environment, stdin: stdin)
    }

    func write(_ file: String, _ text: String) throws {
        let url = URL(fileURLWithPath: path + "/" + file)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func remove(_ file: String) async throws { try await git("rm", "-q", file) }

    /// Stages everything and commits; returns the new commit id.
    @discardableResult
    func commit(_ message: String) async throws -> GitCommitID {
        try await git("add", "-A")
        try await git("commit", "-q", "--allow-empty", "-m", message)
        return try await head()
    }

    func head() async throws -> GitCommitID { try await id("HEAD") }

    /// `git rev-parse` of a revision (`HEAD`, `HEAD:path/to/file`).
    func id(_ revision: String) async throws -> GitObjectID {
        let hex = try await git("rev-parse", revision)
        return try #require(GitObjectID(hex: hex))
    }
}

/// A loopback TCP server that accepts connections and never sends a byte: a stalled remote.
final class StalledListener: @unchecked Sendable {
    private let listener: Int32
    private let lock = NSLock()
    private var accepted: [Int32] = []
    let port: Int

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        guard listener >= 0 else { throw CommandFailure(description: "socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 16) == 0
                    && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else { throw CommandFailure(description: "bind/listen on 127.0.0.1 failed") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }  // shut down
                lock.withLock { accepted.append(connection) }
            }
        }
        thread.start()
    }

    var connections: Int { lock.withLock { accepted.count } }

    /// Closes everything, which also releases the transfer threads still blocked on us.
    func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        for connection in lock.withLock({ accepted }) {
            shutdown(connection, Int32(SHUT_RDWR))
            Glibc.close(connection)
        }
    }
}

/// Awaits `body` and returns the error it throws (failing the test when it succeeds).
func thrownError<T>(_ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation) async -> Error? {
    do {
        _ = try await body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}
