import Foundation

/// Collects diagnostics while documents are decoded, so that every problem is reported at once.
public struct DiagnosticSink: Sendable {
    public let file: String
    public private(set) var diagnostics: [Diagnostic] = []

    public init(file: String) { self.file = file }

    public var hasErrors: Bool { diagnostics.hasErrors }

    public mutating func add(_ d: Diagnostic) { diagnostics.append(d) }

    public mutating func error(_ code: DiagnosticCode, at node: SourceNode?, line: Int? = nil, column: Int? = nil,
                               path: String, _ message: String, hint: String? = nil) {
        let l = line ?? node?.line ?? 1
        let c = column ?? node?.column ?? 1
        diagnostics.append(Diagnostic(code: code, location: SourceLocation(file: file, line: l, column: c),
                                      path: path, message: message, hint: hint))
    }

    public mutating func warning(_ code: DiagnosticCode, at node: SourceNode?, path: String, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(.warning, code: code,
                                      location: SourceLocation(file: file, line: node?.line ?? 1, column: node?.column ?? 1),
                                      path: path, message: message, hint: hint))
    }
}

/// Key names that signal a secret; such a key never belongs in a profile or project document.
enum SecretPolicy {
    static let secretKeyFragments = ["password", "passphrase", "passcode", "token", "secret", "private_key", "api_key"]

    /// beampipe's redaction list: a value under a key named like this is never quoted in a message.
    static let redactedKeyFragments = secretKeyFragments + ["credential", "authorization", "routing_key", "webhook"]

    static func looksLikeSecretKey(_ key: String) -> Bool {
        let lower = key.lowercased()
        return secretKeyFragments.contains { lower.contains($0) }
    }

    static func looksLikePEM(_ value: String) -> Bool {
        TextScan.contains(value, "-----BEGIN ") && (TextScan.contains(value, "KEY") || TextScan.contains(value, "CERTIFICATE"))
    }

    /// Whether `value` holds a URL with a password in it (`scheme://user:password@host`).
    static func hasURLPassword(_ value: String) -> Bool {
        TextScan.contains(value, "://") && urlUserinfoHasPassword(value)
    }

    private static func urlUserinfoHasPassword(_ value: String) -> Bool {
        let b = Array(value.utf8)
        var i = 0
        while i + 2 < b.count {
            if b[i] == UInt8(ascii: ":") && b[i + 1] == UInt8(ascii: "/") && b[i + 2] == UInt8(ascii: "/") {
                var j = i + 3
                var colon = false
                while j < b.count, b[j] != UInt8(ascii: "/"), b[j] != UInt8(ascii: "?"), b[j] != UInt8(ascii: "#"), b[j] > 0x20 {
                    if b[j] == UInt8(ascii: ":") { colon = true }
                    if b[j] == UInt8(ascii: "@") && colon { return true }
                    j += 1
                }
                i = j
                continue
            }
            i += 1
        }
        return false
    }

    /// Whether any key on a dotted path (`a.db_password[0].x`) is named like a secret: then no
    /// message quotes the value found there.
    static func hidesValue(at path: String) -> Bool {
        guard !path.isEmpty else { return false }
        let lower = path.lowercased()
        return redactedKeyFragments.contains { lower.contains($0) }
    }

    /// How a message quotes a value found at `path`: redacted and escaped, or not at all.
    static func shown(_ value: String, at path: String) -> String {
        hidesValue(at: path) ? "(value not shown)" : DisplayText.value(value)
    }

    /// An inline secret in a string value (a PEM block or a URL with a password), reported without
    /// quoting it; true when one was found.
    static func reportInline(_ value: String, node: SourceNode, path: String, sink: inout DiagnosticSink,
                             mayHoldURLPassword: Bool = true) -> Bool {
        if looksLikePEM(value) {
            sink.error(.inlineSecret, at: node, path: path, "value looks like a PEM key or certificate; inline secrets are not allowed",
                       hint: whereSecretsBelong)
            return true
        }
        if mayHoldURLPassword && hasURLPassword(value) {
            sink.error(.inlineSecret, at: node, path: path, "value holds a URL with a password in it; inline secrets are not allowed",
                       hint: "remove the user name and password from the URL; " + whereSecretsBelong)
            return true
        }
        return false
    }

    static let whereSecretsBelong =
        "secrets never go in the repository: install an SSH key in a credential slot, a directory " +
        "$BEAMSYNC_SSH_CREDENTIALS_DIR/<slot>/ holding the key, its passphrase and known_hosts, and name the slot " +
        "in deployment.ssh_credential; or give the controller SLURM_SSH_PRIVATE_KEY_FILE, " +
        "SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE and SLURM_SSH_KNOWN_HOSTS_SOURCE"
}

/// Reads the fields of one YAML mapping, checking types and remembering which keys were used so
/// that the rest can be reported as unknown fields, with a "did you mean" for near misses.
public struct FieldReader {
    public let mapping: SourceNode.Mapping
    public let node: SourceNode
    public let path: String
    /// Every key asked for, present or not: the known fields that suggestions draw on.
    private var asked: [String] = []
    /// Which entries (by position) an accessor used. An array, not a set of keys: documents are
    /// small, and hashing every key was a measurable share of parsing 10,000 files.
    private var used: [Bool] = []

