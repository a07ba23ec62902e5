import Foundation

/// A file of the desired state, as read from a directory or a git tree.
public struct SourceFile: Sendable {
    /// Path relative to the repository root, with '/' separators.
    public var path: String
    public var bytes: [UInt8]
    /// The git blob id when read from a commit; lets unchanged blobs skip parsing.
    public var blobID: String?
    /// The bytes were not read because the parse cache held this blob. Should the cache no longer
    /// hold it when the file is loaded, the load fails instead of reading the file as empty.
    public var bytesOmitted: Bool

    public init(path: String, bytes: [UInt8], blobID: String? = nil, bytesOmitted: Bool = false) {
        self.path = path
        self.bytes = bytes
        self.blobID = blobID
        self.bytesOmitted = bytesOmitted
    }
}

/// A decoded document together with where it came from.
public struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var origin: DocumentOrigin

    public init(_ value: Value, origin: DocumentOrigin) {
        self.value = value
        self.origin = origin
    }
}

/// A profile that exists outside git (in the database), which references may resolve to.
public struct ExternalProfile: Sendable, Hashable {
    public var name: String
    public var scope: ProfileScope
    public var isDefault: Bool

    public init(name: String, scope: ProfileScope, isDefault: Bool) {
        self.name = name
        self.scope = scope
        self.isDefault = isDefault
    }
}

/// Everything the repository asks for, checked as a whole.
public struct DesiredState: Sendable {
    public var profiles: [Located<DeploymentProfile>]
    public var projects: [Located<ProjectConfig>]
    public var executions: [Located<ExecutionDocument>]
    public var policy: RepositoryPolicy
    /// Every file path in the tree (graphs are referenced by path), with its blob id if known.
    public var files: [String: String?]
    /// SHA-256 of each graph file an execution references, so the execution can pin its content.
    public var graphSHA256: [String: String] = [:]
    /// The bytes of each graph file an execution references.
    public var graphContent: [String: [UInt8]] = [:]
    /// spec_sha256 of each profile by name, computed while parsing.
    public var profileSHA256: [String: String] = [:]

    public init(profiles: [Located<DeploymentProfile>] = [], projects: [Located<ProjectConfig>] = [],
                executions: [Located<ExecutionDocument>] = [], policy: RepositoryPolicy = .init(), files: [String: String?] = [:]) {
        self.profiles = profiles
        self.projects = projects
        self.executions = executions
        self.policy = policy
        self.files = files
    }

    public func profile(named name: String) -> Located<DeploymentProfile>? { profiles.first { $0.value.name == name } }
}

/// Options for building the desired state.
public struct LoadOptions: Sendable {
    public var limits = YAMLLimits.default
    /// Profiles that exist outside git; references to them resolve.
    public var externalProfiles: [ExternalProfile] = []
    /// Parse files on several threads.
    public var parallel = true

    public init() {}
}

/// A tree whose files are parsed and checked one by one, waiting for the cross-document checks.
public struct ParsedTree: Sendable {
    let files: [SourceFile]
    let parsed: [DesiredStateLoader.ParsedFile]
    let options: LoadOptions

    /// Every profile that parsed, before the cross-document checks: for checks that look at
    /// profiles one by one (`security check`), which a broken reference elsewhere must not stop.
    public var profiles: [Located<DeploymentProfile>] {
        parsed.flatMap { file in
            file.documents.compactMap { document -> Located<DeploymentProfile>? in
                if case .profile(let profile, _) = document { return profile }
                return nil
            }
        }
    }

    /// The problems found in the files one by one.
    public var fileDiagnostics: [Diagnostic] { parsed.flatMap(\.diagnostics) }

    /// The cross-document checks (references, defaults per scope, duplicates), with the profiles
    /// outside git that references may resolve to; then the graphs executions reference.
    public func assemble(externalProfiles: [ExternalProfile]) -> LoadResult {
        var options = options
        options.externalProfiles = externalProfiles
        var fileIndex: [String: String?] = [:]
        for f in files { fileIndex[f.path] = f.blobID }
        var result = DesiredStateLoader.assemble(parsed, files: fileIndex, options: options, checkGraphPaths: true)
        if var state = result.state {
            let referenced = Set(state.executions.compactMap { e -> String? in
                if case .path(let p) = e.value.graph { return p }
                return nil
            })
            for f in files where referenced.contains(f.path) {
                state.graphSHA256[f.path] = SHA256Digest.hex(f.bytes)
                state.graphContent[f.path] = f.bytes
            }
            result.state = state
        }
        return result
    }
}

