import BeamsyncModel

/// The graph beamsync appends to a DIM session: the Translator Manager's `/map` output, prepared
/// the way beampipe prepares it, plus the root drops that `deploy` must name.
public struct PhysicalGraph: Sendable, Hashable {
    /// One drop of the graph, as far as the engine needs to know it.
    public struct Drop: Sendable, Hashable {
        public var oid: String
        public var name: String?
        /// `Application`, `Data`, ... (the spec's `categoryType`, or its `type`).
        public var categoryType: String?
        public var dropclass: String?
        public var node: String?
    }

    /// The elements sent to the DIM, in the TM's order.
    public let elements: [JSONValue]
    public let drops: [Drop]
    /// Root drop ids, sorted: what `POST /deploy` passes as `completed`.
    public let roots: [String]

    /// Prepares a `/map` response:
    /// - empty objects (the `{}` reprodata trailer) are removed;
    /// - each drop gets the fields DALiuGE's DIM web UI reads, where missing: `type` (`app` for
    ///   applications, `plain` for data), `app` (an application's `dropclass`) and
    ///   `humanReadableKey` (`<lg_key>_<iid>`, as DALiuGE's own translator writes it);
    /// - roots are computed (see `rootDrops`).
    public init(mapOutput: [UInt8]) throws(PhysicalGraphError) {
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes: mapOutput)
        } catch {
            throw PhysicalGraphError("the Translator Manager's physical graph is not JSON: \(error)")
        }
        guard let items = json.arrayValue else {
            throw PhysicalGraphError("the Translator Manager's physical graph is not a JSON array")
        }
        try self.init(elements: items)
    }

    public init(elements items: [JSONValue]) throws(PhysicalGraphError) {
        var elements: [JSONValue] = []
        var drops: [Drop] = []
        elements.reserveCapacity(items.count)
        for item in items {
            guard var object = item.objectValue else {
                throw PhysicalGraphError("physical graph element is not an object: \(item.canonicalString.prefix(200))")
            }
            if object.isEmpty { continue }
            if let oid = object["oid"]?.stringValue {
                Self.fillUIFields(&object)
                drops.append(Drop(oid: oid, name: object["name"]?.stringValue,
                                  categoryType: (object["categoryType"] ?? object["type"])?.stringValue,
                                  dropclass: object["dropclass"]?.stringValue, node: object["node"]?.stringValue))
            }
            elements.append(.object(object))
        }
        guard !drops.isEmpty else { throw PhysicalGraphError("the physical graph has no drops") }
        let unplaced = drops.filter { $0.node == nil || $0.node!.hasPrefix("#") }
        if let first = unplaced.first {
            throw PhysicalGraphError("drop \(first.oid) has no node (\(first.node ?? "missing")); "
                                     + "the graph was partitioned but not mapped to a DIM's nodes")
        }
        self.elements = elements
        self.drops = drops
        self.roots = Self.rootDrops(of: elements)
    }

    /// The compact JSON array for `graph/append`.
    public var jsonBytes: [UInt8] { JSONValue.array(elements).canonicalBytes }

    /// oid → drop name, for naming failed drops.
    public var dropNames: [String: String] {
        var names: [String: String] = [:]
        for drop in drops { if let name = drop.name { names[drop.oid] = name } }
        return names
    }

    /// Root drops: every drop that nothing feeds. An application is fed when it has `inputs` or
    /// `streamingInputs`; a data drop when it has `producers`; and a drop listed as an
    /// application's output or a data drop's consumer is fed too. Empty lists count as absent
    /// (as in DALiuGE's own `get_roots`; beampipe tests key presence, which differs only for an
    /// explicit `"inputs": []`). Sorted.
    public static func rootDrops(of elements: [JSONValue]) -> [String] {
        var all: [String] = []
        var fed = Set<String>()
        for element in elements {
            guard let object = element.objectValue, let oid = object["oid"]?.stringValue else { continue }
            all.append(oid)
            let kind = ((object["categoryType"] ?? object["type"])?.stringValue ?? "").lowercased()
            switch kind {
            case "application", "app", "socket":
                if hasLinks(object["inputs"]) || hasLinks(object["streamingInputs"]) { fed.insert(oid) }
                fed.formUnion(linkedIDs(object["outputs"]))
            case "data", "plain":
                if hasLinks(object["producers"]) { fed.insert(oid) }
                fed.formUnion(linkedIDs(object["consumers"]))
                fed.formUnion(linkedIDs(object["streamingConsumers"]))
            default:
                break
            }
        }
        return Array(Set(all).subtracting(fed)).sorted()
    }

    private static func hasLinks(_ value: JSONValue?) -> Bool {
        switch value {
        case .array(let items)?: !items.isEmpty
        case .object(let o)?: !o.isEmpty
        case .string(let s)?: !s.isEmpty
        default: false
        }
    }

    /// Link lists are `["oid", ...]`, `[{"oid": "port"}, ...]` or `{"oid": "port"}`.
    private static func linkedIDs(_ value: JSONValue?) -> [String] {
        switch value {
        case .array(let items)?:
            items.flatMap { item -> [String] in
                switch item {
                case .string(let s): [s]
                case .object(let o): Array(o.keys)
                case .array: linkedIDs(item)
                default: []
                }
            }
        case .object(let o)?: Array(o.keys)
        default: []
        }
    }

    private static func fillUIFields(_ drop: inout [String: JSONValue]) {
        let kind = (drop["categoryType"]?.stringValue ?? "").lowercased()
        if drop["type"] == nil {
            switch kind {
            case "application": drop["type"] = .string("app")
            case "data": drop["type"] = .string("plain")
            case "socket": drop["type"] = .string("socket")
            default: break
            }
        }
        if drop["app"] == nil, kind == "application" || drop["type"]?.stringValue == "app",
           let dropclass = drop["dropclass"]?.stringValue {
            drop["app"] = .string(dropclass)
        }
        if drop["humanReadableKey"] == nil, let key = scalarText(drop["lg_key"]), let iid = scalarText(drop["iid"]) {
            drop["humanReadableKey"] = .string("\(key)_\(iid)")
        }
    }

    private static func scalarText(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let s)?: s
        case .int(let i)?: String(i)
        default: nil
        }
    }
}

public struct PhysicalGraphError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
