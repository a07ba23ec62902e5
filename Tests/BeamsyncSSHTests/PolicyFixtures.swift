import Foundation
@testable import BeamsyncSSH

/// An in-memory file system for the key policy's unit tests: the policy only asks the questions
/// of `FileSystemFacts`, and a table answers them exactly. (`LocalFileSystemTests` checks the
/// real implementation against real files.)
struct TableFileSystem: FileSystemFacts {
    struct File: Sendable {
        var content: [UInt8]
        var mode: UInt32 = 0o600
        var owner: UInt32 = 1000
        var kind: FileFacts.Kind = .regular
        var linkTo: String? = nil
    }

    var files: [String: File] = [:]
    var homeDirectory: String? = "/home/op"
    var effectiveUserID: UInt32 = 1000

    func facts(at path: String) -> FileFacts? {
        guard let file = files[path] else { return nil }
        if let target = file.linkTo {
            guard let resolved = files[target] else {
                return FileFacts(kind: .missing, isSymlink: true, linkTarget: target, mode: 0, owner: file.owner)
            }
            return FileFacts(kind: resolved.kind, isSymlink: true, linkTarget: target, mode: resolved.mode, owner: resolved.owner)
        }
        return FileFacts(kind: file.kind, mode: file.mode, owner: file.owner)
    }

    func read(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] {
        guard var file = files[path] else { throw FileReadError(reason: "No such file or directory") }
        if let target = file.linkTo {
            guard let resolved = files[target] else { throw FileReadError(reason: "No such file or directory") }
            file = resolved
        }
        guard file.kind == .regular else { throw FileReadError(reason: "Is a directory") }
        return Array(file.content.prefix(limit))
    }

    func directoryEntries(at path: String) -> [String]? {
        guard files[path]?.kind == .directory else { return nil }
        let prefix = path.hasSuffix("/") ? path : path + "/"
        return Set(files.keys.filter { $0.hasPrefix(prefix) }.compactMap { $0.dropFirst(prefix.count).split(separator: "/").first.map(String.init) })
            .sorted()
    }

    mutating func add(_ path: String, _ text: String, mode: UInt32 = 0o600, owner: UInt32 = 1000) {
        files[path] = File(content: Array(text.utf8), mode: mode, owner: owner)
    }

    mutating func directory(_ path: String) {
        files[path] = File(content: [], mode: 0o700, kind: .directory)
    }

    mutating func link(_ path: String, to target: String) {
        files[path] = File(content: [], mode: 0o777, linkTo: target)
    }
}

/// Key and known_hosts texts shaped like the real thing. The policy reads only a key's
/// unencrypted header (algorithm, cipher) and a known_hosts line's fields, so these carry no
/// real key material.
enum Fixture {
    /// An SSH wire-format key blob of `type` with some filler.
    static func blob(_ type: String, filler: UInt8 = 7) -> [UInt8] {
        wireString(Array(type.utf8)) + wireString([UInt8](repeating: filler, count: 32))
    }

    static func wireString(_ bytes: [UInt8]) -> [UInt8] {
        let n = UInt32(bytes.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
    }

    /// An `openssh-key-v1` PEM whose public part says `type`; `encrypted` picks the cipher.
    static func opensshKey(_ type: String = "ssh-ed25519", encrypted: Bool = false) -> String {
        var body = Array("openssh-key-v1".utf8) + [0]
        body += wireString(Array((encrypted ? "aes256-ctr" : "none").utf8))
        body += wireString(Array((encrypted ? "bcrypt" : "none").utf8))
        body += wireString(encrypted ? [UInt8](repeating: 1, count: 24) : [])
        body += [0, 0, 0, 1]
        body += wireString(blob(type))
        body += wireString([UInt8](repeating: 9, count: 64))
        let base64 = Data(body).base64EncodedString(options: .lineLength64Characters)
        return "-----BEGIN OPENSSH PRIVATE KEY-----\n\(base64)\n-----END OPENSSH PRIVATE KEY-----\n"
    }

    static func knownHostsLine(_ hosts: String, _ type: String = "ssh-ed25519", filler: UInt8 = 7) -> String {
        "\(hosts) \(type) \(Data(blob(type, filler: filler)).base64EncodedString())"
    }
}

/// A production setup that passes every rule: key file, passphrase-less ed25519, known_hosts
/// with a bracketed entry for login.hpc.example:2222.
struct PolicySetup {
    var env: [String: String] = [
        "BEAMPIPE_ENV": "production",
        "SLURM_SSH_PRIVATE_KEY_FILE": "/run/secrets/key",
        "SLURM_SSH_KNOWN_HOSTS_SOURCE": "/run/ssh/known_hosts",
    ]
    var fs = TableFileSystem()
    var profile = SSHProfileFields(loginNode: "login.hpc.example", sshPort: 2222, remoteUser: "operator")

    init() {
        fs.add("/run/secrets/key", Fixture.opensshKey())
        fs.add("/run/ssh/known_hosts", "# Setonix\n" + Fixture.knownHostsLine("[login.hpc.example]:2222") + "\n", mode: 0o644)
    }

    var policy: SSHKeyPolicy { SSHKeyPolicy(environment: env, fileSystem: fs) }
    func resolve() -> SSHCredentialResolution { policy.resolve(profile) }
}