    /// Returns nil (and records an error) when `node` is not a mapping.
    public init?(_ node: SourceNode, path: String, sink: inout DiagnosticSink, what: String = "a mapping") {
        guard case .mapping(let m) = node else {
            sink.error(.wrongType, at: node, path: path, "expected \(what), found \(node.kindDescription)",
                       hint: path.isEmpty ? "the document must be a YAML mapping of `key: value` lines" :
                           "write `\(Self.lastComponent(path)):` followed by indented `key: value` lines")
            return nil
        }
        self.mapping = m
        self.node = node
        self.path = path
        self.used = Array(repeating: false, count: m.entries.count)
    }

    static func lastComponent(_ path: String) -> String {
        path.split(separator: ".").last.map(String.init) ?? path
    }

    public func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The entry for `key`, marking it as known.
    public mutating func entry(_ key: String) -> SourceNode.Entry? {
        asked.append(key)
        guard let i = mapping.entries.firstIndex(where: { $0.key == key }) else { return nil }
        used[i] = true
        return mapping.entries[i]
    }

    public mutating func markKnown(_ keys: [String]) {
        for k in keys {
            asked.append(k)
            for i in mapping.entries.indices where mapping.entries[i].key == k { used[i] = true }
        }
    }

    public func has(_ key: String) -> Bool { mapping.entries.contains { $0.key == key } }

    // MARK: Typed accessors. `nil` means absent or explicit null (and not an error).

    public enum Presence<T> {
        case absent
        case null(SourceNode)
        case value(T, SourceNode)
        case invalid

        public var value: T? { if case .value(let v, _) = self { v } else { nil } }
        public var node: SourceNode? {
            switch self {
            case .null(let n), .value(_, let n): n
            default: nil
            }
        }
    }

    /// A string, checked for inline secrets and for the characters `rule` refuses. The reader's
    /// byte scan decides which checks can apply (a URL password needs an '@', a refused character
    /// a byte outside printable ASCII).
    static func checkedString(_ s: String, node: SourceNode, path: String, rule: TextRule, sink: inout DiagnosticSink) -> String? {
        let bytes = node.byteSummary ?? TextScan.summary(s)
        if SecretPolicy.reportInline(s, node: node, path: path, sink: &sink, mayHoldURLPassword: bytes.at) { return nil }
        return !bytes.unusual || rule.check(s, node: node, path: path, sink: &sink) ? s : nil
    }

    public mutating func string(_ key: String, sink: inout DiagnosticSink, required: Bool = false, hint: String? = nil) -> Presence<String> {
        string(key, sink: &sink, required: required, hint: hint, rule: .line)
    }

    mutating func string(_ key: String, sink: inout DiagnosticSink, required: Bool = false, hint: String? = nil, rule: TextRule) -> Presence<String> {
        read(key, sink: &sink, required: required, expected: "a string") { value, node, path, sink in
            switch value {
            case .string(let s):
                return Self.checkedString(s, node: node, path: path, rule: rule, sink: &sink)
            case .int, .bigInt, .float, .bool:
                let shown = Self.shown(node, at: path)
                sink.error(.wrongType, at: node, path: path, "expected a string, found \(value.kindDescription) (\(shown))",
                           hint: hint ?? (SecretPolicy.hidesValue(at: path) ? "quote the value" : "quote the value: \(Self.lastComponent(path)): \"\(shown)\""))
                return nil
            case .null:
                return nil
            }
        }
    }

    public mutating func int(_ key: String, sink: inout DiagnosticSink, required: Bool = false) -> Presence<Int> {
        read(key, sink: &sink, required: required, expected: "an integer") { value, node, path, sink in
            switch value {
            case .int(let i) where i >= Int64(Int32.min) && i <= Int64(Int32.max):
                return Int(i)
            case .int, .bigInt:
                sink.error(.outOfRange, at: node, path: path, "integer \(Self.shown(node, at: path)) does not fit in 32 bits",
                           hint: "use a value between \(Int32.min) and \(Int32.max)")
                return nil
            case .float(let d) where d.rounded() == d && abs(d) < 1e9:
                sink.error(.wrongType, at: node, path: path, "expected an integer, found a number with a fraction (\(Self.shown(node, at: path)))",
                           hint: "write it without the decimal point: \(Int(d))")
                return nil
            default:
                let text = Self.text(of: node), shown = Self.shown(node, at: path)
                sink.error(.wrongType, at: node, path: path, "expected an integer, found \(value.kindDescription) (\(text.isEmpty ? "empty" : shown))",
                           hint: Int(text.trimmingCharacters(in: .whitespaces)) != nil
                               ? "remove the quotes so it reads as a number" : "write a whole number such as 1")
                return nil
            }
        }
    }

