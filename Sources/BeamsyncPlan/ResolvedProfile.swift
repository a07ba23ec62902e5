import BeamsyncModel

/// The profile a triggered execution will run with, as the plan sees it: which one, what kind of
/// backend, where it deploys, and why that profile (named, by id, or a default).
public struct ResolvedProfile: Sendable, Hashable, Codable {
    public enum Resolution: String, Sendable, Hashable, Codable {
        /// `deployment_profile_name` names it.
        case named
        /// `deployment_profile_id` names a database row.
        case byID = "by_id"
        /// No profile named: the project's default.
        case projectDefault = "project_default"
        /// No profile named and no project default: the global default.
        case globalDefault = "global_default"

        /// How a person reads the reason.
        public var phrase: String {
            switch self {
            case .named: "named in the document"
            case .byID: "by id"
            case .projectDefault: "the project's default"
            case .globalDefault: "the global default"
            }
        }
    }

    public var name: String
    public var kind: DeploymentKind
    /// `http(s)://host:port` of the Data Island Manager, or `login-node:port` for Slurm.
    public var target: String
    public var resolution: Resolution

    public init(name: String, kind: DeploymentKind, target: String, resolution: Resolution) {
        self.name = name
        self.kind = kind
        self.target = target
        self.resolution = resolution
    }

    /// From a profile's `deployment` object (the same shape in git and in the database); nil for
    /// an object without a known kind.
    public init?(name: String, deployment: JSONValue, resolution: Resolution) {
        guard let kind = deployment["kind"]?.stringValue.flatMap(DeploymentKind.init(rawValue:)) else { return nil }
        switch kind {
        case .restRemote:
            let scheme = deployment["use_https"] == .bool(true) ? "https" : "http"
            let host = deployment["deploy_host"]?.stringValue ?? "?"
            let port = deployment["deploy_port"]?.intValue.map { ":\($0)" } ?? ""
            target = "\(scheme)://\(host)\(port)"
        case .slurmRemote:
            let port = deployment["ssh_port"]?.intValue ?? 22
            target = "\(deployment["login_node"]?.stringValue ?? "?"):\(port)"
        }
        self.name = name
        self.kind = kind
        self.resolution = resolution
    }

    enum CodingKeys: String, CodingKey { case name, kind, target, resolution }
}
