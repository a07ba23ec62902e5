import CLibYAML

/// Owns one libyaml parser and the input it reads; frees both.
final class LibYAMLParser {
    private var parser = yaml_parser_t()
    private let input: UnsafeMutableBufferPointer<UInt8>

    init(bytes: [UInt8]) {
        input = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        yaml_parser_initialize(&parser)
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(&parser)
        input.deallocate()
    }

    /// The next event, or the parser's error. The caller must `yaml_event_delete` the event.
    func next(_ event: inout yaml_event_t) -> Bool { yaml_parser_parse(&parser, &event) == 1 }

    struct Failure {
        var problem: String
        var line: Int
        var column: Int
        var context: String?
        var contextLine: Int
        var isReaderError: Bool
        var offset: Int
    }

    var failure: Failure {
        Failure(problem: parser.problem.map { String(cString: $0) } ?? "unknown error",
                line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1,
                context: parser.context.map { String(cString: $0) }, contextLine: Int(parser.context_mark.line) + 1,
                isReaderError: parser.error == YAML_READER_ERROR, offset: Int(parser.problem_offset))
    }
}

/// Builds `SourceNode` trees straight from libyaml's events: iterative (no recursion, so deep
/// input cannot overflow the stack), with YAML 1.2 core scalars, `<<` merges, aliases counted
/// against the expansion limit, and duplicate keys reported at the repeated key.
struct YAMLComposer {
    let file: String
    let limits: YAMLLimits
    /// A `.json` file: content after its document is reported as such.
    let isJSON: Bool
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String, limits: YAMLLimits, isJSON: Bool = false) {
        self.file = file
        self.limits = limits
        self.isJSON = isJSON
    }

    private final class MappingBuilder {
        let line: Int, column: Int, isFlow: Bool, anchor: String?
        var entries: [SourceNode.Entry] = []
        /// Built once a mapping grows large; small mappings (nearly all) are searched directly,
        /// which is cheaper than hashing every key.
        var keyIndex: [String: (line: Int, column: Int)]?
        var merges: [(node: SourceNode, line: Int, column: Int)] = []
        var pendingKey: (key: String, line: Int, column: Int, isMerge: Bool, skip: Bool)?
        var count = 1
        init(line: Int, column: Int, isFlow: Bool, anchor: String?) {
            self.line = line; self.column = column; self.isFlow = isFlow; self.anchor = anchor
        }

        func firstOccurrence(of key: String) -> (line: Int, column: Int)? {
            if let keyIndex { return keyIndex[key] }
            return entries.first { $0.key == key }.map { ($0.keyLine, $0.keyColumn) }
        }

        func append(_ entry: SourceNode.Entry) {
            entries.append(entry)
            if keyIndex != nil {
                keyIndex![entry.key] = (entry.keyLine, entry.keyColumn)
            } else if entries.count >= 16 {
                keyIndex = Dictionary(entries.map { ($0.key, ($0.keyLine, $0.keyColumn)) }, uniquingKeysWith: { a, _ in a })
            }
        }
    }

    private final class SequenceBuilder {
        let line: Int, column: Int, anchor: String?
        var items: [SourceNode] = []
        var count = 1
        init(line: Int, column: Int, anchor: String?) { self.line = line; self.column = column; self.anchor = anchor }
    }

    private enum Frame {
        case mapping(MappingBuilder)
        case sequence(SequenceBuilder)
    }

    private struct Stopped: Error {}

    mutating func compose(_ bytes: [UInt8]) -> [SourceDocument] {
        let parser = LibYAMLParser(bytes: bytes)
        var documents: [SourceDocument] = []
        var stack: [Frame] = []
        var anchors: [String: (node: SourceNode, count: Int)] = [:]
        var produced = 0
        var root: SourceNode?
        var event = yaml_event_t()
        var documentIndex = 0

        do {
            loop: while true {
                guard parser.next(&event) else {
                    report(parser.failure, afterDocument: root != nil && stack.isEmpty)
                    break
                }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                let column = Int(event.start_mark.column) + 1
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    break loop
                case YAML_DOCUMENT_START_EVENT:
                    anchors = [:]
                    produced = 0
                    root = nil
                case YAML_DOCUMENT_END_EVENT:
                    if let root {
                        if documentIndex >= limits.maxDocumentsPerFile {
                            error(.documentTooComplex, line, column, "file holds more than \(limits.maxDocumentsPerFile) documents", "split the file")
                            throw Stopped()
                        }
                        documents.append(SourceDocument(file: file, index: documentIndex, root: root))
                    }
                    documentIndex += 1
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let raw = UnsafeBufferPointer(start: s.value, count: s.length)
                    let text = String(decoding: raw, as: UTF8.self)
                    let summary = TextScan.summary(raw)
                    if summary.unusual { checkControls(text, stack: stack, line: line, column: column) }
                    let anchor = s.anchor.map { String(cString: $0) }
                    let tag = s.tag.map { String(cString: $0) }
                    let isPlain = s.style == YAML_PLAIN_SCALAR_STYLE
                    let value: ScalarValue
                    if let tag {
                        guard let v = CoreSchema.resolve(text, tag: tag) else {
                            error(.wrongType, line, column, "unsupported YAML tag '\(tag)'", "remove the tag; beamsync documents use plain YAML values")
                            throw Stopped()
                        }
                        value = v
                    } else {
                        value = isPlain ? CoreSchema.resolvePlain(text) : .string(text)
                    }
                    let node = SourceNode.scalar(.init(text: text, value: value, line: line, column: column, bytes: summary))
                    try count(&produced, 1, line, column)
                    if let anchor { anchors[anchor] = (node, 1) }
                    try attach(node, count: 1, isPlainScalar: isPlain, to: &stack, root: &root, line: line, column: column)
                case YAML_ALIAS_EVENT:
                    let name = String(cString: event.data.alias.anchor)
                    guard let target = anchors[name] else {
                        error(.yamlSyntax, line, column, "alias *\(name) refers to an anchor that is not defined", "define &\(name) before using *\(name)")
                        throw Stopped()
                    }
                    try count(&produced, target.count, line, column)
                    try attach(target.node, count: target.count, isPlainScalar: false, to: &stack, root: &root, line: line, column: column)
                case YAML_SEQUENCE_START_EVENT:
                    try count(&produced, 1, line, column)
                    try checkDepth(stack.count + 1, line, column)
                    let anchor = event.data.sequence_start.anchor.map { String(cString: $0) }
                    stack.append(.sequence(SequenceBuilder(line: line, column: column, anchor: anchor)))
                case YAML_MAPPING_START_EVENT:
                    try count(&produced, 1, line, column)
                    try checkDepth(stack.count + 1, line, column)
                    let m = event.data.mapping_start
                    stack.append(.mapping(MappingBuilder(line: line, column: column, isFlow: m.style == YAML_FLOW_MAPPING_STYLE,
                                                         anchor: m.anchor.map { String(cString: $0) })))
                case YAML_SEQUENCE_END_EVENT:
                    guard case .sequence(let b) = stack.removeLast() else { throw Stopped() }
                    let node = SourceNode.sequence(.init(items: b.items, line: b.line, column: b.column))
                    if let a = b.anchor { anchors[a] = (node, b.count) }
                    try attach(node, count: b.count, isPlainScalar: false, to: &stack, root: &root, line: b.line, column: b.column)
                case YAML_MAPPING_END_EVENT:
                    guard case .mapping(let b) = stack.removeLast() else { throw Stopped() }
                    let node = finishMapping(b)
                    if let a = b.anchor { anchors[a] = (node, b.count) }
                    try attach(node, count: b.count, isPlainScalar: false, to: &stack, root: &root, line: b.line, column: b.column)
                default:
                    continue
                }
            }
        } catch {
            // A diagnostic has been recorded; the rest of the file is not read.
        }
        return documents
    }

    @inline(__always)
    private mutating func count(_ produced: inout Int, _ n: Int, _ line: Int, _ column: Int) throws {
        produced += n
        if produced > limits.maxNodesPerDocument {
            error(.documentTooComplex, line, column,
                  "document expands to more than \(limits.maxNodesPerDocument) values (alias expansion limit)",
                  "anchors and aliases (&a / *a) multiply content; write the values out or use fewer aliases")
            throw Stopped()
        }
    }

    private mutating func checkDepth(_ depth: Int, _ line: Int, _ column: Int) throws {
        if depth > limits.maxDepth {
            error(.documentTooComplex, line, column, "document nests deeper than \(limits.maxDepth) levels (depth limit)", "flatten the structure")
            throw Stopped()
        }
    }

    private mutating func attach(_ node: SourceNode, count: Int, isPlainScalar: Bool, to stack: inout [Frame], root: inout SourceNode?,
                                 line: Int, column: Int) throws {
        guard let top = stack.last else {
            root = node
            return
        }
        switch top {
        case .sequence(let b):
            b.items.append(node)
            b.count += count
        case .mapping(let b):
            b.count += count
            guard let pending = b.pendingKey else {
                guard case .scalar(let s) = node else {
                    error(.wrongType, line, column, "mapping keys must be plain strings, not \(node.kindDescription)", "use a simple `key: value` form")
                    b.pendingKey = ("", line, column, false, true)
                    return
                }
                b.pendingKey = (s.text, line, column, isPlainScalar && s.text == "<<", false)
                return
            }
            b.pendingKey = nil
            if pending.skip { return }
            if pending.isMerge {
                b.merges.append((node, pending.line, pending.column))
                return
            }
            if let first = b.firstOccurrence(of: pending.key) {
                reportDuplicate(pending.key, line: pending.line, column: pending.column, first: first, stack: stack)
                return
            }
            b.append(.init(key: pending.key, keyLine: pending.line, keyColumn: pending.column, value: node))
        }
    }

    @inline(never)
    private mutating func reportDuplicate(_ key: String, line: Int, column: Int, first: (line: Int, column: Int), stack: [Frame]) {
        diagnostics.append(Diagnostic(code: .duplicateKey, location: SourceLocation(file: file, line: line, column: column),
            path: Self.path(of: stack, key: key), message: "duplicate key '\(key)' is defined more than once in the same mapping",
            hint: "keep one '\(key)' entry; YAML does not merge repeated keys",
            related: [SourceLocation(file: file, line: first.line, column: first.column)]))
    }

    /// Applies `<<` merges: keys from merged mappings fill in what the mapping does not say itself,
    /// earlier merge sources winning over later ones.
    private mutating func finishMapping(_ b: MappingBuilder) -> SourceNode {
        var entries = b.entries
        if !b.merges.isEmpty {
            var present = Set(entries.map(\.key))
            for merge in b.merges {
                let sources: [SourceNode]
                switch merge.node {
                case .mapping: sources = [merge.node]
                case .sequence(let s): sources = s.items
                case .scalar:
                    error(.wrongType, merge.line, merge.column, "a merge key (<<) needs a mapping or a list of mappings",
                          "write `<<: *anchor` where the anchor names a mapping")
                    sources = []
                }
                for case .mapping(let m) in sources {
                    for entry in m.entries where !present.contains(entry.key) {
                        present.insert(entry.key)
                        entries.append(entry)
                    }
                }
            }
        }
        return .mapping(.init(entries: entries, line: b.line, column: b.column, isFlow: b.isFlow))
    }

    /// Whether the next scalar is a mapping key.
    private static func readsKey(_ stack: [Frame]) -> Bool {
        if case .mapping(let b)? = stack.last { return b.pendingKey == nil }
        return false
    }

    /// NUL anywhere (PostgreSQL's text and jsonb cannot store it), and any control or format
    /// character in a key (keys are identifiers). Values get their field's rule when decoded.
    /// Kept out of line: it runs for few scalars, and inlined it would make `compose` too large
    /// for the optimiser to inline `attach`, which every node goes through.
    @inline(never)
    private mutating func checkControls(_ text: String, stack: [Frame], line: Int, column: Int) {
        let isKey = Self.readsKey(stack)
        if !isKey && !text.utf8.contains(0) { return }
        let what = isKey ? "key" : "value"
        var position = 0
        for scalar in text.unicodeScalars {
            position += 1
            if scalar == "\0" {
                diagnostics.append(Diagnostic(code: .controlCharacter, location: SourceLocation(file: file, line: line, column: column),
                    path: Self.path(of: stack, key: isKey ? text : nil),
                    message: "\(what) contains a NUL character (\\0) at character \(position); PostgreSQL's text and jsonb cannot store it",
                    hint: "remove the \\0 or \\u0000 escape"))
                return
            }
        }
        if isKey, let (scalar, position) = TextRule.line.firstRefused(in: text) {
            diagnostics.append(Diagnostic(code: .controlCharacter, location: SourceLocation(file: file, line: line, column: column),
                path: Self.path(of: stack, key: text),
                message: "key contains \(TextRule.describe(scalar)) at character \(position)", hint: TextRule.line.hint))
        }
    }

    /// The dotted path (`discovery.queries[1].name`) of the node being read at the top of
    /// `stack`; `key` is the key's text when the node is itself a key. Built only for a diagnostic.
    @inline(never)
    private static func path(of stack: [Frame], key: String? = nil) -> String {
        var out = ""
        for frame in stack {
            switch frame {
            case .mapping(let b):
                if let k = b.pendingKey, !k.skip { out += out.isEmpty ? k.key : "." + k.key }
            case .sequence(let b):
                out += "[\(b.items.count)]"
            }
        }
        if let key { out += out.isEmpty ? key : "." + key }
        return out
    }

    private mutating func error(_ code: DiagnosticCode, _ line: Int, _ column: Int, _ message: String, _ hint: String?) {
        diagnostics.append(Diagnostic(code: code, location: SourceLocation(file: file, line: line, column: column), path: "", message: message, hint: hint))
    }

    private mutating func report(_ f: LibYAMLParser.Failure, afterDocument: Bool) {
        if isJSON && afterDocument && !f.isReaderError {
            error(.yamlSyntax, f.line, f.column, "unexpected content after the JSON document",
                  "a JSON file holds exactly one value: remove what follows the closing bracket, or split the file")
            return
        }
        if f.isReaderError {
            diagnostics.append(Diagnostic(code: .invalidEncoding, location: SourceLocation(file: file, line: f.line, column: f.column), path: "",
                                          message: "cannot read the file: \(f.problem) (byte \(f.offset))",
                                          hint: "remove control characters and save the file as UTF-8"))
            return
        }
        if f.problem.contains("nesting level") {
            error(.documentTooComplex, f.line, f.column, "document nests deeper than libyaml's nesting limit (depth limit)", "flatten the structure")
            return
        }
        var message = "invalid YAML: \(f.problem)"
        if let context = f.context { message += " (\(context) at line \(f.contextLine))" }
        diagnostics.append(Diagnostic(code: .yamlSyntax, location: SourceLocation(file: file, line: f.line, column: f.column), path: "",
                                      message: message, hint: YAMLLoader.syntaxHint(problem: f.problem)))
    }
}

