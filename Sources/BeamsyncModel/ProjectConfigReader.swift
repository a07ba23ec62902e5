import Foundation

// Reading ProjectConfig nodes the way serde reads them in beampipe, but without stopping at the
// first problem: every problem becomes a positioned diagnostic, the offending value is replaced by
// its default, and decoding carries on. Messages start with serde's wording (what beampipe itself
// prints) and the hint says how to fix the document.

/// Paths in beampipe's form: `discovery.queries[0].template`; "" is the whole document.
enum ProjectPath {
    static func child(_ base: String, _ key: String) -> String { base.isEmpty ? key : "\(base).\(key)" }
    static func index(_ base: String, _ i: Int) -> String { "\(base)[\(i)]" }
}

/// Where each path of the document was written, so that validation (which works on the typed
/// document) can point at the offending node, or at the containing mapping when it is absent.
struct ProjectSourceMap: Sendable {
    struct Position: Sendable, Hashable { var line: Int; var column: Int }
    private(set) var values: [String: Position] = [:]
    private(set) var keys: [String: Position] = [:]

    mutating func record(_ path: String, _ node: SourceNode) {
        values[path] = Position(line: node.line, column: node.column)
    }

    mutating func recordKey(_ path: String, line: Int, column: Int) {
        keys[path] = Position(line: line, column: column)
    }

    func value(_ path: String) -> Position? { values[path] }
    func key(_ path: String) -> Position? { keys[path] }
}

/// Shared state while one document is decoded.
struct ProjectDecodeContext {
    let dialect: ProjectJSONDialect
    var sink: DiagnosticSink
    var map = ProjectSourceMap()
    /// Paths that had a parse problem; validation findings at, under or above them are dropped
    /// because they would only restate the problem (the value was replaced by its default).
    private(set) var problemPaths: [String] = []

    init(file: String, dialect: ProjectJSONDialect) {
        self.dialect = dialect
        sink = DiagnosticSink(file: file)
    }

    var beampipeRelease: String { dialect == .v2 ? "beampipe 0.1.6" : "beampipe 0.1.0" }

    mutating func problem(_ code: DiagnosticCode, at node: SourceNode?, line: Int? = nil, column: Int? = nil,
                          path: String, _ message: String, hint: String?) {
        problemPaths.append(path)
        sink.error(code, at: node, line: line, column: column, path: path, message, hint: hint)
    }

    // MARK: serde's wording

    /// serde's `Unexpected` text for a node: ``integer `5` ``, ``string "x"``, `map`, ... Under a
    /// secret-named key (`SecretPolicy.hidesValue`) only the kind is named.
    static func unexpected(_ node: SourceNode, path: String) -> String {
        if SecretPolicy.hidesValue(at: path), case .scalar(let s) = node, s.value != .null {
            return "\(s.value.kindDescription) (value not shown)"
        }
        switch node {
        case .mapping: return "map"
        case .sequence: return "sequence"
        case .scalar(let s):
            switch s.value {
            case .null: return "null"
            case .bool(let b): return "boolean `\(b)`"
            case .int(let i): return "integer `\(i)`"
            case .bigInt(let t): return "integer `\(t)`"
            case .float(let d): return "floating point `\(d.isFinite ? RyuFormat.string(d) : s.text)`"
            case .string(let t): return "string \(debugQuoted(DisplayText.redacted(t)))"
            }
        }
    }

