import BeamsyncModel
import Foundation

/// Reads a working-tree directory into `SourceFile`s (uncommitted edits included).
/// Symbolic links are not followed: a link could point outside the repository. Every entry where
/// a document or graph could be is read or refused with an error: a FIFO, socket or device, or a
/// directory named like a document, is never skipped silently (its profile would look deleted,
/// and `--prune` would plan the deletion).
public enum DirectoryTree {
    public struct Result: Sendable {
        public var files: [SourceFile]
        public var diagnostics: [Diagnostic]
    }

    /// Files under `root` whose relative path passes `include`; hidden entries (.git, .github) are skipped.
    public static func read(root: String, include: (String) -> Bool = DesiredStateLoader.isDocumentFileOrGraph) -> Result {
        var wanted: [(relative: String, absolute: String)] = []
        var diagnostics: [Diagnostic] = []
        let fm = FileManager.default
        let rootURL = URL(fileURLWithPath: root)
        var stack: [(URL, String)] = [(rootURL, "")]
        while let (dir, prefix) = stack.popLast() {
            guard let names = try? fm.contentsOfDirectory(atPath: dir.path) else {
                diagnostics.append(Diagnostic(code: .readFailure, location: nil, path: prefix.isEmpty ? "." : prefix,
                                              message: "cannot read directory \(dir.path)", hint: "check that it exists and is readable"))
                continue
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let url = dir.appendingPathComponent(name)
                let rel = prefix.isEmpty ? name : "\(prefix)/\(name)"
                var st = stat()
                guard lstat(url.path, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFLNK:
                    if include(rel) || DesiredStateLoader.directoryKind(of: rel + "/x.yaml") != nil {
                        diagnostics.append(Diagnostic(code: .unsafePath, location: SourceLocation(file: rel, line: 1, column: 1), path: "",
                            message: "symbolic links are not followed", hint: "replace the link with the file itself"))
                    }
                case S_IFDIR:
                    if DesiredStateLoader.isDocumentFile(rel) {
                        diagnostics.append(Diagnostic(code: .readFailure, location: SourceLocation(file: rel, line: 1, column: 1), path: "",
                            message: "this is a directory, not a document file",
                            hint: "documents are files; rename the directory so its name does not end in .yaml, .yml or .json"))
                        continue
                    }
                    stack.append((url, rel))
                case S_IFREG:
                    guard include(rel) else { continue }
                    if Int(st.st_size) > YAMLLimits.default.maxFileBytes && !rel.hasPrefix("graphs/") {
                        // Not even read: the size alone decides.
                        diagnostics.append(Diagnostic(code: .fileTooLarge, location: SourceLocation(file: rel, line: 1, column: 1), path: "",
                            message: "file is \(st.st_size) bytes; the limit is \(YAMLLimits.default.maxFileBytes) bytes",
                            hint: "split it into several files"))
                        continue
                    }
                    wanted.append((rel, url.path))
                default:
                    // Never opened: opening a FIFO would block until a writer comes.
                    if include(rel) {
                        diagnostics.append(Diagnostic(code: .readFailure, location: SourceLocation(file: rel, line: 1, column: 1), path: "",
                            message: "this is \(kindName(st.st_mode)), not a regular file, and is not read",
                            hint: "replace it with a regular file holding the document, or remove it"))
                    }
                }
            }
        }
        // Reading is most of the cost for large trees: spread it over the cores.
        let contents = UnsafeSlots<[UInt8]>(count: wanted.count)
        let paths = wanted.map(\.absolute)
        let read: @Sendable (Int) -> Void = { i in
            if let bytes = readFile(paths[i]) { contents.set(i, bytes) }
        }
        if wanted.count > 64 {
            DispatchQueue.concurrentPerform(iterations: wanted.count, execute: read)
        } else {
            for i in wanted.indices { read(i) }
        }
        var files: [SourceFile] = []
        files.reserveCapacity(wanted.count)
        for (i, entry) in wanted.enumerated() {
            if let bytes = contents.get(i) {
                files.append(SourceFile(path: entry.relative, bytes: bytes))
            } else {
                diagnostics.append(Diagnostic(code: .readFailure, location: SourceLocation(file: entry.relative, line: 1, column: 1), path: "",
                                              message: "cannot read file", hint: "check its permissions"))
            }
        }
        files.sort { $0.path < $1.path }
        return Result(files: files, diagnostics: diagnostics)
    }

    /// The working directory `root` as a snapshot: no revision, file names in diagnostics
    /// prefixed with `root` so they can be opened from where beamsync was run.
    public static func snapshot(of root: String) -> SourceSnapshot {
        let tree = read(root: root)
        let prefix = root == "." ? "" : (root.hasSuffix("/") ? root : root + "/")
        return SourceSnapshot(revision: nil, label: root, files: tree.files,
                              readDiagnostics: tree.diagnostics.map { $0.prefixingFiles(with: prefix) }, displayPrefix: prefix)
    }

    static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        default: "a special file"
        }
    }

    /// The whole file, or nil when it cannot be opened or read, or is no longer a regular file.
    /// O_NONBLOCK: an entry replaced by a FIFO after `lstat` must not block the open.
    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var filled = 0
        while true {
            if filled == bytes.count { bytes.append(contentsOf: [UInt8](repeating: 0, count: 4096)) }  // grew since fstat
            let n = bytes.withUnsafeMutableBytes { buffer in
                Foundation.read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            filled += n
        }
        bytes.removeSubrange(filled...)
        return bytes
    }
}

/// Slots written once each from concurrent workers (index-disjoint), read after they finish.
private final class UnsafeSlots<T>: @unchecked Sendable {
    private var storage: [T?]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); storage[i] = value; lock.unlock() }
    func get(_ i: Int) -> T? { lock.lock(); defer { lock.unlock() }; return storage[i] }
}