/// The outcome of loading: the state (nil when there are errors) and every diagnostic found.
public struct LoadResult: Sendable {
    public var state: DesiredState?
    public var diagnostics: [Diagnostic]
    /// Documents seen per file, for reporting (`validate` lists every file).
    public var documentsPerFile: [String: Int]
}

public enum DesiredStateLoader {
    static let documentExtensions = [".yaml", ".yml", ".json"]

    /// The kind a file's location implies, or nil for files that hold no documents.
    public static func directoryKind(of path: String) -> DocumentKind? {
        guard documentExtensions.contains(where: { path.lowercased().hasSuffix($0) }) else { return nil }
        let components = path.split(separator: "/")
        guard components.count >= 2 else { return nil }
        return DocumentKind.allCases.first { $0.directory == components[0] }
    }

    /// Whether a file is read as documents (anything under profiles/, projects/, executions/, and beamsync.yaml).
    public static func isDocumentFile(_ path: String) -> Bool {
        path == RepositoryPolicy.fileName || directoryKind(of: path) != nil
    }

    /// Documents plus the graphs executions may reference: what a source must provide.
    public static func isDocumentFileOrGraph(_ path: String) -> Bool {
        isDocumentFile(path) || path.hasPrefix("graphs/")
    }

    /// Loads a whole repository tree. Files whose blob id is in `cache` are not parsed again.
    public static func load(files: [SourceFile], options: LoadOptions = .init(), cache: ParsedFileCache? = nil) -> LoadResult {
        parse(files: files, options: options, cache: cache).assemble(externalProfiles: options.externalProfiles)
    }

    /// The first half of `load`: every file parsed and checked on its own. It needs nothing from
    /// the database, so callers run it while they read the live state, then `assemble` with the
    /// profiles that live state holds.
    public static func parse(files: [SourceFile], options: LoadOptions = .init(), cache: ParsedFileCache? = nil) -> ParsedTree {
        let documentFiles = files.filter { isDocumentFile($0.path) }
        let parsed = parseAll(documentFiles, options: options, cache: cache, defaultKind: { directoryKind(of: $0) })
        return ParsedTree(files: files, parsed: parsed, options: options)
    }

    /// Loads individual files named on the command line: their kind comes from the `kind:` header,
    /// else from a profiles/projects/executions folder in their path, else DeploymentProfile.
    public static func loadLoose(files: [SourceFile], options: LoadOptions = .init()) -> LoadResult {
        let parsed = parseAll(files, options: options) { path in
            let parts = path.split(separator: "/").map(String.init)
            for part in parts.dropLast().reversed() {
                if let k = DocumentKind.allCases.first(where: { $0.directory == part }) { return k }
            }
            return parts.last == RepositoryPolicy.fileName ? nil : .deploymentProfile
        }
        var fileIndex: [String: String?] = [:]
        for f in files { fileIndex[f.path] = f.blobID }
        return assemble(parsed, files: fileIndex, options: options, checkGraphPaths: false)
    }

    // MARK: Per-file parsing

    enum Decoded: Sendable {
        /// The profile and its spec_sha256, hashed on the parsing thread.
        case profile(Located<DeploymentProfile>, String)
        case project(Located<ProjectConfig>)
        case execution(Located<ExecutionDocument>)
        case policy(RepositoryPolicy)
    }

    struct ParsedFile: Sendable {
        var path: String
        var documents: [Decoded] = []
        var documentCount = 0
        var diagnostics: [Diagnostic] = []
    }

    static func parseAll(_ files: [SourceFile], options: LoadOptions, cache: ParsedFileCache? = nil,
                         defaultKind: @escaping @Sendable (String) -> DocumentKind?) -> [ParsedFile] {
        let results = UnsafeResultBuffer<ParsedFile>(count: files.count)
        let work: @Sendable (Int) -> Void = { i in
            let file = files[i]
            if let cache, let blob = file.blobID, let hit = cache.lookup(path: file.path, blobID: blob) {
                results.set(i, hit)
                return
            }
            if file.bytesOmitted {
                results.set(i, omittedBytesMissed(file))
                return
            }
            let parsed: ParsedFile = parseFile(file, limits: options.limits, defaultKind: defaultKind(file.path))
            if let cache, let blob = file.blobID { cache.store(parsed, path: file.path, blobID: blob) }
            results.set(i, parsed)
        }
        if options.parallel && files.count > 64 {
            DispatchQueue.concurrentPerform(iterations: files.count, execute: work)
        } else {
            for i in files.indices { work(i) }
        }
        cache?.consolidate()
        return results.values()
    }

