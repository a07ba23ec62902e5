import Foundation

/// A scratch directory of real files with real modes and links, for the security checks.
struct SecurityLab {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "beamsync-security-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func sub(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` with exactly `mode` (the umask does not apply to chmod).
    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o600) throws -> String {
        let file = sub(name)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        guard chmod(file, mode_t(mode)) == 0 else { throw LabError("chmod \(file) failed") }
        return file
    }

    @discardableResult
    func link(_ name: String, to target: String) throws -> String {
        let file = sub(name)
        try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: target)
        return file
    }

    /// A real ed25519 key pair made by ssh-keygen; returns the private key's path (mode 0600).
    func sshKey(_ name: String) throws -> String {
        let file = sub(name)
        try run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "beamsync-test", "-f", file])
        return file
    }

    /// A known_hosts file with a plain entry for `host` (port 22) or `[host]:port`, holding the
    /// public half of `key` (any key will do: nothing connects).
    func knownHosts(_ name: String, host: String, port: Int, key: String, mode: Int = 0o644) throws -> String {
        let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let pattern = port == 22 ? host : "[\(host)]:\(port)"
        return try write(name, "\(pattern) \(publicKey)\n", mode: mode)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    private func run(_ program: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw LabError("\(program) \(arguments) exited with \(process.terminationStatus)") }
    }
}

struct LabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
