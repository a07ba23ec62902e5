/// Which characters a string field may hold. NUL is refused everywhere by the YAML reader
/// (PostgreSQL's text and jsonb cannot store it); these rules cover the other control and format
/// characters, which PostgreSQL stores but which hide what a value really is.
enum TextRule: Sendable {
    /// Names, hosts, URLs, paths and identifiers: one line of visible characters, so no control,
    /// format (bidirectional, zero-width) or separator characters, not even a tab.
    case line
    /// Descriptions: tab, line feed and carriage return are allowed; format characters are kept
    /// (every rendering shows them escaped). Other control characters are refused.
    case freeText
    /// Shell snippets run on the login node (modules, venv, environment_setup, slurm_template):
    /// tab and line feed are allowed. A carriage return breaks the remote shell, and a format
    /// character makes the command differ from what a reviewer reads, so both are refused.
    case shellText

    /// The first character the rule refuses and its 1-based position in the value, or nil.
    /// Printable ASCII, nearly every value, is settled by one byte scan.
    func firstRefused(in s: String) -> (scalar: Unicode.Scalar, position: Int)? {
        guard Self.mayHoldControls(s) else { return nil }
        var position = 0
        for scalar in s.unicodeScalars {
            position += 1
            if refuses(scalar) { return (scalar, position) }
        }
        return nil
    }

    /// Whether `s` has any byte outside printable ASCII (the only strings a rule can refuse).
    static func mayHoldControls(_ s: String) -> Bool { TextScan.summary(s).unusual }

    func refuses(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00: return true  // `check` stays silent about it: the YAML reader reports it for every value and key
        case 0x09, 0x0A: return self == .line
        case 0x0D: return self != .freeText
        case 0x01..<0x20, 0x7F: return true
        case 0x20..<0x7F: return false
        default:
            switch s.properties.generalCategory {
            case .control: return true
            case .format, .lineSeparator, .paragraphSeparator: return self != .freeText
            default: return false
            }
        }
    }

    var hint: String {
        switch self {
        case .line:
            return "remove it: names, hosts, URLs, paths and identifiers are one line of visible characters, "
                + "and an invisible character makes a value look like something it is not"
        case .freeText:
            return "remove it: free text may hold tabs and line breaks, but no other control characters"
        case .shellText:
            return "remove it: a shell snippet may span lines (save it with Unix line endings), but a carriage return "
                + "or an invisible character makes the command on the login node differ from what reviewers read"
        }
    }

    private static let controlNames: [UInt32: String] = [
        0x07: "BELL", 0x08: "BACKSPACE", 0x09: "TAB", 0x0A: "LINE FEED", 0x0B: "VERTICAL TAB", 0x0C: "FORM FEED",
        0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE", 0x85: "NEXT LINE",
    ]

    /// `\u{202E} (RIGHT-TO-LEFT OVERRIDE)`: how messages name a character nobody can see.
    static func describe(_ s: Unicode.Scalar) -> String {
        let code = "\\u{" + String(s.value, radix: 16, uppercase: true) + "}"
        if let name = controlNames[s.value] ?? s.properties.name ?? s.properties.nameAlias { return "\(code) (\(name))" }
        return "\(code) (a control character)"
    }

    /// Checks `s` and reports the first refused character at `node`; true when the value passes.
    /// A value holding NUL fails without a second report: the YAML reader reported it already.
    func check(_ s: String, node: SourceNode, path: String, sink: inout DiagnosticSink) -> Bool {
        guard let (scalar, position) = firstRefused(in: s) else { return true }
        if scalar == "\0" { return false }
        sink.error(.controlCharacter, at: node, path: path,
                   "contains \(Self.describe(scalar)) at character \(position) of the value", hint: hint)
        return false
    }
}
