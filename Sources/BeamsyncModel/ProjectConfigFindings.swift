// Validation findings: beampipe's rule results (its code, path and message) plus the beamsync
// diagnostic code, the source position and a hint. Keeping beampipe's code lets beamsync produce
// beampipe-compatible validation reports later without re-deriving them.

public struct ProjectConfigFinding: Sendable, Hashable {
    public var severity: Severity
    /// beampipe's diagnostic code (`invalid_limit`, `unknown_transform`, ...); v1 rules use the v2
    /// code of the equivalent rule, since beampipe 0.1.0 reported plain strings.
    public var beampipeCode: String
    public var code: DiagnosticCode
    /// beampipe's path (`discovery.queries[0].template`).
    public var path: String
    /// Starts with beampipe's message, verbatim.
    public var message: String
    public var hint: String?
    public var line: Int?
    public var column: Int?

    func diagnostic(file: String) -> Diagnostic {
        Diagnostic(severity, code: code, location: SourceLocation(file: file, line: line ?? 1, column: column ?? 1),
                   path: path, message: message, hint: hint)
    }
}

/// Collects findings and places each at its node, or at the nearest written ancestor.
struct ProjectFindingList {
    let map: ProjectSourceMap
    private(set) var items: [ProjectConfigFinding] = []

    init(map: ProjectSourceMap) { self.map = map }

    /// `parent` is where to point when `path` itself was not written (then the code is
    /// `.missingField`, since the rule is about a value the author left out).
    mutating func error(_ beampipeCode: String, _ code: DiagnosticCode, path: String, parent: String? = nil, atKey: Bool = false,
                        _ message: String, hint: String?) {
        var position = atKey ? map.key(path) : map.value(path)
        var diagnosticCode = code
        if position == nil {
            diagnosticCode = .missingField
            position = parent.flatMap { map.value($0) }
        }
        items.append(ProjectConfigFinding(severity: .error, beampipeCode: beampipeCode, code: diagnosticCode, path: path,
                                          message: message, hint: hint, line: position?.line, column: position?.column))
    }

    /// A finding about a map key (a blank name): reported at the container's path, pointing at the key.
    mutating func errorAtKey(_ beampipeCode: String, _ code: DiagnosticCode, path: String, keyPath: String, _ message: String, hint: String?) {
        let position = map.key(keyPath) ?? map.value(path)
        items.append(ProjectConfigFinding(severity: .error, beampipeCode: beampipeCode, code: code, path: path,
                                          message: message, hint: hint, line: position?.line, column: position?.column))
    }

    mutating func warning(_ beampipeCode: String, _ code: DiagnosticCode, path: String, _ message: String, hint: String?) {
        let position = map.value(path)
        items.append(ProjectConfigFinding(severity: .warning, beampipeCode: beampipeCode, code: code, path: path,
                                          message: message, hint: hint, line: position?.line, column: position?.column))
    }
}

/// Rust's `str::trim().is_empty()`: only Unicode White_Space.
enum ProjectText {
    static func isBlank(_ s: String) -> Bool { s.unicodeScalars.allSatisfy(\.properties.isWhitespace) }
}
