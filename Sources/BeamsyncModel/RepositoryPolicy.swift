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
    /// Which commits must be signed by a trusted key. The operator's flags are a floor this
    /// cannot lower (see docs/decisions.md, "Commit verification").
    public var verification = Verification()

    public init() {}

    /// The `verification` section.
    public struct Verification: Sendable, Hashable, Codable {
        public enum Mode: String, Sendable, Hashable, Codable, CaseIterable {
            case none, head, all
        }

        public var mode: Mode = .none
        /// An OpenSSH allowed_signers file on the beamsync host (an absolute path).
        public var sshAllowedSigners: String?
        /// An OpenPGP keyring on the beamsync host (an absolute path).
        public var openPGPKeyring: String?

        public init(mode: Mode = .none, sshAllowedSigners: String? = nil, openPGPKeyring: String? = nil) {
            self.mode = mode
            self.sshAllowedSigners = sshAllowedSigners
            self.openPGPKeyring = openPGPKeyring
        }

        static func decode(_ node: SourceNode, sink: inout DiagnosticSink) -> Verification? {
            guard var r = FieldReader(node, path: "verification", sink: &sink, what: "a verification mapping") else { return nil }
            let before = sink.diagnostics.errors.count
            var verification = Verification()
            if let mode = r.enumeration("mode", Mode.self, sink: &sink).value { verification.mode = mode }
            verification.sshAllowedSigners = keyPath("ssh_allowed_signers", &r, sink: &sink)
            verification.openPGPKeyring = keyPath("openpgp_keyring", &r, sink: &sink)
            r.reportUnknownKeys(sink: &sink)
            return sink.diagnostics.errors.count == before ? verification : nil
        }

        /// Key files live on the host, never in the repository: only absolute paths.
        private static func keyPath(_ key: String, _ r: inout FieldReader, sink: inout DiagnosticSink) -> String? {
            guard case .value(let path, let node) = r.string(key, sink: &sink) else { return nil }
            guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                sink.error(.invalidValue, at: node, path: "verification.\(key)",
                           "must be an absolute path to a file on the host running beamsync, found '\(path)'",
                           hint: "trusted keys never come from the repository being verified: keep the file outside it, "
                               + "e.g. /etc/beamsync/\(key == "openpgp_keyring" ? "trusted-keys.gpg" : "allowed_signers")")
                return nil
            }
            return path
        }
    }

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
        if let section = r.child("verification"), let v = Verification.decode(section, sink: &sink) {
            policy.verification = v
        }
        r.reportUnknownKeys(sink: &sink)
        return sink.diagnostics.errors.count == before ? policy : nil
    }
}
