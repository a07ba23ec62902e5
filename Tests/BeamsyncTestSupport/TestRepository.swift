import Foundation

/// A git repository the tests commit to, with the `git` CLI.
public struct TestRepository: Sendable {
    public let dir: URL

    public init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-repo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
        try git("config", "user.email", "test@example.org")
        try git("config", "user.name", "beamsync tests")
    }

    public var url: String { "file://" + dir.path }

    @discardableResult
    public func git(_ args: String...) throws -> String {
        try ProgramOutput.of("/usr/bin/git", ["-C", dir.path] + args).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes files (nil removes one) and commits; returns the commit id.
    @discardableResult
    public func commit(_ files: [String: String?], message: String = "change") throws -> String {
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            if let text {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: true, encoding: .utf8)
            } else {
                try? FileManager.default.removeItem(at: url)
            }
        }
        try git("add", "-A")
        try git("commit", "-q", "--allow-empty", "-m", message)
        return try git("rev-parse", "HEAD")
    }

    public func remove() { try? FileManager.default.removeItem(at: dir) }
}
