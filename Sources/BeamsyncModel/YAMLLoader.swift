import Foundation
// Yams is the package that compiles and links libyaml; the composer calls libyaml directly.
import Yams

/// One YAML document read from a file, with where it starts.
public struct SourceDocument: Sendable {
    public var file: String
    /// 0-based position of the document inside its file (files may hold several, split by `---`).
    public var index: Int
    public var root: SourceNode
}

/// Limits that keep a hostile or broken file from exhausting memory or time.
public struct YAMLLimits: Sendable {
    /// Files larger than this are refused before parsing.
    public var maxFileBytes: Int = 1 << 20
    /// Nodes a document may expand to after aliases are followed (the billion-laughs guard).
    public var maxNodesPerDocument: Int = 20_000
    /// Nesting depth of mappings and lists.
    public var maxDepth: Int = 64
    /// Documents per file.
    public var maxDocumentsPerFile: Int = 1_000

    public init() {}
    public static let `default` = YAMLLimits()
}

/// Reads YAML (and JSON, which is YAML) into `SourceNode`s with positions, turning every
/// failure into a `Diagnostic` that names the file, line and column. Never traps.
public enum YAMLLoader {
    public static func load(file: String, bytes: [UInt8], limits: YAMLLimits = .default)
        -> (documents: [SourceDocument], diagnostics: [Diagnostic])
    {
        func fileError(_ code: DiagnosticCode, _ line: Int, _ column: Int, _ message: String, _ hint: String?) -> Diagnostic {
            Diagnostic(code: code, location: SourceLocation(file: file, line: line, column: column),
                       path: "", message: message, hint: hint)
        }

        if bytes.count > limits.maxFileBytes {
            return ([], [fileError(.fileTooLarge, 1, 1,
                "file is \(bytes.count) bytes; the limit is \(limits.maxFileBytes) bytes",
                "split it into several files, or move large content such as graphs under graphs/")])
        }
        // A UTF-8 byte order mark is dropped, so positions count from the first real character
        // (libyaml would otherwise count it as column 1 of line 1).
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            return load(file: file, bytes: Array(bytes[3...]), limits: limits)
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            let (line, column, offset) = firstInvalidUTF8(bytes)
            return ([], [fileError(.invalidEncoding, line, column,
                "file is not valid UTF-8 (bad byte at offset \(offset))",
                "save the file as UTF-8")])
        }

        var composer = YAMLComposer(file: file, limits: limits, isJSON: file.lowercased().hasSuffix(".json"))
        let documents = composer.compose(bytes)
        return (documents, composer.diagnostics)
    }

    // MARK: Errors from libyaml

    static func syntaxHint(problem: String) -> String? {
        if problem.contains("tab") || problem.contains("cannot start any token") {
            return "indent with spaces, not tabs, and quote values that start with @, ` or %"
        }
        if problem.contains("mapping values are not allowed") {
            return "a value containing ': ' must be quoted, or the line is indented too far"
        }
        if problem.contains("did not find expected key") || problem.contains("expected <block end>") {
            return "check the indentation of this line against its siblings"
        }
        if problem.contains("invalid Unicode character escape") {
            return "\\uD800-\\uDFFF are UTF-16 surrogate halves, which YAML (and PostgreSQL) cannot hold; "
                + "write the character itself (the file is UTF-8), e.g. 😀 instead of \\uD83D\\uDE00"
        }
        if problem.contains("found undefined alias") {
            return "define the anchor (&name) before using the alias (*name)"
        }
        return "check the YAML syntax near this position"
    }

    static func lineColumn(ofCharacterOffset offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1, seen = 0
        for scalar in text.unicodeScalars {
            if seen >= offset { break }
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            seen += 1
        }
        return (line, column)
    }

    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> (Int, Int, Int) {
        var line = 1, column = 1
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let width: Int
            switch b {
            case 0x00..<0x80: width = 1
            case 0xC2..<0xE0: width = 2
            case 0xE0..<0xF0: width = 3
            case 0xF0..<0xF5: width = 4
            default: return (line, column, i)
            }
            if i + width > bytes.count { return (line, column, i) }
            if width > 1, String(validating: bytes[i..<i + width], as: UTF8.self) == nil { return (line, column, i) }
            if b == 0x0A { line += 1; column = 1 } else { column += 1 }
            i += width
        }
        return (line, column, i)
    }

}

