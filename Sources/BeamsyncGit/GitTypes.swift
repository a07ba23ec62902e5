import Foundation

/// A git object id (SHA-1) as 40 lowercase hex digits. Blob ids are stable content hashes:
/// callers may cache anything derived from a blob's bytes under its id.
public struct GitObjectID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let hex: String

    /// Accepts exactly 40 hex digits (either case); anything else is `nil`.
    public init?(hex: String) {
        guard hex.utf8.count == 40, hex.utf8.allSatisfy({ $0.isHexDigit }) else { return nil }
        self.hex = hex.lowercased()
    }

    init(trusted hex: String) { self.hex = hex }

    public var description: String { hex }
    /// The first 12 hex digits, for messages.
    public var short: String { String(hex.prefix(12)) }

    public static func < (lhs: GitObjectID, rhs: GitObjectID) -> Bool { lhs.hex < rhs.hex }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = GitObjectID(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "not a 40-digit git object id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

public typealias GitCommitID = GitObjectID
public typealias GitBlobID = GitObjectID

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}

/// One regular file of a tree, located without a checkout.
public struct GitTreeEntry: Hashable, Sendable {
    /// Path relative to the requested subdirectory (or the repository root), `/`-separated.
    public let path: String
    public let blobID: GitBlobID
    /// Mode 100755 rather than 100644.
    public let isExecutable: Bool
}

/// A regular file of a tree together with its bytes.
public struct GitTreeFile: Hashable, Sendable {
    /// Path relative to the requested subdirectory (or the repository root), `/`-separated.
    public let path: String
    public let blobID: GitBlobID
    public let bytes: Data
}

/// One changed regular file between two trees. Paths are relative to the subdirectory diffed.
public struct GitFileChange: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, Codable {
        case added, modified, deleted, renamed
    }

    public let kind: Kind
    /// `nil` for `.added`.
    public let oldPath: String?
    /// `nil` for `.deleted`.
    public let newPath: String?
    public let oldBlobID: GitBlobID?
    public let newBlobID: GitBlobID?

    /// The path the change is best known by: the new path, or the old one for a deletion.
    public var path: String { newPath ?? oldPath ?? "" }
}

/// What a commit says about itself.
public struct GitCommitInfo: Hashable, Sendable {
    public let id: GitCommitID
    /// The first paragraph of the message, joined into one line.
    public let summary: String
    public let message: String
    public let authorName: String
    public let authorEmail: String
    /// Author time.
    public let time: Date
    public let parents: [GitCommitID]
}

/// Everything BeamsyncGit throws. Messages never contain credentials: URLs are shown without
/// their user-info part.
public enum GitError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// A libgit2 call failed. `errorClass` is libgit2's class name (`net`, `ssh`, `odb`, ...).
    case libgit2(operation: String, code: Int32, errorClass: String, message: String, url: String?)
    /// A clone or fetch did not finish within its deadline (libgit2 1.5 has no network timeouts).
    case timedOut(url: String, seconds: Double)
    /// The task waiting for a clone or fetch was cancelled.
    case cancelled(url: String)
    /// The SSH server's host key is not the one the known_hosts file lists for it.
    case hostKeyRejected(host: String, knownHostsFile: String, reason: String)
    /// The HTTPS server's certificate did not verify.
    case certificateRejected(host: String, reason: String)
    /// Credentials could not be used: unreadable files, a missing passphrase, an unsupported key,
    /// or authentication refused by the server.
    case credentials(url: String, message: String)
    /// The remote options do not fit the URL (for example ssh without a known_hosts file).
    case invalidOptions(String)
    /// A path inside the configured root that beamsync will not read (symbolic link, submodule,
    /// `..` or absolute component). `path` is relative to the repository root; `message` is the
    /// whole sentence, e.g. "symbolic links are not followed: profiles/x.yaml -> ../secret".
    case pathRefused(path: String, message: String)
    /// The requested subdirectory does not exist (or is not a directory) at the commit.
    case subdirectoryNotFound(path: String, commit: GitCommitID)
    /// A revision (branch, tag, commit id) that does not name a commit in the mirror.
    case revisionNotFound(String)
    /// `open(at:)` on something that is not a mirror created by BeamsyncGit.
    case notAMirror(path: String, reason: String)

    public var description: String {
        switch self {
        case let .libgit2(operation, code, errorClass, message, url):
            let at = url.map { " (\($0))" } ?? ""
            return "git \(operation) failed\(at): \(message) [libgit2 \(errorClass) error \(code)]"
        case let .timedOut(url, seconds):
            return "git transfer from \(url) timed out after \(Self.format(seconds)) s"
        case let .cancelled(url):
            return "git transfer from \(url) was cancelled"
        case let .hostKeyRejected(host, file, reason):
            return "SSH host key of \(host) refused: \(reason) (known_hosts file \(file))"
        case let .certificateRejected(host, reason):
            return "TLS certificate of \(host) refused: \(reason)"
        case let .credentials(url, message):
            return "credentials for \(url): \(message)"
        case let .invalidOptions(message):
            return message
        case let .pathRefused(_, message):
            return message
        case let .subdirectoryNotFound(path, commit):
            return "path '\(path)' does not exist (as a directory) at commit \(commit.short)"
        case let .revisionNotFound(revision):
            return "revision '\(revision)' not found (tried branches of origin, tags, local branches and commit ids)"
        case let .notAMirror(path, reason):
            return "\(path) is not a beamsync git mirror: \(reason)"
        }
    }

    public var errorDescription: String? { description }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }
}