    /// Rust's `{:?}` for a string.
    static func debugQuoted(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 || ch.value == 0x7F { out += "\\u{\(String(ch.value, radix: 16))}" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "\""
    }

    static func lastKey(_ path: String) -> String {
        var p = Substring(path)
        if let dot = p.lastIndex(of: ".") { p = p[p.index(after: dot)...] }
        if let bracket = p.firstIndex(of: "[") { p = p[..<bracket] }
        return p.isEmpty ? "value" : String(p)
    }

    /// Records `invalid type: {found}, expected {expected}` with a hint that fits the mismatch.
    mutating func typeError(_ node: SourceNode, path: String, expected: String, hint: String? = nil) {
        let key = Self.lastKey(path)
        let found = Self.unexpected(node, path: path)
        let hidden = SecretPolicy.hidesValue(at: path)
        var fix = hint
        if fix == nil {
            switch expected {
            case "a string":
                if case .scalar(let s) = node, s.value != .null {
                    fix = hidden ? "quote the value so it reads as text" : "quote the value so it reads as text: \(key): \"\(DisplayText.value(s.text))\""
                } else {
                    fix = "write a single text value after `\(key):`"
                }
            case "a boolean":
                let text = FieldReader.text(of: node)
                fix = ["yes", "no", "on", "off", "y", "n"].contains(text.lowercased())
                    ? "YAML 1.2 reads '\(DisplayText.value(text))' as a string; write true or false" : "write true or false without quotes"
            case "i64", "i32", "u64", "u32":
                if case .scalar(let s) = node, case .float(let d) = s.value, d.isFinite, d.rounded() == d {
                    fix = hidden ? "this field is an integer; write it without the decimal point"
                        : "this field is an integer; write it without the decimal point: \(Int64(exactly: d).map(String.init) ?? s.text)"
                } else if case .scalar(let s) = node, case .string(let t) = s.value, Int64(t.trimmingCharacters(in: .whitespaces)) != nil {
                    fix = "remove the quotes so it reads as a number"
                } else {
                    fix = "write a whole number such as 10"
                }
            case "f64": fix = "write a number such as 2.5"
            case "a sequence": fix = "write a list: `\(key): [a, b]`, or one `- item` line per entry"
            case "a map": fix = "write indented `name: value` lines under `\(key):`"
            case "string or map": fix = "write the name as text"
            default:
                if case .scalar(let s) = node, s.value == .null {
                    fix = "delete the `\(key):` line to take the default, or give it a value"
                } else {
                    fix = "write `\(key):` followed by indented `field: value` lines"
                }
            }
        }
        problem(.wrongType, at: node, path: path, "invalid type: \(found), expected \(expected)", hint: fix)
    }

    // MARK: Scalars. `nil` means the value was wrong (already reported).

    /// A string; `rule` says which control characters it may hold (free text by default: queries
    /// and templates span lines).
    mutating func string(_ node: SourceNode, path: String, rule: TextRule = .freeText) -> String? {
        map.record(path, node)
        guard case .scalar(let s) = node, case .string(let text) = s.value else {
            typeError(node, path: path, expected: "a string")
            return nil
        }
        let bytes = node.byteSummary ?? TextScan.summary(text)
        if SecretPolicy.reportInline(text, node: node, path: path, sink: &sink, mayHoldURLPassword: bytes.at)
            || (bytes.unusual && !rule.check(text, node: node, path: path, sink: &sink)) {
            problemPaths.append(path)
            return nil
        }
        return text
    }

    /// `Option<String>`: absent or null is nil.
    mutating func optionalString(_ node: SourceNode?, path: String, rule: TextRule = .freeText) -> String? {
        guard let node, !node.isNullScalar else { return nil }
        return string(node, path: path, rule: rule)
    }

    mutating func bool(_ node: SourceNode, path: String) -> Bool? {
        map.record(path, node)
        if case .scalar(let s) = node, case .bool(let b) = s.value { return b }
        typeError(node, path: path, expected: "a boolean")
        return nil
    }

    /// An integer of a Rust type: serde rejects floats (even `60.0`) and out-of-range values.
    mutating func integer<I: FixedWidthInteger>(_ node: SourceNode, path: String, as type: I.Type, rustName: String) -> I? {
        map.record(path, node)
        guard case .scalar(let s) = node else {
            typeError(node, path: path, expected: rustName)
            return nil
        }
        switch s.value {
        case .int(let i):
            if let v = I(exactly: i) { return v }
        case .bigInt(let text):
            if let big = UInt64(text), let v = I(exactly: big) { return v }
        default:
            typeError(node, path: path, expected: rustName)
            return nil
        }
        let range = "\(I.min)...\(I.max)"
        problem(.outOfRange, at: node, path: path, "invalid value: integer `\(SecretPolicy.shown(s.text, at: path))`, expected \(rustName)",
                hint: I.min == 0 ? "use a whole number from 0 to \(I.max); negative values are not allowed" : "use a whole number in \(range)")
        return nil
    }

    mutating func i64(_ node: SourceNode, path: String) -> Int64? { integer(node, path: path, as: Int64.self, rustName: "i64") }
    mutating func i32(_ node: SourceNode, path: String) -> Int32? { integer(node, path: path, as: Int32.self, rustName: "i32") }
    mutating func u64(_ node: SourceNode, path: String) -> UInt64? { integer(node, path: path, as: UInt64.self, rustName: "u64") }
    mutating func u32(_ node: SourceNode, path: String) -> UInt32? { integer(node, path: path, as: UInt32.self, rustName: "u32") }

    mutating func optionalI64(_ node: SourceNode?, path: String) -> Int64? {
        guard let node, !node.isNullScalar else { return nil }
        return i64(node, path: path)
    }

    /// f64 accepts integers (re-serialised as `60.0`). YAML `.inf`/`.nan` would become JSON null in
    /// beampipe and silently unset the field; beamsync reports it instead.
    mutating func optionalF64(_ node: SourceNode?, path: String, rule: String) -> Double? {
        guard let node, !node.isNullScalar else { return nil }
        map.record(path, node)
        guard case .scalar(let s) = node else {
            typeError(node, path: path, expected: "f64")
            return nil
        }
        switch s.value {
        case .int(let i): return Double(i)
        case .bigInt(let t): return Double(t)
        case .float(let d) where d.isFinite: return d
        case .float:
            problem(.invalidValue, at: node, path: path, "\(rule); '\(SecretPolicy.shown(s.text, at: path))' is not a finite number",
                    hint: "write a positive number of seconds such as 30 (beampipe would turn \(s.text) into null and drop the setting)")
            return nil
        default:
            typeError(node, path: path, expected: "f64")
            return nil
        }
    }

    mutating func stringList(_ node: SourceNode, path: String, rule: TextRule = .freeText) -> [String]? {
        sequence(node, path: path) { ctx, item, itemPath in ctx.string(item, path: itemPath, rule: rule) }
    }

    // MARK: Containers

    /// A `Vec<T>`; elements that fail are left out (and reported).
    mutating func sequence<T>(_ node: SourceNode, path: String, _ element: (inout ProjectDecodeContext, SourceNode, String) -> T?) -> [T]? {
        map.record(path, node)
        guard case .sequence(let seq) = node else {
            typeError(node, path: path, expected: "a sequence")
            return nil
        }
        var out: [T] = []
        for (i, item) in seq.items.enumerated() {
            let itemPath = ProjectPath.index(path, i)
            map.record(itemPath, item)
            if let v = element(&self, item, itemPath) { out.append(v) }
        }
        return out
    }

    /// A `BTreeMap<String, T>`; entries that fail are left out (and reported).
    mutating func stringMap<T>(_ node: SourceNode, path: String, _ value: (inout ProjectDecodeContext, SourceNode, String) -> T?) -> [String: T]? {
        map.record(path, node)
        guard case .mapping(let m) = node else {
            typeError(node, path: path, expected: "a map")
            return nil
        }
        var out: [String: T] = [:]
        for entry in m.entries {
            let entryPath = ProjectPath.child(path, entry.key)
            map.recordKey(entryPath, line: entry.keyLine, column: entry.keyColumn)
            map.record(entryPath, entry.value)
            if let v = value(&self, entry.value, entryPath) { out[entry.key] = v }
        }
        return out
    }

    /// Free JSON (`serde_json::Value`). Non-finite floats become null, as serde_json makes them.
    mutating func freeJSON(_ node: SourceNode, path: String) -> JSONValue {
        map.record(path, node)
        switch node {
        case .mapping(let m):
            var pairs: [(String, JSONValue)] = []
            for entry in m.entries {
                let entryPath = ProjectPath.child(path, entry.key)
                map.recordKey(entryPath, line: entry.keyLine, column: entry.keyColumn)
                pairs.append((entry.key, freeJSON(entry.value, path: entryPath)))
            }
            return .object(pairs)
        case .sequence(let s):
            return .array(s.items.enumerated().map { i, item in freeJSON(item, path: ProjectPath.index(path, i)) })
        case .scalar(let s):
            switch s.value {
            case .float(let d) where !d.isFinite:
                sink.warning(.invalidValue, at: node, path: path, "'\(SecretPolicy.shown(s.text, at: path))' is not a finite number; beampipe stores it as null",
                             hint: "write null, or a finite number")
                return .null
            case .bigInt(let t):
                problem(.outOfRange, at: node, path: path, "integer \(t) does not fit in 64 bits",
                        hint: "quote it to keep it as text")
                return .null
            case .string(let t) where SecretPolicy.looksLikePEM(t) || (s.bytes.at && SecretPolicy.hasURLPassword(t)):
                _ = SecretPolicy.reportInline(t, node: node, path: path, sink: &sink)
                problemPaths.append(path)
                return .null
            default:
                return s.value.jsonValue
            }
        }
    }
}

extension SourceNode {
    var isNullScalar: Bool { if case .scalar(let s) = self, s.value == .null { true } else { false } }