    public mutating func double(_ key: String, sink: inout DiagnosticSink, required: Bool = false) -> Presence<Double> {
        read(key, sink: &sink, required: required, expected: "a number") { value, node, path, sink in
            switch value {
            case .int(let i): return Double(i)
            case .float(let d): return d
            default:
                sink.error(.wrongType, at: node, path: path, "expected a number, found \(value.kindDescription) (\(Self.shown(node, at: path)))",
                           hint: "write a number such as 2.5")
                return nil
            }
        }
    }

    public mutating func bool(_ key: String, sink: inout DiagnosticSink, required: Bool = false) -> Presence<Bool> {
        read(key, sink: &sink, required: required, expected: "true or false") { value, node, path, sink in
            if case .bool(let b) = value { return b }
            let shown = Self.shown(node, at: path)
            let yaml11 = ["yes", "no", "on", "off", "y", "n"].contains(Self.text(of: node).lowercased())
            sink.error(.wrongType, at: node, path: path, "expected true or false, found \(value.kindDescription) (\(shown))",
                       hint: yaml11 ? "YAML 1.2 reads '\(shown)' as a string; write true or false" : "write true or false without quotes")
            return nil
        }
    }

    /// A string restricted to the raw values of `E`.
    public mutating func enumeration<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type, sink: inout DiagnosticSink,
                                                                       required: Bool = false) -> Presence<E> where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        return read(key, sink: &sink, required: required, expected: "one of \(allowed.joined(separator: ", "))") { value, node, path, sink in
            if case .string(let s) = value, let e = E(rawValue: s) { return e }
            let shown = Self.shown(node, at: path)
            let suggestion = Suggest.closest(to: Self.text(of: node).lowercased(), in: allowed).map { "did you mean '\($0)'? " } ?? ""
            sink.error(.invalidValue, at: node, path: path, "'\(shown)' is not allowed; expected one of: \(allowed.joined(separator: ", "))",
                       hint: "\(suggestion)values are lower-case")
            return nil
        }
    }

    public mutating func child(_ key: String) -> SourceNode? {
        guard let e = entry(key) else { return nil }
        if case .scalar(let s) = e.value, s.value == .null { return nil }
        return e.value
    }

    private mutating func read<T>(_ key: String, sink: inout DiagnosticSink, required: Bool, expected: String,
                                  convert: (ScalarValue, SourceNode, String, inout DiagnosticSink) -> T?) -> Presence<T> {
        let p = childPath(key)
        guard let e = entry(key) else {
            if required {
                sink.error(.missingField, at: node, line: mapping.line, column: mapping.column, path: p,
                           "required field '\(key)' is missing; expected \(expected)",
                           hint: "add `\(key): ...` to \(path.isEmpty ? "the document" : "'\(path)'")")
                return .invalid
            }
            return .absent
        }
        guard case .scalar(let s) = e.value else {
            sink.error(.wrongType, at: e.value, path: p, "expected \(expected), found \(e.value.kindDescription)",
                       hint: "write a single value after `\(key):`")
            return .invalid
        }
        if s.value == .null {
            if required {
                sink.error(.missingField, at: e.value, path: p, "required field '\(key)' is empty; expected \(expected)",
                           hint: "give '\(key)' a value")
                return .invalid
            }
            return .null(e.value)
        }
        guard let v = convert(s.value, e.value, p, &sink) else { return .invalid }
        return .value(v, e.value)
    }

    static func text(of node: SourceNode) -> String {
        if case .scalar(let s) = node { return s.text }
        return node.kindDescription
    }

    /// The node's text as a message may quote it (see `SecretPolicy.shown`).
    static func shown(_ node: SourceNode, at path: String) -> String {
        if case .scalar(let s) = node { return SecretPolicy.shown(s.text, at: path) }
        return node.kindDescription
    }

    /// Reports every key that no accessor asked for. Secret-looking keys get the secret message.
    public func reportUnknownKeys(sink: inout DiagnosticSink, known: [String]? = nil) {
        guard used.contains(false) else { return }
        var seen = Set<String>()
        let knownKeys = known ?? asked.filter { seen.insert($0).inserted }
        for (i, entry) in mapping.entries.enumerated() where !used[i] {
            let p = childPath(entry.key)
            if SecretPolicy.looksLikeSecretKey(entry.key) {
                sink.error(.inlineSecret, at: entry.value, line: entry.keyLine, column: entry.keyColumn, path: p,
                           "'\(entry.key)' looks like a secret; secrets are not allowed in the repository",
                           hint: SecretPolicy.whereSecretsBelong)
                continue
            }
            let suggestion = Suggest.closest(to: entry.key, in: knownKeys)
            sink.error(.unknownField, at: entry.value, line: entry.keyLine, column: entry.keyColumn, path: p,
                       "unknown field '\(entry.key)'\(path.isEmpty ? "" : " in '\(path)'")",
                       hint: suggestion.map { "did you mean '\($0)'?" }
                           ?? "allowed fields here: \(knownKeys.sorted().joined(separator: ", "))")
        }
    }
}

/// "Did you mean" suggestions by edit distance.
enum Suggest {
    static func closest(to word: String, in candidates: [String]) -> String? {
        var best: (String, Int)? = nil
        for c in candidates {
            let d = distance(word.lowercased(), c.lowercased())
            if d <= max(1, min(3, c.count / 3)), best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}
