import Foundation

/// Text as it is safe to show a person: diagnostics, plans, pull-request comments and status
/// pages all go through these functions, so a value looks the same everywhere and nobody is
/// shown something other than what is really there.
public enum DisplayText {
    /// `s` with every control character (C0, DEL, C1), format character (bidirectional
    /// overrides and isolates, zero-width characters, the byte order mark, soft hyphen, tags) and
    /// line or paragraph separator (see `isHidden`) written as `\u{XXXX}`; line feed, tab and carriage return are
    /// written `\n`, `\t`, `\r`. Everything else, including a backslash, is kept as it is.
    public static func escaped(_ s: String) -> String {
        guard needsEscaping(s) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if isHidden(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Whether `escaped(s)` would change `s`. Printable ASCII (nearly every value) is decided by a
    /// byte scan; only text with other bytes looks at Unicode properties.
    public static func needsEscaping(_ s: String) -> Bool {
        var nonASCII = false
        for b in s.utf8 {
            if b < 0x20 || b == 0x7F { return true }
            if b >= 0x80 { nonASCII = true }
        }
        return nonASCII && s.unicodeScalars.contains(where: isHidden)
    }

    /// Control, format, line-separator and paragraph-separator characters: the ones that are
    /// invisible, reorder what follows them, or drive a terminal. The zero-width joiner and
    /// non-joiner are kept: emoji sequences and several scripts need them to render at all.
    public static func isHidden(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x20 || s.value == 0x7F { return true }
        if s.value < 0x80 || s.value == 0x200C || s.value == 0x200D { return false }
        switch s.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    public static let redactedUserinfo = "REDACTED"
    public static let pemPlaceholder = "(PEM block, not shown)"

    /// `s` with the userinfo of every URL in it (`scheme://user:password@host`, and also a bare
    /// `user:password@host`) replaced by `REDACTED`, and every PEM block replaced by a placeholder.
    /// A plain `name@host` (an e-mail address, `git@host`) is kept.
    public static func redacted(_ s: String) -> String {
        var text = s
        if TextScan.contains(text, "-----BEGIN ") { text = withoutPEMBlocks(text) }
        if text.utf8.contains(UInt8(ascii: "@")) { text = withoutUserinfo(text) }
        return text
    }

    /// A value for a message: redacted, escaped and, past `limit` characters, shortened.
    public static func value(_ s: String, limit: Int = 80) -> String {
        var text = escaped(redacted(s))
        if text.unicodeScalars.count > limit {
            text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit - 1))) + "…"
        }
        return text
    }

    /// Characters that end the run of text before an '@' when looking for userinfo.
    private static func endsUserinfo(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "/"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`"), UInt8(ascii: "("), UInt8(ascii: "<"),
             UInt8(ascii: ">"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "@"):
            return true
        default:
            return b <= 0x20
        }
    }

    /// For each '@', the text back to the previous separator is userinfo when it follows `//`
    /// (a URL) or holds a ':' (a password).
    static func withoutUserinfo(_ s: String) -> String {
        let bytes = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var copied = 0
        for k in bytes.indices where bytes[k] == UInt8(ascii: "@") {
            var start = k
            while start > copied, !endsUserinfo(bytes[start - 1]) { start -= 1 }
            guard start < k else { continue }
            let afterSlashes = start >= 2 && bytes[start - 1] == UInt8(ascii: "/") && bytes[start - 2] == UInt8(ascii: "/")
            guard afterSlashes || bytes[start..<k].contains(UInt8(ascii: ":")) else { continue }
            out.append(contentsOf: bytes[copied..<start])
            out.append(contentsOf: redactedUserinfo.utf8)
            copied = k
        }
        guard copied > 0 else { return s }
        out.append(contentsOf: bytes[copied...])
        return String(decoding: out, as: UTF8.self)
    }

    static func withoutPEMBlocks(_ s: String) -> String {
        var text = Substring(s)
        var out = ""
        while let begin = text.range(of: "-----BEGIN ") {
            out += text[..<begin.lowerBound]
            out += pemPlaceholder
            let rest = text[begin.upperBound...]
            // The block ends after the END line's closing dashes; an unterminated block hides the rest.
            if let end = rest.range(of: "-----END "), let close = rest[end.upperBound...].range(of: "-----") {
                text = rest[close.upperBound...]
            } else {
                text = ""
            }
        }
        return out + text
    }
}