    /// A file whose bytes were skipped for a cached parse that is gone: an error, so nothing is
    /// planned from a tree missing its documents (they would look deleted).
    static func omittedBytesMissed(_ file: SourceFile) -> ParsedFile {
        var out = ParsedFile(path: file.path)
        out.diagnostics.append(Diagnostic(.error, code: .readFailure, location: SourceLocation(file: file.path, line: 1, column: 1),
            path: "", message: "the file was not read because its parse was cached, and the cache no longer holds it",
            hint: "nothing was applied; the next reconcile reads the file again"))
        return out
    }

    public static func parseFile(_ file: SourceFile, limits: YAMLLimits, defaultKind: DocumentKind?) -> ParsedFileResult {
        let p = parseFile(file, limits: limits, defaultKind: defaultKind) as ParsedFile
        return ParsedFileResult(diagnostics: p.diagnostics, documentCount: p.documentCount)
    }

    public struct ParsedFileResult: Sendable {
        public var diagnostics: [Diagnostic]
        public var documentCount: Int
    }

    static func parseFile(_ file: SourceFile, limits: YAMLLimits, defaultKind: DocumentKind?) -> ParsedFile {
        var out = ParsedFile(path: file.path)
        let (documents, yamlDiagnostics) = YAMLLoader.load(file: file.path, bytes: file.bytes, limits: limits)
        out.diagnostics = yamlDiagnostics
        out.documentCount = documents.count
        let isJSON = file.path.lowercased().hasSuffix(".json")
        if isJSON && documents.count > 1 {
            out.diagnostics.append(Diagnostic(code: .multipleDocuments,
                location: SourceLocation(file: file.path, line: documents[1].root.line, column: documents[1].root.column), path: "",
                message: "a JSON file holds exactly one document; found \(documents.count)",
                hint: "split it into one file per document, or rename it to .yaml"))
            return out
        }
        if documents.isEmpty && yamlDiagnostics.isEmpty {
            out.diagnostics.append(Diagnostic(.warning, code: .emptyDocument, location: SourceLocation(file: file.path, line: 1, column: 1),
                path: "", message: "file holds no document and is ignored", hint: "delete the file or add a document"))
        }
        for doc in documents {
            var sink = DiagnosticSink(file: file.path)
            let origin = DocumentOrigin(file: file.path, line: doc.root.line, column: doc.root.column,
                                        documentIndex: doc.index, blobID: file.blobID)
            if case .scalar(let s) = doc.root, s.value == .null { continue }  // `---` with nothing after it
            if file.path == RepositoryPolicy.fileName || (defaultKind == nil && file.path.hasSuffix("/" + RepositoryPolicy.fileName)) {
                if let p = RepositoryPolicy.decode(doc.root, sink: &sink) { out.documents.append(.policy(p)) }
                out.diagnostics += sink.diagnostics
                continue
            }
            guard let kind = documentKind(doc.root, defaultKind: defaultKind, file: file.path, sink: &sink) else {
                out.diagnostics += sink.diagnostics
                continue
            }
            switch kind {
            case .deploymentProfile:
                if let p = ProfileDecoder.decode(doc.root, origin: origin, sink: &sink) { out.documents.append(.profile(Located(p, origin: origin), p.specSHA256)) }
            case .projectConfig:
                if let p = ProjectConfigDecoder.decode(doc.root, sink: &sink) { out.documents.append(.project(Located(p, origin: origin))) }
            case .execution:
                if let e = ExecutionDecoder.decode(doc.root, sink: &sink) { out.documents.append(.execution(Located(e, origin: origin))) }
            }
            out.diagnostics += sink.diagnostics
        }
        return out
    }