    /// The reader's byte summary of a scalar's text; nil for mappings and lists.
    var byteSummary: TextScan.ByteSummary? { if case .scalar(let s) = self { s.bytes } else { nil } }
}

/// The members of one struct: marks keys as read, reports missing required members and, at the
/// end, every key that is not a member (serde's `deny_unknown_fields`).
struct ProjectStructReader {
    let mapping: SourceNode.Mapping
    let node: SourceNode
    let path: String
    /// Member names in declaration order; serde lists them in this order in its messages.
    let fields: [String]
    private var read: Set<String> = []

    /// Returns nil (and reports) when `node` is not a mapping.
    init?(_ node: SourceNode, path: String, structName: String, fields: [String], ctx: inout ProjectDecodeContext) {
        ctx.map.record(path, node)
        guard case .mapping(let m) = node else {
            ctx.typeError(node, path: path, expected: "struct \(structName)")
            return nil
        }
        mapping = m
        self.node = node
        self.path = path
        self.fields = fields
    }

    func childPath(_ key: String) -> String { ProjectPath.child(path, key) }

    /// The value written for `key` (possibly an explicit null), or nil when absent.
    mutating func value(_ key: String, ctx: inout ProjectDecodeContext) -> SourceNode? {
        read.insert(key)
        guard let entry = mapping.entries.first(where: { $0.key == key }) else { return nil }
        ctx.map.recordKey(childPath(key), line: entry.keyLine, column: entry.keyColumn)
        ctx.map.record(childPath(key), entry.value)
        return entry.value
    }

