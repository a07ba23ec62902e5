/// A position in a source file. Lines and columns start at 1; columns count Unicode scalars,
/// which is what editors and libyaml report.
public struct SourceLocation: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// Machine-readable kinds of problem, stable across releases (they appear in `--format json`).
public enum DiagnosticCode: String, Sendable, Codable, CaseIterable {
    case yamlSyntax = "yaml_syntax"
    case invalidEncoding = "invalid_encoding"
    case fileTooLarge = "file_too_large"
    case documentTooComplex = "document_too_complex"
    case duplicateKey = "duplicate_key"
    case multipleDocuments = "multiple_documents"
    case emptyDocument = "empty_document"
    case unknownField = "unknown_field"
    case missingField = "missing_field"
    case wrongType = "wrong_type"
    case invalidValue = "invalid_value"
    case outOfRange = "out_of_range"
    case inlineSecret = "inline_secret"
    /// NUL (which PostgreSQL cannot store) anywhere, or a control or format character where the
    /// field does not allow one.
    case controlCharacter = "control_character"
    case unknownKind = "unknown_kind"
    case kindMismatch = "kind_mismatch"
    case legacyAPIVersion = "legacy_api_version"
    case duplicateName = "duplicate_name"
    case multipleDefaults = "multiple_defaults"
    case unresolvedReference = "unresolved_reference"
    case scopeViolation = "scope_violation"
    case unsafePath = "unsafe_path"
    case insecureSetting = "insecure_setting"
    case readFailure = "read_failure"
    /// A field the HTTP API sets itself (uuid, revision, ...) was sent in a request body.
    case readOnlyField = "read_only_field"
    // Planning against the database
    case drift
    case unmanagedConflict = "unmanaged_conflict"
    case defaultConflict = "default_conflict"
    case pruneGuard = "prune_guard"
    case ignoredEdit = "ignored_edit"
    // Live checks of a profile's target (`plan --check-targets`)
    case targetCheckFailed = "target_check_failed"
    /// A managed object removed from git is kept because prune is off.
    case notPruned = "not_pruned"
    /// The database has no beamsync schema yet; the plan is against an empty state.
    case schemaMissing = "schema_missing"

    /// Found by comparing the documents with the database (or with the live targets they name),
    /// not by checking the documents.
    public var comparesWithDatabase: Bool {
        switch self {
        case .drift, .unmanagedConflict, .defaultConflict, .pruneGuard, .ignoredEdit, .notPruned, .schemaMissing, .targetCheckFailed: true
        default: false
        }
    }
}

public enum Severity: String, Sendable, Codable {
    case error
    case warning
}

/// One problem found in the desired state, phrased so a person can fix it without reading code:
/// where (`location`, `path`), what is wrong or expected (`message`) and what to do (`hint`).
public struct Diagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    public var severity: Severity
    public var code: DiagnosticCode
    /// Where the problem is; nil only when no file is involved.
    public var location: SourceLocation?
    /// Dotted field path inside the document, e.g. `deployment.ssh_port`; empty for the whole document.
    public var path: String
    public var message: String
    public var hint: String?
    /// Other places that take part in the problem (the second default, the first definition, ...).
    public var related: [SourceLocation]

    public init(
        _ severity: Severity = .error,
        code: DiagnosticCode,
        location: SourceLocation?,
        path: String,
        message: String,
        hint: String? = nil,
        related: [SourceLocation] = []
    ) {
        self.severity = severity
        self.code = code
        // Every message may quote a value from a document or the database: it is shown with its
        // invisible characters escaped and without URL credentials or PEM blocks, whatever
        // renders it (text, JSON, Markdown, the status page).
        self.location = location.map(Self.displayable)
        self.path = DisplayText.escaped(path)
        self.message = DisplayText.escaped(DisplayText.redacted(message))
        self.hint = hint.map { DisplayText.escaped(DisplayText.redacted($0)) }
        self.related = related.map(Self.displayable)
    }

    static func displayable(_ l: SourceLocation) -> SourceLocation {
        DisplayText.needsEscaping(l.file) ? SourceLocation(file: DisplayText.escaped(l.file), line: l.line, column: l.column) : l
    }

    /// `file:line:col: error: path: message (hint: ...)` — the compiler-style line editors understand.
    /// Escaped again here: a diagnostic decoded from a saved plan did not pass through `init`.
    public var description: String {
        var text = ""
        if let location { text += "\(DisplayText.escaped(location.description)): " }
        text += "\(severity.rawValue): "
        if !path.isEmpty { text += "\(DisplayText.escaped(path)): " }
        text += DisplayText.escaped(message)
        if let hint { text += " (hint: \(DisplayText.escaped(hint)))" }
        for other in related { text += "\n  see also \(DisplayText.escaped(other.description))" }
        return text
    }
}

extension Array where Element == Diagnostic {
    public var errors: [Diagnostic] { filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { filter { $0.severity == .warning } }
    public var hasErrors: Bool { contains { $0.severity == .error } }

    /// Sorted by file, line and column; diagnostics without a location come last.
    public func sortedByLocation() -> [Diagnostic] {
        enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case let (l?, r?): return l == r ? a.offset < b.offset : l < r
            case (.some, .none): return true
            case (.none, .some): return false
            case (.none, .none): return a.offset < b.offset
            }
        }.map(\.element)
    }
}

/// Errors thrown across module boundaries carry the diagnostics that caused them.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