    static func documentKind(_ root: SourceNode, defaultKind: DocumentKind?, file: String, sink: inout DiagnosticSink) -> DocumentKind? {
        guard case .mapping(let m) = root else {
            sink.error(.wrongType, at: root, path: "", "expected a mapping at the top of the document, found \(root.kindDescription)",
                       hint: "a document is a set of `key: value` lines")
            return nil
        }
        guard let kindNode = m.value(for: "kind") else {
            if let defaultKind {
                if defaultKind != .deploymentProfile {
                    sink.error(.missingField, at: root, path: "kind", "required field 'kind' is missing",
                               hint: "add `kind: \(defaultKind.rawValue)` and its apiVersion")
                    return nil
                }
                return defaultKind
            }
            sink.error(.missingField, at: root, path: "kind", "cannot tell what this document is: it has no 'kind'",
                       hint: "add `kind: DeploymentProfile`, `kind: ProjectConfig` or `kind: Execution`")
            return nil
        }
        guard case .scalar(let s) = kindNode, case .string(let text) = s.value, let kind = DocumentKind(rawValue: text) else {
            let shown = (kindNode.jsonValue.stringValue ?? kindNode.kindDescription)
            let suggestion = Suggest.closest(to: shown, in: DocumentKind.allCases.map(\.rawValue))
            sink.error(.unknownKind, at: kindNode, path: "kind", "unknown kind '\(DisplayText.value(shown))'",
                       hint: suggestion.map { "did you mean '\($0)'?" } ?? "use DeploymentProfile, ProjectConfig or Execution")
            return nil
        }
        if let defaultKind, defaultKind != kind, DesiredStateLoader.directoryKind(of: file) != nil {
            sink.error(.kindMismatch, at: kindNode, path: "kind",
                       "a \(kind.rawValue) document is in \(defaultKind.directory)/, which holds \(defaultKind.rawValue) documents",
                       hint: "move the file to \(kind.directory)/")
            return nil
        }
        return kind
    }

    // MARK: Cross-document checks

    static func assemble(_ parsed: [ParsedFile], files: [String: String?], options: LoadOptions, checkGraphPaths: Bool) -> LoadResult {
        var state = DesiredState(files: files)
        var diagnostics: [Diagnostic] = []
        var counts: [String: Int] = [:]
        counts.reserveCapacity(parsed.count)
        state.profileSHA256.reserveCapacity(parsed.count)
        var policySeen = false
        for file in parsed {
            diagnostics += file.diagnostics
            counts[file.path] = file.documentCount
            for doc in file.documents {
                switch doc {
                case .profile(let p, let hash):
                    state.profiles.append(p)
                    state.profileSHA256[p.value.name] = hash
                case .project(let p): state.projects.append(p)
                case .execution(let e): state.executions.append(e)
                case .policy(let p):
                    if policySeen {
                        diagnostics.append(Diagnostic(code: .multipleDocuments, location: SourceLocation(file: file.path, line: 1, column: 1),
                            path: "", message: "beamsync.yaml holds more than one policy document", hint: "keep one"))
                    }
                    policySeen = true
                    state.policy = p
                }
            }
        }
        diagnostics += crossDocumentDiagnostics(state, options: options, checkGraphPaths: checkGraphPaths)
        let sorted = diagnostics.sortedByLocation()
        return LoadResult(state: sorted.hasErrors ? nil : state, diagnostics: sorted, documentsPerFile: counts)
    }

