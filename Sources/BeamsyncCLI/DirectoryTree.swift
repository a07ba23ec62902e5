import BeamsyncModel
import Foundation

/// Reads a working-tree directory into `SourceFile`s (uncommitted edits included).
/// Symbolic links are not followed: a link could point outside the repository.
public enum DirectoryTree {
    public struct Result: Sendable {
        public var files: [SourceFile]
        public var diagnostics: [Diagnostic]
    }

    /// Files under `root` whose relative path passes `include`; hidden entries (.git, .github) are skipped.
    public static func read(root: String, include: (String) -> Bool = DesiredStateLoader.isDocumentFileOrGraph) -> Result {
        var files: [SourceFile] = []
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
                    if let data = fm.contents(atPath: url.path) {
                        files.append(SourceFile(path: rel, bytes: [UInt8](data)))
                    } else {
                        diagnostics.append(Diagnostic(code: .readFailure, location: SourceLocation(file: rel, line: 1, column: 1), path: "",
                                                      message: "cannot read file", hint: "check its permissions"))
                    }
                default:
                    continue
                }
            }
        }
        files.sort { $0.path < $1.path }
        return Result(files: files, diagnostics: diagnostics)
    }
}

