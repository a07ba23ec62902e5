/// `beamsync.yaml` at the repository root: how this repository wants to be reconciled.
/// Command-line flags override it for one run.
public struct RepositoryPolicy: Sendable, Hashable, Codable {
    public static let fileName = "beamsync.yaml"
    public static let apiVersion = "beamsync.dev/v1"

    /// Delete managed objects whose documents were removed.
    public var prune: Bool = false
    /// Refuse a plan that would delete more than this many objects.
    public var maxDeletions: Int = 10
    /// Revert managed rows that were changed outside git instead of only reporting them.
    public var heal: Bool = false
    /// Profiles that are never deleted or modified by beamsync, whatever git says.
    public var protectedProfiles: [String] = []

    public init() {}

    static func decode(_ root: SourceNode, sink: inout DiagnosticSink) -> RepositoryPolicy? {
        guard var r = FieldReader(root, path: "", sink: &sink, what: "a RepositoryPolicy mapping") else { return nil }
        let before = sink.diagnostics.errors.count
        var policy = RepositoryPolicy()
        if case .value(let v, let n) = r.string("apiVersion", sink: &sink), v != apiVersion {
            sink.error(.invalidValue, at: n, path: "apiVersion", "apiVersion '\(DisplayText.value(v))' is not supported; expected \(apiVersion)",
                       hint: "write `apiVersion: \(apiVersion)`")
        }
        if case .value(let v, let n) = r.string("kind", sink: &sink), v != "RepositoryPolicy" {
            sink.error(.kindMismatch, at: n, path: "kind", "beamsync.yaml must hold kind RepositoryPolicy, found '\(DisplayText.value(v))'",
                       hint: "write `kind: RepositoryPolicy`")
        }
        if let v = r.bool("prune", sink: &sink).value { policy.prune = v }
        if let v = r.bool("heal", sink: &sink).value { policy.heal = v }
        if case .value(let v, let n) = r.int("max_deletions", sink: &sink) {
            if v < 0 {
                sink.error(.outOfRange, at: n, path: "max_deletions", "must be 0 or more, found \(v)", hint: "0 forbids every deletion")
            } else {
                policy.maxDeletions = v
            }
        }
        if let list = r.child("protected_profiles") {
            if case .sequence(let s) = list {
                for (i, item) in s.items.enumerated() {
                    if case .scalar(let sc) = item, case .string(let name) = sc.value {
                        policy.protectedProfiles.append(name)
                    } else {
                        sink.error(.wrongType, at: item, path: "protected_profiles[\(i)]", "expected a profile name, found \(item.kindDescription)",
                                   hint: "list profile names as strings")
                    }
                }
            } else {
                sink.error(.wrongType, at: list, path: "protected_profiles", "expected a list of profile names, found \(list.kindDescription)",
                           hint: "write `protected_profiles: [dlg-dim]`")
            }
        }
        r.reportUnknownKeys(sink: &sink)
        return sink.diagnostics.errors.count == before ? policy : nil
    }
}
