import Foundation

/// The one function every message passes through before it is stored (`gitops_sources`,
/// `gitops_sync_runs`), logged or served (status JSON, the page): whatever produced the text (a
/// validation message, a libgit2 error quoting a URL, a database error quoting a row), no URL
/// user-info, PEM block or value of a secret-named key survives it.
public enum SecretRedaction {
    public static let placeholder = "[REDACTED]"

    public static func redact(_ text: String) -> String {
        guard !text.isEmpty else { return text }
        var out = text
        out = replace(pemBlock, in: out) { _ in "[PEM block removed]" }
        out = replace(urlUserInfo, in: out) { groups in
            let scheme = groups[1].lowercased()
            let info = groups[2]
            // http(s) tokens often travel as the user name: drop the whole user-info there.
            if scheme == "http" || scheme == "https" { return groups[1] + "://" + placeholder + "@" }
            let user = info.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            return groups[1] + "://" + (info.contains(":") ? user + ":" + placeholder : user) + "@"
        }
        out = replace(secretAssignment, in: out) { groups in groups[1] + groups[2] + groups[3] + placeholder }
        return out
    }

    /// `-----BEGIN X-----` through its END line (or the end of the text when it has none).
    private static let pemBlock = try! NSRegularExpression(
        pattern: "-----BEGIN [A-Z0-9 ]+-----(?:.|\\n)*?(?:-----END [A-Z0-9 ]+-----|$)", options: [])
    /// `scheme://user-info@`: everything between `://` and the `@` before the host.
    private static let urlUserInfo = try! NSRegularExpression(
        pattern: "([A-Za-z][A-Za-z0-9+.-]*)://([^/?#@\\s]+)@", options: [])
    /// `password: x`, `"api_token": "x"`, `secret=x` (the key names the document rules refuse).
    /// A diagnostic's field path (`error: deployment.password: ...`) is a name, not an assignment.
    private static let secretAssignment = try! NSRegularExpression(
        pattern: "(?<![A-Za-z0-9_.\\-])(?<!error: )(?<!warning: )([\"']?[A-Za-z0-9_.-]*(?:password|passphrase|passcode|token|secret|private_key|api_key)[A-Za-z0-9_.-]*[\"']?)"
            + "(\\s*)([:=]\\s*)(\"[^\"]*\"|'[^']*'|[^\\s,;}\\]]+)",
        options: [.caseInsensitive])

    private static func replace(_ regex: NSRegularExpression, in text: String, with make: ([String]) -> String) -> String {
        let ns = text as NSString
        let matches = regex.matches(in: text, range: NSRange(location: 0, length: ns.length))
        guard !matches.isEmpty else { return text }
        var out = ""
        var last = 0
        for m in matches {
            out += ns.substring(with: NSRange(location: last, length: m.range.location - last))
            let groups = (0..<m.numberOfRanges).map { i -> String in
                let r = m.range(at: i)
                return r.location == NSNotFound ? "" : ns.substring(with: r)
            }
            out += make(groups)
            last = m.range.location + m.range.length
        }
        out += ns.substring(from: last)
        return out
    }
}
