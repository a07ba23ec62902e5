/// A YAML node with the position it came from, resolved with the YAML 1.2 core schema
/// (so `yes`, `on` and `0755` stay strings, as serde_yaml reads them in beampipe).
public indirect enum SourceNode: Sendable, Equatable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)

    public struct Scalar: Sendable, Equatable {
        public var text: String
        public var value: ScalarValue
        public var line: Int
        public var column: Int
        /// What the reader's byte scan found in `text`, so decoders need not scan it again.
        var bytes = TextScan.ByteSummary(unusual: true, at: true)
    }

    public struct Mapping: Sendable, Equatable {
        public var entries: [Entry]
        public var line: Int
        public var column: Int
        /// Flow style (`{a: 1}`) or JSON; kept so renderers can tell.
        public var isFlow: Bool

        public func value(for key: String) -> SourceNode? {
            entries.first { $0.key == key }?.value
        }
    }

    public struct Entry: Sendable, Equatable {
        public var key: String
        public var keyLine: Int
        public var keyColumn: Int
        public var value: SourceNode
    }

    public struct Sequence: Sendable, Equatable {
        public var items: [SourceNode]
        public var line: Int
        public var column: Int
    }

    public var line: Int {
        switch self {
        case .scalar(let s): s.line
        case .mapping(let m): m.line
        case .sequence(let s): s.line
        }
    }

    public var column: Int {
        switch self {
        case .scalar(let s): s.column
        case .mapping(let m): m.column
        case .sequence(let s): s.column
        }
    }

    /// What kind of YAML value this is, in the words an error message uses.
    public var kindDescription: String {
        switch self {
        case .scalar(let s): s.value.kindDescription
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    /// The untyped JSON value of this node (used for free-form sections and for hashing).
    public var jsonValue: JSONValue {
        switch self {
        case .scalar(let s): s.value.jsonValue
        case .mapping(let m): .object(m.entries.map { ($0.key, $0.value.jsonValue) })
        case .sequence(let s): .array(s.items.map(\.jsonValue))
        }
    }
}

/// The typed value of a scalar after YAML 1.2 core-schema resolution.
public enum ScalarValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// Integers beyond 64 bits keep their text; nothing in beampipe accepts them.
    case bigInt(String)
    case float(Double)
    case string(String)

    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .bigInt: "an integer"
        case .float: "a number with a fraction"
        case .string: "a string"
        }
    }

    public var jsonValue: JSONValue {
        switch self {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .bigInt(let text): .string(text)
        case .float(let d): .double(d)
        case .string(let s): .string(s)
        }
    }
}
