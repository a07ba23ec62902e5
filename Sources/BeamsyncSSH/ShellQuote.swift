/// POSIX shell quoting for remote command lines.
public enum ShellQuote {
    /// `it's` → `'it'\''s'`: safe to splice into a command line as one word.
    public static func quote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
