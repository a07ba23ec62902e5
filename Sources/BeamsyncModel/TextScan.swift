/// Byte-level string checks for the parse hot path. Foundation's `contains(_:)` and
/// `trimmingCharacters(in:)` bridge through NSString and dominated profile decoding; these work
/// on UTF-8 directly and match Foundation's results for the inputs beamsync checks.
enum TextScan {
    /// Whether `needle` occurs in `haystack` as an exact UTF-8 byte sequence.
    static func contains(_ haystack: String, _ needle: StaticString) -> Bool {
        needle.withUTF8Buffer { n in
            var h = haystack
            return h.withUTF8 { bytes in contains(bytes, n) }
        }
    }

    static func contains(_ bytes: UnsafeBufferPointer<UInt8>, _ needle: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = needle.first else { return true }
        guard bytes.count >= needle.count else { return false }
        var i = 0
        let last = bytes.count - needle.count
        while i <= last {
            if bytes[i] == first {
                var j = 1
                while j < needle.count && bytes[i + j] == needle[j] { j += 1 }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }

    /// What one pass over a scalar's bytes found; decoders use it to skip checks that cannot apply.
    struct ByteSummary: Sendable, Equatable {
        /// A byte outside printable ASCII: a control character, DEL or any non-ASCII character.
        var unusual = false
        /// An '@' (a URL with credentials needs one).
        var at = false
    }

    /// One pass, both answers: every scalar of every document goes through here. (Eight bytes at
    /// a time measured no faster: most scalars are shorter than that.)
    static func summary(_ bytes: UnsafeBufferPointer<UInt8>) -> ByteSummary {
        var out = ByteSummary()
        for b in bytes {
            if b &- 0x20 >= 0x5F { out.unusual = true } else if b == UInt8(ascii: "@") { out.at = true }
        }
        return out
    }

    static func summary(_ s: String) -> ByteSummary {
        if let found = s.utf8.withContiguousStorageIfAvailable(summary) { return found }
        var copy = s
        return copy.withUTF8(summary)
    }

    /// Foundation's `CharacterSet.whitespaces`: tab and the space separators (Zs).
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII { return s == " " || s == "\t" }
        return s.properties.generalCategory == .spaceSeparator
    }

    /// Foundation's `CharacterSet.whitespacesAndNewlines`: the above, U+000A–U+000D, U+0085 and
    /// the line and paragraph separators.
    static func isWhitespaceOrNewline(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII { return s == " " || (0x09...0x0D).contains(s.value) }
        switch s.properties.generalCategory {
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: return true
        default: return s.value == 0x85
        }
    }

    static func trimmed(_ s: String, newlines: Bool) -> Substring.UnicodeScalarView {
        let test = newlines ? isWhitespaceOrNewline : isWhitespace
        let scalars = s.unicodeScalars
        guard let start = scalars.firstIndex(where: { !test($0) }) else { return Substring(s).unicodeScalars[s.endIndex...] }
        let end = scalars.lastIndex(where: { !test($0) })!
        return Substring(s).unicodeScalars[start...end]
    }

    /// `s.trimmingCharacters(in: .whitespaces)` (or `.whitespacesAndNewlines`) without bridging.
    static func trimming(_ s: String, newlines: Bool = false) -> String {
        let t = trimmed(s, newlines: newlines)
        return t.count == s.unicodeScalars.count ? s : String(t)
    }

    /// Whether `s` is empty or only whitespace (and, with `newlines`, line breaks).
    static func isBlank(_ s: String, newlines: Bool = false) -> Bool {
        trimmed(s, newlines: newlines).isEmpty
    }

    /// Whether `s` starts or ends with whitespace or a line break.
    static func hasOuterWhitespace(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, let last = s.unicodeScalars.last else { return false }
        return isWhitespaceOrNewline(first) || isWhitespaceOrNewline(last)
    }
}
