import Foundation
import Testing
@testable import BeamsyncSSH

let requireServices = ProcessInfo.processInfo.environment["BEAMSYNC_REQUIRE_SERVICES"] == "1"

/// The private sshd that scripts/sshd.sh starts, as its environment variables describe it.
struct TestSSHD: Sendable {
    let host: String
    let port: Int
    let user: String
    let key: String
    let passphraseKey: String
    let passphraseFile: String
    let rsaKey: String
    let knownHosts: String

    /// The directory scripts/sshd.sh was started with (the key lives in DIR/client/).
    var directory: String { ((key as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent }

    static let current: TestSSHD? = {
        let env = ProcessInfo.processInfo.environment
        guard let port = env["BEAMSYNC_TEST_SSHD_PORT"].flatMap(Int.init), let key = env["BEAMSYNC_TEST_SSH_KEY"],
              let knownHosts = env["BEAMSYNC_TEST_SSH_KNOWN_HOSTS"] else { return nil }
        return TestSSHD(host: env["BEAMSYNC_TEST_SSHD_HOST"] ?? "127.0.0.1", port: port,
                        user: env["BEAMSYNC_TEST_SSH_USER"] ?? "beamsync-git", key: key,
                        passphraseKey: env["BEAMSYNC_TEST_SSH_PASSPHRASE_KEY"] ?? "",
                        passphraseFile: env["BEAMSYNC_TEST_SSH_PASSPHRASE_FILE"] ?? "",
                        rsaKey: env["BEAMSYNC_TEST_SSH_RSA_KEY"] ?? "", knownHosts: knownHosts)
    }()

    /// Run the sshd tests when the server is configured, or when services are required (then a
    /// missing server fails the test instead of skipping it).
    static let enabled = current != nil || requireServices

    static func required() throws -> TestSSHD {
        try #require(current, "BEAMSYNC_REQUIRE_SERVICES=1 but the BEAMSYNC_TEST_SSH* variables of scripts/sshd.sh are not set")
    }

    var target: SSHTarget { SSHTarget(host: host, port: port, user: user) }

    func credential(key: String? = nil, passphrase: String? = nil, knownHosts: String? = nil) -> SSHCredential {
        SSHCredential(privateKey: .file(path: key ?? self.key), passphrase: passphrase.map(SSHSecret.init),
                      hostKeyCheck: .knownHosts(path: knownHosts ?? self.knownHosts, allowUnlisted: false),
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
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(program) \(arguments) exited with \(process.terminationStatus)"])
    }
    return String(decoding: data, as: UTF8.self)
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
