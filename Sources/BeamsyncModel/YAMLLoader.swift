import Foundation
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
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let (line, column, offset) = firstInvalidUTF8(bytes)
            return ([], [fileError(.invalidEncoding, line, column,
                "file is not valid UTF-8 (bad byte at offset \(offset))",
                "save the file as UTF-8")])
        }
        if let problem = preScan(text, limits: limits) {
            return ([], [fileError(.documentTooComplex, problem.line, problem.column, problem.message,
                "flatten the structure; profiles need only a few levels")])
        }

        var documents: [SourceDocument] = []
        var diagnostics: [Diagnostic] = []
        do {
            // A parser with only the null resolver: scalars are resolved below with YAML 1.2 core
            // rules, which keeps `yes`/`on`/`0755` as strings the way serde_yaml reads them.
            let parser = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8)
            var index = 0
            while let root = try parser.nextRoot() {
                if index >= limits.maxDocumentsPerFile {
                    diagnostics.append(fileError(.documentTooComplex, root.mark?.line ?? 1, root.mark?.column ?? 1,
                        "file holds more than \(limits.maxDocumentsPerFile) documents", "split the file"))
                    break
                }
                var converter = Converter(file: file, limits: limits)
                if let node = converter.convert(root, depth: 0) {
                    documents.append(SourceDocument(file: file, index: index, root: node))
                }
                diagnostics.append(contentsOf: converter.diagnostics)
                index += 1
            }
        } catch let error as YamlError {
            diagnostics.append(diagnostic(for: error, file: file, text: text))
        } catch {
            diagnostics.append(fileError(.yamlSyntax, 1, 1, "could not parse YAML: \(error)", nil))
        }
        return (documents, diagnostics)
    }

    // MARK: Errors from libyaml

    static func diagnostic(for error: YamlError, file: String, text: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: max(mark.line, 1), column: max(mark.column, 1)) }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))" }
            return Diagnostic(code: .yamlSyntax, location: at(mark), path: "", message: message,
                              hint: syntaxHint(problem: problem, text: text, mark: mark))
        case let .duplicatedKeysInMapping(duplicates, context):
            let key = duplicates.first ?? "?"
            let first = at(context.mark)
            let second = nextOccurrence(of: key, after: context.mark, in: text).map {
                SourceLocation(file: file, line: $0.line, column: $0.column)
            }
            let plural = duplicates.count > 1 ? "keys \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) are" : "key '\(key)' is"
            return Diagnostic(code: .duplicateKey, location: second ?? first, path: key,
                              message: "duplicate \(plural) defined more than once in the same mapping",
                              hint: "keep one '\(key)' entry; YAML does not merge repeated keys",
                              related: second == nil ? [] : [first])
        case let .reader(problem, offset, _, _):
            let (line, column) = offset.map { lineColumn(ofCharacterOffset: $0, in: text) } ?? (1, 1)
            return Diagnostic(code: .invalidEncoding, location: SourceLocation(file: file, line: line, column: column),
                              path: "", message: "cannot read the file: \(problem)",
                              hint: "remove control characters and save the file as UTF-8")
        default:
            return Diagnostic(code: .yamlSyntax, location: SourceLocation(file: file, line: 1, column: 1),
                              path: "", message: "could not parse YAML: \(error)", hint: nil)
        }
    }

    private static func syntaxHint(problem: String, text: String, mark: Mark) -> String? {
        if problem.contains("tab") || problem.contains("cannot start any token") {
            return "indent with spaces, not tabs, and quote values that start with @, ` or %"
        }
        if problem.contains("mapping values are not allowed") {
            return "a value containing ': ' must be quoted, or the line is indented too far"
        }
        if problem.contains("did not find expected key") || problem.contains("expected <block end>") {
            return "check the indentation of this line against its siblings"
        }
        if problem.contains("found undefined alias") {
            return "define the anchor (&name) before using the alias (*name)"
        }
        return "check the YAML syntax near this position"
    }

    /// The line and column of the next `key:` after `mark` (for pointing at the repeated key).
    private static func nextOccurrence(of key: String, after mark: Mark, in text: String) -> (line: Int, column: Int)? {
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            guard lineNumber > mark.line else { continue }
            let stripped = line.drop { $0 == " " || $0 == "-" }
            let column = line.count - stripped.count + 1
            for candidate in [key, "\"\(key)\"", "'\(key)'"] where stripped.hasPrefix(candidate) {
                let rest = stripped.dropFirst(candidate.count).drop { $0 == " " }
                if rest.first == ":" && column == mark.column { return (lineNumber, column) }
            }
        }
        return nil
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

    /// Cheap scan before libyaml runs: deeply nested flow collections (`[[[[...`) would make the
    /// recursive composer overflow the stack, so they are refused here.
    private static func preScan(_ text: String, limits: YAMLLimits) -> (line: Int, column: Int, message: String)? {
        var depth = 0, line = 1, column = 0
        var quote: UInt8? = nil
        var inComment = false
        var previous: UInt8 = 0x0A
        for byte in text.utf8 {
            if byte & 0xC0 != 0x80 { column += 1 }
            defer { previous = byte }
            if byte == 0x0A {
                line += 1; column = 0; inComment = false
                if quote == UInt8(ascii: "'") && depth == 0 { quote = nil }
                continue
            }
            if inComment { continue }
            if let q = quote {
                if byte == q && !(q == UInt8(ascii: "\"") && previous == UInt8(ascii: "\\")) { quote = nil }
                continue
            }
            switch byte {
            case UInt8(ascii: "#") where previous == 0x20 || previous == 0x0A || previous == 0x09:
                inComment = true
            case UInt8(ascii: "\"") where depth > 0 || previous == 0x20 || previous == 0x0A:
                quote = byte
            case UInt8(ascii: "'") where depth > 0 || previous == 0x20 || previous == 0x0A:
                quote = byte
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limits.maxDepth {
                    return (line, column, "document nests deeper than \(limits.maxDepth) levels (depth limit)")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
            default: break
            }
        }
        return nil
    }

    // MARK: Node conversion

    /// Turns Yams nodes into `SourceNode`s, following aliases and `<<` merges, and counting
    /// every node it produces so that alias expansion is bounded.
    struct Converter {
        let file: String
        let limits: YAMLLimits
        var produced = 0
        var diagnostics: [Diagnostic] = []
        var exhausted = false

        init(file: String, limits: YAMLLimits) {
            self.file = file
            self.limits = limits
        }

        mutating func convert(_ node: Node, depth: Int) -> SourceNode? {
            if exhausted { return nil }
            produced += 1
            if produced > limits.maxNodesPerDocument {
                exhausted = true
                let mark = node.position
                diagnostics.append(Diagnostic(code: .documentTooComplex,
                    location: SourceLocation(file: file, line: mark.line, column: mark.column), path: "",
                    message: "document expands to more than \(limits.maxNodesPerDocument) values (alias expansion limit)",
                    hint: "anchors and aliases (&a / *a) multiply content; write the values out or use fewer aliases"))
                return nil
            }
            if depth > limits.maxDepth {
                exhausted = true
                let mark = node.position
                diagnostics.append(Diagnostic(code: .documentTooComplex,
                    location: SourceLocation(file: file, line: mark.line, column: mark.column), path: "",
                    message: "document nests deeper than \(limits.maxDepth) levels (depth limit)",
                    hint: "flatten the structure"))
                return nil
            }
            let mark = node.position
            switch node {
            case .scalar(let scalar):
                return .scalar(.init(text: scalar.string, value: resolve(scalar),
                                     line: mark.line, column: mark.column))
            case .sequence(let sequence):
                var items: [SourceNode] = []
                items.reserveCapacity(sequence.count)
                for child in sequence {
                    guard let item = convert(child, depth: depth + 1) else { return nil }
                    items.append(item)
                }
                return .sequence(.init(items: items, line: mark.line, column: mark.column))
            case .mapping(let mapping):
                var entries: [SourceNode.Entry] = []
                var merged: [SourceNode.Entry] = []
                entries.reserveCapacity(mapping.count)
                for (keyNode, valueNode) in mapping {
                    let keyMark = keyNode.position
                    guard case .scalar(let keyScalar) = keyNode else {
                        diagnostics.append(Diagnostic(code: .wrongType,
                            location: SourceLocation(file: file, line: keyMark.line, column: keyMark.column), path: "",
                            message: "mapping keys must be plain strings, not \(keyNode.isMapping ? "a mapping" : "a list")",
                            hint: "use a simple `key: value` form"))
                        continue
                    }
                    if keyScalar.string == "<<" && keyScalar.style == .plain {
                        // YAML merge key: the referenced mappings supply keys this mapping lacks.
                        guard let source = convert(valueNode, depth: depth + 1) else { return nil }
                        let sources: [SourceNode]
                        switch source {
                        case .mapping: sources = [source]
                        case .sequence(let s): sources = s.items
                        case .scalar:
                            sources = []
                            diagnostics.append(Diagnostic(code: .wrongType,
                                location: SourceLocation(file: file, line: keyMark.line, column: keyMark.column), path: "<<",
                                message: "a merge key (<<) needs a mapping or a list of mappings",
                                hint: "write `<<: *anchor` where the anchor names a mapping"))
                        }
                        for case .mapping(let m) in sources {
                            for entry in m.entries where !merged.contains(where: { $0.key == entry.key }) {
                                merged.append(entry)
                            }
                        }
                        continue
                    }
                    guard let value = convert(valueNode, depth: depth + 1) else { return nil }
                    entries.append(.init(key: keyScalar.string, keyLine: keyMark.line,
                                         keyColumn: keyMark.column, value: value))
                }
                for entry in merged where !entries.contains(where: { $0.key == entry.key }) {
                    entries.append(entry)
                }
                return .mapping(.init(entries: entries, line: mark.line, column: mark.column,
                                      isFlow: mapping.style == .flow))
            case .alias:
                // Yams resolves aliases while composing; a bare alias node is not expected here.
                diagnostics.append(Diagnostic(code: .yamlSyntax,
                    location: SourceLocation(file: file, line: mark.line, column: mark.column), path: "",
                    message: "unresolved alias", hint: "define the anchor before using it"))
                return nil
            }
        }

        /// YAML 1.2 core schema: quoted scalars are strings; plain ones may be null, bool, int or float.
        private func resolve(_ scalar: Node.Scalar) -> ScalarValue {
            let text = scalar.string
            // With the rule-less resolver every untagged scalar reports `str`; anything else was
            // written explicitly (`!!int "5"`). `!!str 5` cannot be told apart and reads as 5.
            switch scalar.tag.description {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue:
                return text.lowercased() == "true" ? .bool(true) : (text.lowercased() == "false" ? .bool(false) : .string(text))
            case Tag.Name.int.rawValue: return Self.integer(text) ?? .string(text)
            case Tag.Name.float.rawValue: return Double(text).map(ScalarValue.float) ?? .string(text)
            default: break
            }
            guard scalar.style == .plain else { return .string(text) }
            return Self.resolvePlain(text)
        }

        static func resolvePlain(_ text: String) -> ScalarValue {
            switch text {
            case "", "~", "null", "Null", "NULL": return .null
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
            case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
            case ".nan", ".NaN", ".NAN": return .float(.nan)
            default: break
            }
            guard let first = text.utf8.first,
                  first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                    || (first >= 0x30 && first <= 0x39) else { return .string(text) }
            if let int = integer(text) { return int }
            if isCoreFloat(text), let d = Double(text) { return .float(d) }
            return .string(text)
        }

        static func integer(_ text: String) -> ScalarValue? {
            var body = Substring(text)
            var negative = false
            if body.first == "-" || body.first == "+" { negative = body.first == "-"; body = body.dropFirst() }
            guard !body.isEmpty else { return nil }
            var radix = 10
            if body.hasPrefix("0x") { radix = 16; body = body.dropFirst(2) }
            else if body.hasPrefix("0o") { radix = 8; body = body.dropFirst(2) }
            guard !body.isEmpty, body.allSatisfy({ $0.isHexDigit && $0.isASCII }) else { return nil }
            if radix == 10 && !body.allSatisfy(\.isNumber) { return nil }
            if radix != 10 && text.hasPrefix("-") { return nil }
            if let v = Int64(body, radix: radix) { return .int(negative ? -v : v) }
            return .bigInt(text)
        }

        /// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
        static func isCoreFloat(_ text: String) -> Bool {
            var chars = Substring(text)
            if chars.first == "-" || chars.first == "+" { chars = chars.dropFirst() }
            let mantissaEnd = chars.firstIndex { $0 == "e" || $0 == "E" } ?? chars.endIndex
            let mantissa = chars[..<mantissaEnd]
            let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= 2, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return false }
            guard mantissa.contains(where: \.isNumber) else { return false }
            if mantissaEnd != chars.endIndex {
                var exponent = chars[chars.index(after: mantissaEnd)...]
                if exponent.first == "-" || exponent.first == "+" { exponent = exponent.dropFirst() }
                return !exponent.isEmpty && exponent.allSatisfy { $0.isASCII && $0.isNumber }
            }
            return true
        }
    }
}

private extension Node {
    var isMapping: Bool { if case .mapping = self { true } else { false } }
    var position: (line: Int, column: Int) { (mark?.line ?? 1, mark?.column ?? 1) }
}
