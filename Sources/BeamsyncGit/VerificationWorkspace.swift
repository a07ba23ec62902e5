import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private directory (mode 0700) that the verification tools use as HOME and GNUPGHOME and
/// that holds snapshots of the key files and each commit's signature and payload. Nothing of
/// the operator's own GnuPG or SSH set-up is read or written. Removed when the last reference
/// goes away.
final class VerificationWorkspace: @unchecked Sendable {
    let path: String
    var gnupgHome: String { path + "/gnupg" }

    init() throws {
        var template = Array((FileManager.default.temporaryDirectory.path + "/beamsync-verify-XXXXXX").utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CommitVerificationError.workspace("cannot create a private directory under "
                + "\(FileManager.default.temporaryDirectory.path): \(String(cString: strerror(errno)))")
        }
        path = String(cString: created)
        guard mkdir(path + "/gnupg", 0o700) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: path)
            throw CommitVerificationError.workspace("cannot create \(path)/gnupg: \(reason)")
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `data` to a new file of this workspace, readable by the owner only.
    func write(_ data: Data, named name: String) throws -> String {
        let file = path + "/" + name
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CommitVerificationError.workspace("cannot create \(file): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var written = 0
        let ok = data.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue } else { return false } }
                written += n
            }
            return true
        }
        guard ok else { throw CommitVerificationError.workspace("cannot write \(file): \(String(cString: strerror(errno)))") }
        return file
    }

    func remove(_ file: String) { unlink(file) }

    /// The environment every tool runs with: no variable of beamsync's own environment leaks in.
    var toolEnvironment: [String: String] {
        ["PATH": "/usr/bin:/bin", "HOME": path, "GNUPGHOME": gnupgHome, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"]
    }
}

/// Runs the verification tools in a workspace with one deadline and output bound.
struct ToolRunner: Sendable {
    let workspace: VerificationWorkspace
    let timeout: Duration
    let outputLimit: Int

    func run(_ executable: String, _ arguments: [String], stdin: String? = nil) async throws -> ToolProcess.Result {
        try await ToolProcess(executable: executable, arguments: arguments, environment: workspace.toolEnvironment,
                              stdinFile: stdin, timeout: timeout, outputLimit: outputLimit).run()
    }

    /// A one-line explanation of a run that could not be completed.
    static func explain(_ error: Error, tool: String, timeout: Duration) -> String {
        switch error {
        case ToolProcess.Failure.timedOut: return "\(tool) did not finish within \(timeout) and was stopped"
        case ToolProcess.Failure.cannotStart(let code): return "\(tool) could not be started: \(String(cString: strerror(code)))"
        case ToolProcess.Failure.cannotOpenInput(let path, let code): return "cannot open \(path): \(String(cString: strerror(code)))"
        default: return "\(tool) failed: \(error)"
        }
    }
}

/// Where the verification tools are looked for.
enum SignatureTool: String, Sendable {
    case sshKeygen = "ssh-keygen"
    case gpgv

    var package: String {
        switch self {
        case .sshKeygen: "openssh-client"
        case .gpgv: "gpgv"
        }
    }

    var purpose: String {
        switch self {
        case .sshKeygen: "verifying SSH-signed commits"
        case .gpgv: "verifying OpenPGP-signed commits"
        }
    }

    /// The default search path: beamsync's PATH (absolute entries only), then /usr/bin and /bin.
    static var defaultSearchPath: [String] {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        var directories = path.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        for fallback in ["/usr/bin", "/bin"] where !directories.contains(fallback) { directories.append(fallback) }
        return directories
    }

    func locate(in directories: [String]) throws -> String {
        for directory in directories {
            let candidate = directory + "/" + rawValue
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CommitVerificationError.toolMissing(tool: rawValue, package: package, purpose: purpose, searched: directories)
    }
}
