/// POSIX path helpers for the remote side (always `/`-separated, whatever the local system).
enum RemotePath {
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func name(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `/a/b/c` → `/a`, `/a/b`, `/a/b/c`; relative paths likewise without the leading `/`.
    static func prefixes(of directory: String) -> [String] {
        let absolute = directory.hasPrefix("/")
        var result: [String] = []
        var current = absolute ? "" : nil as String?
        for part in directory.split(separator: "/") where part != "." {
            current = current.map { "\($0)/\(part)" } ?? String(part)
            result.append(current!)
        }
        return result
    }
}
