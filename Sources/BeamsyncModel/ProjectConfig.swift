/// beampipe's project configuration (`kind: ProjectConfig`). beamsync validates it and stores its
/// normalised spec; `metadata.id` is the project_module that profiles and executions refer to.
public struct ProjectConfig: Sendable, Hashable {
    public enum APIVersion: String, Sendable, Codable, CaseIterable {
        case v1 = "beampipe.dev/v1"
        case v2 = "beampipe.dev/v2"
    }

    public var apiVersion: APIVersion
    /// `metadata.id`: the project_module.
    public var id: String
    public var description: String?
    /// `automation.execution.deployment_profile_name`, checked against the profiles in scope.
    public var automationProfileName: String?
    /// The normalised document (defaults filled in) that is stored as `project_configs.spec`.
    public var spec: JSONValue

    public init(apiVersion: APIVersion, id: String, description: String? = nil, automationProfileName: String? = nil, spec: JSONValue) {
        self.apiVersion = apiVersion
        self.id = id
        self.description = description
        self.automationProfileName = automationProfileName
        self.spec = spec
    }

    /// beamsync's content hash of the spec: sorted keys, compact. beampipe hashes its Rust struct in
    /// declaration order, which cannot be reproduced generically; see docs/decisions.md.
    public var specSHA256: String { SHA256Digest.hex(spec.canonicalBytes) }
}
