/// One decoded document of any kind.
public enum DecodedDocument: Sendable, Hashable {
    case profile(DeploymentProfile)
    case project(ProjectConfig)
    case execution(ExecutionDocument)

    public var kind: DocumentKind {
        switch self {
        case .profile: .deploymentProfile
        case .project: .projectConfig
        case .execution: .execution
        }
    }
}

extension DesiredStateLoader {
    /// Decodes one document with exactly the rules a repository file gets (types, ranges,
    /// unknown keys, inline secrets), without the cross-document checks. `path` names the
    /// text in diagnostics; a document without `kind` is read as `kind`. Used to check the
    /// objects a saved plan carries before they are written.
    public static func decodeDocument(_ bytes: [UInt8], path: String, kind: DocumentKind,
                                      limits: YAMLLimits = .default) -> (DecodedDocument?, [Diagnostic]) {
        let parsed: ParsedFile = parseFile(SourceFile(path: path, bytes: bytes), limits: limits, defaultKind: kind)
        guard parsed.documents.count == 1 else { return (nil, parsed.diagnostics) }
        let document: DecodedDocument? = switch parsed.documents[0] {
        case .profile(let p, _): .profile(p.value)
        case .project(let p): .project(p.value)
        case .execution(let e): .execution(e.value)
        case .policy: nil
        }
        return (document, parsed.diagnostics)
    }
}

extension RepositoryPolicy {
    /// Decodes a `beamsync.yaml` on its own (commit verification reads it before the rest of
    /// the tree is parsed). nil with the diagnostics when it does not decode.
    public static func decode(bytes: [UInt8], limits: YAMLLimits = .default) -> (RepositoryPolicy?, [Diagnostic]) {
        let parsed: DesiredStateLoader.ParsedFile = DesiredStateLoader.parseFile(SourceFile(path: fileName, bytes: bytes), limits: limits,
                                                                                 defaultKind: nil)
        for case .policy(let policy) in parsed.documents where !parsed.diagnostics.hasErrors { return (policy, parsed.diagnostics) }
        return (parsed.diagnostics.hasErrors ? nil : RepositoryPolicy(), parsed.diagnostics)
    }
}
