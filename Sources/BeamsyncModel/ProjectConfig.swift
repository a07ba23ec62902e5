/// beampipe's project configuration (`kind: ProjectConfig`). beamsync validates it and stores its
/// normalised spec; `metadata.id` is the project_module that profiles and executions refer to.
///
/// The typed document is kept per revision (`Document`): v2 is beampipe 0.1.6's shape, v1 the
/// legacy 0.1.0 shape. `spec` and `specSHA256` are computed the way that revision of beampipe
/// computes them, so they match `project_configs.spec` / `spec_sha256` byte for byte.
public struct ProjectConfig: Sendable, Hashable {
    public enum APIVersion: String, Sendable, Codable, CaseIterable {
        case v1 = "beampipe.dev/v1"
        case v2 = "beampipe.dev/v2"
    }

    public enum Document: Sendable, Hashable {
        case v1(V1)
        case v2(V2)
    }

    public let document: Document
    /// The normalised document (defaults filled in) that is stored as `project_configs.spec`.
    public let spec: JSONValue
    /// beampipe's `spec_sha256`: SHA-256 of `canonicalJSON`.
    public let specSHA256: String
    /// serde_json's serialisation of the typed document (declaration order, compact).
    public let canonicalJSON: String

    public init(_ document: Document) {
        self.document = document
        let bytes: [UInt8]
        switch document {
        case .v1(let d): bytes = d.canonicalJSONBytes
        case .v2(let d): bytes = d.canonicalJSONBytes
        }
        canonicalJSON = String(decoding: bytes, as: UTF8.self)
        specSHA256 = SHA256Digest.hex(bytes)
        // The writer only produces valid JSON, so parsing it back cannot fail.
        spec = (try? JSONValue.parse(bytes: bytes)) ?? .null
    }

    public init(_ v2: V2) { self.init(.v2(v2)) }
    public init(_ v1: V1) { self.init(.v1(v1)) }

    public var apiVersion: APIVersion {
        switch document {
        case .v1: .v1
        case .v2: .v2
        }
    }

    public var metadata: Metadata {
        switch document {
        case .v1(let d): d.metadata
        case .v2(let d): d.metadata
        }
    }

    public var automation: Automation {
        switch document {
        case .v1(let d): d.automation
        case .v2(let d): d.automation
        }
    }

    /// `metadata.id`: the project_module.
    public var id: String { metadata.id }
    public var description: String? { metadata.description }
    /// `automation.execution.deployment_profile_name`, checked against the profiles in scope.
    public var automationProfileName: String? { automation.execution?.deploymentProfileName }

    /// The v2 document, when this is one.
    public var v2: V2? { if case .v2(let d) = document { d } else { nil } }
    public var v1: V1? { if case .v1(let d) = document { d } else { nil } }

    public static func == (a: ProjectConfig, b: ProjectConfig) -> Bool { a.document == b.document }
    public func hash(into hasher: inout Hasher) { hasher.combine(document) }
}