    /// Like `value`, but null counts as absent (serde's `Option` fields).
    mutating func optional(_ key: String, ctx: inout ProjectDecodeContext) -> SourceNode? {
        guard let v = value(key, ctx: &ctx), !v.isNullScalar else { return nil }
        return v
    }

    /// A member without a serde default: reports `missing field` at the containing mapping.
    mutating func required(_ key: String, ctx: inout ProjectDecodeContext, expected: String) -> SourceNode? {
        if let v = value(key, ctx: &ctx) { return v }
        let hint = path.isEmpty ? "add `\(key): \(expected)` at the top level of the document"
            : "add `\(key): \(expected)` under `\(ProjectDecodeContext.lastKey(path))` (\(path))"
        ctx.problem(.missingField, at: node, path: childPath(key), "missing field `\(key)`", hint: hint)
        return nil
    }

    /// serde's expected-list: `a`, `a` or `b`, or one of `a`, `b`, `c`.
    static func expectedList(_ fields: [String]) -> String {
        switch fields.count {
        case 0: return "there are no fields"
        case 1: return "expected `\(fields[0])`"
        case 2: return "expected `\(fields[0])` or `\(fields[1])`"
        default: return "expected one of " + fields.map { "`\($0)`" }.joined(separator: ", ")
        }
    }

    /// Reports every key that is not a member, in document order.
    func finish(ctx: inout ProjectDecodeContext) {
        for entry in mapping.entries where !read.contains(entry.key) {
            let p = childPath(entry.key)
            if SecretPolicy.looksLikeSecretKey(entry.key) {
                ctx.problem(.inlineSecret, at: entry.value, line: entry.keyLine, column: entry.keyColumn, path: p,
                            "'\(entry.key)' looks like a secret; secrets are not allowed in the repository",
                            hint: SecretPolicy.whereSecretsBelong)
                continue
            }
            var hint = Suggest.closest(to: entry.key, in: fields).map { "did you mean `\($0)`? " } ?? ""
            switch ctx.dialect {
            case .v2: hint += "remove the key or fix its spelling; beampipe 0.1.6 rejects unknown fields"
            case .v1:
                // beampipe 0.1.0 had no deny_unknown_fields and dropped such keys silently; beamsync
                // never drops data without saying so, so it is an error here too.
                hint += "remove the key or fix its spelling; beampipe 0.1.0 would silently drop it"
            }
            if entry.key == "<<" { hint = "YAML merge keys (<<) are not applied by beampipe; write the fields out" }
            ctx.problem(.unknownField, at: entry.value, line: entry.keyLine, column: entry.keyColumn, path: p,
                        "unknown field `\(entry.key)`, \(Self.expectedList(fields))", hint: hint)
        }
    }
}
