import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the key policy needs to know about a path, gathered without following a symbolic link
/// for `isSymlink` and following it for everything else.
public struct FileFacts: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case regular, directory, other, missing }

    /// What the path finally names (`missing` for a dangling link).
    public var kind: Kind
    /// Whether the path itself is a symbolic link.
    public var isSymlink: Bool
    /// Where the link points, when it is one.
    public var linkTarget: String?
    /// Permission bits (`0o777`) of what the path finally names.
    public var mode: UInt32
    public var owner: UInt32

    public init(kind: Kind, isSymlink: Bool = false, linkTarget: String? = nil, mode: UInt32, owner: UInt32) {
        self.kind = kind
        self.isSymlink = isSymlink
        self.linkTarget = linkTarget
        self.mode = mode
        self.owner = owner
    }
}

/// A file could not be read; `reason` says why in words (never the content).
public struct FileReadError: Error, Sendable, Equatable {
    public let reason: String
    public init(reason: String) { self.reason = reason }
}

/// The file-system questions the key policy asks. `LocalFileSystem` answers them from the real
/// file system; tests can answer from a table.
public protocol FileSystemFacts: Sendable {
    /// nil when nothing exists at `path` (not even a dangling link).
    func facts(at path: String) -> FileFacts?
    /// At most `limit` bytes of the file (following links).
    func read(_ path: String, limit: Int) throws(FileReadError) -> [UInt8]
    /// Names in a directory (without `.` and `..`), nil when it cannot be listed.
    func directoryEntries(at path: String) -> [String]?
    var homeDirectory: String? { get }
    var effectiveUserID: UInt32 { get }
}

/// The real file system, through lstat(2), stat(2) and read(2).
public struct LocalFileSystem: FileSystemFacts {
    public init() {}

    public func facts(at path: String) -> FileFacts? {
        var link = stat()
        guard lstat(path, &link) == 0 else { return nil }
        let isSymlink = link.st_mode & S_IFMT == S_IFLNK
        var target = link
        if isSymlink && stat(path, &target) != 0 {
            return FileFacts(kind: .missing, isSymlink: true, linkTarget: resolvedLink(path), mode: 0, owner: link.st_uid)
        }
        let kind: FileFacts.Kind = switch target.st_mode & S_IFMT {
        case S_IFREG: .regular
        case S_IFDIR: .directory
        default: .other
        }
        return FileFacts(kind: kind, isSymlink: isSymlink, linkTarget: isSymlink ? resolvedLink(path) : nil,
                         mode: UInt32(target.st_mode & 0o7777), owner: target.st_uid)
    }

    public func read(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while result.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min($0.count, limit - result.count)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileReadError(reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        for i in chunk.indices { chunk[i] = 0 }
        return result
    }

    public func directoryEntries(at path: String) -> [String]? {
        try? FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    public var homeDirectory: String? {
        if let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty { return home }
        guard let entry = getpwuid(geteuid()), let dir = entry.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }

    public var effectiveUserID: UInt32 { geteuid() }

    private func resolvedLink(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else {
            return (try? FileManager.default.destinationOfSymbolicLink(atPath: path))
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