    public static func crossDocumentDiagnostics(_ state: DesiredState, options: LoadOptions = .init(), checkGraphPaths: Bool = true) -> [Diagnostic] {
        var out: [Diagnostic] = []

        func duplicates<V>(_ items: [Located<V>], key: (V) -> String, what: String, path: String) {
            // One dictionary of first positions; groups only for names seen twice (an array per
            // name costs 100,000 allocations for 100,000 profiles).
            var first: [String: Int] = [:]
            first.reserveCapacity(items.count)
            var groups: [String: [Int]] = [:]
            var order: [String] = []
            for (i, item) in items.enumerated() {
                let k = key(item.value)
                if let j = first[k] {
                    if groups[k] == nil {
                        order.append(k)
                        groups[k] = [j]
                    }
                    groups[k]!.append(i)
                } else {
                    first[k] = i
                }
            }
            for k in order {
                guard let group = groups[k]?.map({ items[$0] }) else { continue }
                let places = group.map(\.origin.location)
                for dup in group.dropFirst() {
                    out.append(Diagnostic(code: .duplicateName, location: dup.origin.location, path: path,
                        message: "\(what) '\(k)' is defined \(group.count) times: \(places.map(\.description).joined(separator: ", "))",
                        hint: "\(what) names are unique across all files and scopes; rename or remove all but one",
                        related: places.filter { $0 != dup.origin.location }))
                }
            }
        }
        duplicates(state.profiles, key: \.name, what: "profile", path: "name")
        duplicates(state.projects, key: \.id, what: "project", path: "metadata.id")
        duplicates(state.executions, key: \.name, what: "execution", path: "metadata.name")

        // At most one default per scope (beampipe's partial unique index).
        var defaults: [ProfileScope: [Located<DeploymentProfile>]] = [:]
        for p in state.profiles where p.value.isDefault { defaults[p.value.scope, default: []].append(p) }
        for scope in defaults.keys.sorted() {
            guard let group = defaults[scope], group.count > 1 else { continue }
            let places = group.map { "'\($0.value.name)' (\($0.origin.location))" }
            out.append(Diagnostic(code: .multipleDefaults, location: group[1].origin.location, path: "is_default",
                message: "\(group.count) profiles are the default for \(scope): \(places.joined(separator: ", "))",
                hint: "set `is_default: true` on exactly one of them; to move the default, change both files in one commit",
                related: group.map(\.origin.location).filter { $0 != group[1].origin.location }))
        }

        // Reference resolution: a profile must exist and be global or in the same project.
        // Built only when a project or an execution names a profile.
        let namesProfiles = state.projects.contains { $0.value.automationProfileName != nil }
            || state.executions.contains { if case .name = $0.value.profile { true } else { false } }
        var known: [String: (scope: ProfileScope, location: SourceLocation?)] = [:]
        if namesProfiles {
            known.reserveCapacity(options.externalProfiles.count + state.profiles.count)
            for e in options.externalProfiles { known[e.name] = (e.scope, nil) }
            for p in state.profiles { known[p.value.name] = (p.value.scope, p.origin.location) }
        }
        var defaultScopes = Set(options.externalProfiles.filter(\.isDefault).map(\.scope))
        for p in state.profiles where p.value.isDefault { defaultScopes.insert(p.value.scope) }

        func checkReference(name: String, project: String, at location: SourceLocation, path: String, who: String) {
            guard let target = known[name] else {
                let suggestion = Suggest.closest(to: name, in: Array(known.keys))
                out.append(Diagnostic(code: .unresolvedReference, location: location, path: path,
                    message: "\(who) refers to profile '\(name)', which does not exist",
                    hint: suggestion.map { "did you mean '\($0)'?" } ?? "add profiles/\(name).yaml or fix the name"))
                return
            }
            if case .project(let owner) = target.scope, owner != project {
                out.append(Diagnostic(code: .scopeViolation, location: location, path: path,
                    message: "\(who) in project '\(project)' refers to profile '\(name)', which belongs to project '\(owner)'",
                    hint: "use a global profile or one whose project_module is '\(project)'",
                    related: target.location.map { [$0] } ?? []))
            }
        }

        for project in state.projects {
            if let name = project.value.automationProfileName {
                checkReference(name: name, project: project.value.id, at: project.origin.location,
                               path: "automation.execution.deployment_profile_name", who: "automation.execution")
            }
        }
        for exec in state.executions {
            let e = exec.value
            switch e.profile {
            case .name(let n):
                checkReference(name: n, project: e.projectModule, at: exec.origin.location, path: "spec.deployment_profile_name",
                               who: "execution '\(e.name)'")
            case .projectDefault:
                if !defaultScopes.contains(.project(e.projectModule)) && !defaultScopes.contains(.global) {
                    out.append(Diagnostic(code: .unresolvedReference, location: exec.origin.location, path: "spec",
                        message: "execution '\(e.name)' names no profile, and project '\(e.projectModule)' has no default profile (nor is there a global one)",
                        hint: "add `deployment_profile_name:` to the execution, or mark a profile `is_default: true`"))
                }
            case .id:
                break  // ids live in the database; the planner resolves them
            }
            if checkGraphPaths, case .path(let p) = e.graph, state.files[p] == nil {
                out.append(Diagnostic(code: .unresolvedReference, location: exec.origin.location, path: "spec.graph.path",
                    message: "execution '\(e.name)' refers to graph '\(p)', which is not in the repository",
                    hint: "commit the graph at \(p) or fix the path"))
            }
        }
        return out
    }
}

/// Per-index result slots filled from `concurrentPerform`; every index is written exactly once.
final class UnsafeResultBuffer<T>: @unchecked Sendable {
    private var storage: [T?]
    private let lock = NSLock()

    init(count: Int) { storage = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ value: T) {
        lock.lock()
        storage[i] = value
        lock.unlock()
    }

    func values() -> [T] { storage.map { $0! } }
}
