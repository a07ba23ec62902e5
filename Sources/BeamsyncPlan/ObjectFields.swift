import BeamsyncModel

/// The fields of a whole object, by dotted path, for showing what a create adds or a delete
/// removes. Unset options (null) are left out: they are noise in a review.
public enum ObjectFields {
    public struct Field: Sendable, Hashable {
        public var path: String
        public var value: JSONValue
    }

    public static func list(_ object: JSONValue?) -> [Field] {
        JSONDiff.fields(before: nil, after: object).compactMap { change in
            guard let value = change.after, value != .null else { return nil }
            return Field(path: change.path, value: value)
        }
    }
}

/// What a triggered execution will run, in words both renderers use.
public struct ExecutionPreview: Sendable {
    public var project: String
    public var profile: ResolvedProfile?
    /// The graph's repository path or URL.
    public var graph: String
    public var graphSHA256: String?

    public init(_ change: ResourceChange) {
        let spec = change.after?["spec"]
        project = spec?["project_module"]?.stringValue ?? "?"
        profile = change.resolvedProfile
        graph = spec?["graph"]?["path"]?.stringValue ?? spec?["graph"]?["url"]?.stringValue ?? "?"
        graphSHA256 = change.graphSHA256 ?? spec?["graph"]?["sha256"]?.stringValue
    }

    /// `a (rest_remote, http://dim:8001), named in the document`
    public var profileText: String {
        guard let p = profile else { return "none resolves yet (no such profile, or no project or global default); the apply refuses it" }
        return "\(p.name) (\(p.kind.rawValue), \(p.target)), \(p.resolution.phrase)"
    }

    /// `graphs/hello.graph (sha256 0123456789ab)`
    public var graphText: String {
        graph + (graphSHA256.map { " (sha256 \($0.prefix(12)))" } ?? "")
    }
}