/// YAML 1.2 core schema resolution, the way serde_yaml reads beampipe's documents.
enum CoreSchema {
    static let tagPrefix = "tag:yaml.org,2002:"

    /// A scalar with an explicit tag; nil for tags beamsync does not accept.
    static func resolve(_ text: String, tag: String) -> ScalarValue? {
        switch tag {
        case tagPrefix + "str", "!": return .string(text)
        case tagPrefix + "null": return .null
        case tagPrefix + "bool":
            switch text.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: return .string(text)
            }
        case tagPrefix + "int": return integer(text) ?? .string(text)
        case tagPrefix + "float": return Double(text).map(ScalarValue.float) ?? .string(text)
        default: return nil
        }
    }

    static func resolvePlain(_ text: String) -> ScalarValue {
        // Every special plain scalar is at most 5 bytes long; most scalars skip the comparisons.
        if text.utf8.count <= 5 {
            switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
            }
        }
        guard let first = text.utf8.first,
              first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || (first >= 0x30 && first <= 0x39) else { return .string(text) }
        if let int = integer(text) { return int }
        if isCoreFloat(text), let d = Double(text) { return .float(d) }
        return .string(text)
    }

    static func integer(_ text: String) -> ScalarValue? {
        let bytes = Array(text.utf8)
        var start = 0
        var negative = false
        if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            start = 1
        }
        guard start < bytes.count else { return nil }
        var radix = 10
        if bytes.count - start >= 2 && bytes[start] == UInt8(ascii: "0") {
            if bytes[start + 1] == UInt8(ascii: "x") { radix = 16; start += 2 }
            else if bytes[start + 1] == UInt8(ascii: "o") { radix = 8; start += 2 }
        }
        let body = bytes[start...]
        guard !body.isEmpty else { return nil }
        if radix == 10 {
            guard body.allSatisfy(isDigit) else { return nil }
        } else {
            guard body.allSatisfy(isHexDigit) else { return nil }
            if negative { return nil }
        }
        if let v = Int64(String(decoding: body, as: UTF8.self), radix: radix) { return .int(negative ? -v : v) }
        return .bigInt(text)
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isHexDigit(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x66) }

    /// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
    static func isCoreFloat(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        let mantissaEnd = bytes.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? bytes.endIndex
        let mantissa = bytes[..<mantissaEnd]
        let parts = mantissa.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ $0.allSatisfy(isDigit) }) else { return false }
        guard mantissa.contains(where: isDigit) else { return false }
        if mantissaEnd != bytes.endIndex {
            var exponent = bytes[(mantissaEnd + 1)...]
            if let sign = exponent.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { exponent = exponent.dropFirst() }
            return !exponent.isEmpty && exponent.allSatisfy(isDigit)
        }
        return true
    }
}
