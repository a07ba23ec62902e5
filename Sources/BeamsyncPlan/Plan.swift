import BeamsyncModel

/// What a change does to one object.
public enum ChangeAction: String, Sendable, Codable, CaseIterable {
    case create
    case update
    case delete
    /// A git document executed for the first time (Execution documents only).
    case trigger
    case noOp = "no-op"
}

/// Why a change is in the plan.
public enum ChangeReason: String, Sendable, Codable {
    /// The document is new or differs from the database.
    case documentChanged = "document_changed"
    /// The row was changed outside git and `heal` reverts it.
    case driftHealed = "drift_healed"
    /// An unmanaged row of the same name is taken over (`--adopt`).
    case adopted
    /// The document was removed and prune is on.
    case pruned
    case unchanged
}

/// A default moving inside a scope; demotions are applied before promotions.
public enum DefaultTransition: String, Sendable, Codable {
    case promote
    case demote
}

/// One field that differs, by dotted path (`deployment.deploy_port`).
public struct FieldChange: Sendable, Hashable, Codable {
    public var path: String
    public var before: JSONValue?
    public var after: JSONValue?

    public init(path: String, before: JSONValue?, after: JSONValue?) {
        self.path = path
        self.before = before
        self.after = after
    }
}

/// A planned change to one object, with enough detail to apply it and to show it.
public struct ResourceChange: Sendable, Hashable, Codable {
    public var kind: DocumentKind
    public var name: String
    public var action: ChangeAction
    public var reason: ChangeReason
    public var defaultTransition: DefaultTransition?
    /// The database id of the row being changed (nil for creates).
    public var liveID: String?
    /// The row's revision when planned; the update applies only if it is still that revision.
    public var liveRevision: Int?
    public var before: JSONValue?
    public var after: JSONValue?
    public var beforeSHA256: String?
    public var afterSHA256: String?
    /// Per-field differences for updates (creates and deletes carry the whole object in after/before).
    public var fieldChanges: [FieldChange]
    /// Where the document is (nil for deletions).
    public var origin: DocumentOrigin?
    /// For triggered executions whose graph is a repository file: the content's SHA-256.
    public var graphSHA256: String?
    /// For triggered executions: the graph file's bytes (base64), so a saved plan runs exactly them.
    public var graphContent: String?
    /// For triggered executions: the profile it will run with, as far as the plan can tell (the
    /// apply resolves and pins it again in its transaction).
    public var resolvedProfile: ResolvedProfile?
    /// Set when the live row was changed outside git: the dotted paths that differ from what
    /// beamsync applied (empty when unknown, as when the document changed as well). nil otherwise.
    public var driftedFields: [String]?

    enum CodingKeys: String, CodingKey {
        case kind, name, action, reason, before, after, origin
        case defaultTransition = "default_transition", liveID = "live_id", liveRevision = "live_revision"
        case beforeSHA256 = "before_sha256", afterSHA256 = "after_sha256", fieldChanges = "field_changes", graphSHA256 = "graph_sha256"
        case graphContent = "graph_content_base64"
        case resolvedProfile = "resolved_profile"
        case driftedFields = "drifted_fields"
    }

    public init(kind: DocumentKind, name: String, action: ChangeAction, reason: ChangeReason, defaultTransition: DefaultTransition? = nil,
                liveID: String? = nil, liveRevision: Int? = nil, before: JSONValue? = nil, after: JSONValue? = nil, beforeSHA256: String? = nil,
                afterSHA256: String? = nil, fieldChanges: [FieldChange] = [], origin: DocumentOrigin? = nil) {
        self.kind = kind
        self.name = name
        self.action = action
        self.reason = reason
        self.defaultTransition = defaultTransition
        self.liveID = liveID
        self.liveRevision = liveRevision
        self.before = before
        self.after = after
        self.beforeSHA256 = beforeSHA256
        self.afterSHA256 = afterSHA256
        self.fieldChanges = fieldChanges
        self.origin = origin
    }
}

/// Which profile a project's executions resolve to, before and after the plan.
public struct ProjectImpact: Sendable, Hashable, Codable {
    public var project: String
    /// The profile an execution that names no profile would get (project default, else global).
    public var defaultBefore: String?
    public var defaultAfter: String?
    /// Profiles this project references by name (automation, Execution documents) that change.
    public var changedReferences: [String]

    enum CodingKeys: String, CodingKey {
        case project, defaultBefore = "default_before", defaultAfter = "default_after", changedReferences = "changed_references"
    }

    public var changes: Bool { defaultBefore != defaultAfter || !changedReferences.isEmpty }
}

/// Counts for the summary line, like Terraform's "Plan: 1 to add, 2 to change, 0 to destroy".
public struct PlanSummary: Sendable, Hashable, Codable {
    public var create = 0
    public var update = 0
    public var delete = 0
    public var trigger = 0
    public var unchanged = 0
    public var drifted = 0
    /// Managed objects removed from git but kept because prune is off.
    public var notDeleted = 0

    public var hasChanges: Bool { create + update + delete + trigger > 0 }
    /// What `plan --detailed-exitcode` reports as 2: changes to make, or objects changed outside git.
    public var hasChangesOrDrift: Bool { hasChanges || drifted > 0 }
}

/// An object in the database that git does not manage (created through the HTTP API, by
/// beampipe or by hand) and that no document names. The plan leaves it alone; a document of the
/// same name applied with `--adopt` takes it over.
public struct UnmanagedObject: Sendable, Hashable, Codable {
    public var kind: DocumentKind
    public var name: String

    public init(kind: DocumentKind, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// The result of planning: pure data, Codable, stable for `--format json` and `--out FILE`.
public struct Plan: Sendable, Codable {
    /// Bumped when the JSON shape changes incompatibly.
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    /// The git revision or directory the desired state came from.
    public var source: String
    /// The commit the desired state was read at (nil for a working directory).
    public var sourceRevision: String? = nil
    /// The database's change serial when the plan was made; `apply --plan` refuses a stale plan.
    public var liveSerial: Int64
    /// Hash of every live row and inventory entry the plan was computed against; it changes when
    /// anyone (beamsync, the API, psql) changes the live state.
    public var liveFingerprint: String
    public var options: PlanOptions
    /// In apply order: demotions, other profile changes, promotions, project configs, executions, deletions.
    public var changes: [ResourceChange]
    public var diagnostics: [Diagnostic]
    public var impact: [ProjectImpact]
    /// SHA-256 over the desired objects the plan was made from and its options
    /// (`DesiredDigest`); `apply --plan` recomputes it from the changes.
    public var desiredDigest: String? = nil
    /// The HMAC envelope of a signed saved plan (absent when unsigned).
    public var signature: PlanSignature? = nil
    /// Who signed the source revision's commits, one line each, when commit verification ran.
    public var commitSignatures: [String]? = nil
    /// Live checks of the targets of the profiles this plan creates or changes (`plan
    /// --check-targets`); nil when they were not asked for. A failed check is also a diagnostic.
    public var targetChecks: [TargetCheckReport]? = nil
    /// Profiles and project configs in the database that git does not manage, by kind and name.
    public var unmanaged: [UnmanagedObject] = []

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", source, sourceRevision = "source_revision"
        case liveSerial = "live_serial", liveFingerprint = "live_fingerprint"
        case options, changes, diagnostics, impact, unmanaged
        case desiredDigest = "desired_digest", signature, commitSignatures = "commit_signatures"
        case targetChecks = "target_checks"
    }

    public init(formatVersion: Int, source: String, sourceRevision: String? = nil, liveSerial: Int64, liveFingerprint: String,
                options: PlanOptions, changes: [ResourceChange], diagnostics: [Diagnostic], impact: [ProjectImpact],
                unmanaged: [UnmanagedObject] = []) {
        self.formatVersion = formatVersion
        self.source = source
        self.sourceRevision = sourceRevision
        self.liveSerial = liveSerial
        self.liveFingerprint = liveFingerprint
        self.options = options
        self.changes = changes
        self.diagnostics = diagnostics
        self.impact = impact
        self.unmanaged = unmanaged
    }

    /// Plans saved before `unmanaged` (or the optional fields) existed read as having none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        source = try c.decode(String.self, forKey: .source)
        sourceRevision = try c.decodeIfPresent(String.self, forKey: .sourceRevision)
        liveSerial = try c.decode(Int64.self, forKey: .liveSerial)
        liveFingerprint = try c.decode(String.self, forKey: .liveFingerprint)
        options = try c.decode(PlanOptions.self, forKey: .options)
        changes = try c.decode([ResourceChange].self, forKey: .changes)
        diagnostics = try c.decode([Diagnostic].self, forKey: .diagnostics)
        impact = try c.decode([ProjectImpact].self, forKey: .impact)
        unmanaged = try c.decodeIfPresent([UnmanagedObject].self, forKey: .unmanaged) ?? []
        desiredDigest = try c.decodeIfPresent(String.self, forKey: .desiredDigest)
        signature = try c.decodeIfPresent(PlanSignature.self, forKey: .signature)
        commitSignatures = try c.decodeIfPresent([String].self, forKey: .commitSignatures)
        targetChecks = try c.decodeIfPresent([TargetCheckReport].self, forKey: .targetChecks)
    }

    public var summary: PlanSummary {
        var s = PlanSummary()
        for c in changes {
            switch c.action {
            case .create: s.create += 1
            case .update: s.update += 1
            case .delete: s.delete += 1
            case .trigger: s.trigger += 1
            case .noOp: s.unchanged += 1
            }
        }
        s.drifted = changes.filter { $0.driftedFields != nil }.count
        s.notDeleted = diagnostics.filter { $0.code == .notPruned }.count
        return s
    }

    /// Objects that still differ from git once this plan is applied: changed outside git and
    /// neither healed nor replaced by a new git version.
    public var remainingDrift: [ResourceChange] {
        changes.filter { $0.driftedFields != nil && $0.action == .noOp }
    }

    public var hasErrors: Bool { diagnostics.hasErrors }
    /// The warnings a renderer lists on their own: a failed target check is already shown in the
    /// target checks section.
    public var warningsOutsideTargetChecks: [Diagnostic] {
        diagnostics.warnings.filter { targetChecks == nil || $0.code != .targetCheckFailed }
    }
    public var effectiveChanges: [ResourceChange] { changes.filter { $0.action != .noOp } }

    /// The plan of a desired state that did not pass its checks: no changes, only the diagnostics,
    /// so `--format json` and `--format markdown` can show why (`apply --plan` refuses it).
    public static func rejected(source: String, sourceRevision: String?, diagnostics: [Diagnostic]) -> Plan {
        Plan(formatVersion: currentFormatVersion, source: source, sourceRevision: sourceRevision, liveSerial: 0, liveFingerprint: "",
             options: PlanOptions(), changes: [], diagnostics: diagnostics.sortedByLocation(), impact: [])
    }

    /// Whether an error comes from the documents themselves (syntax, fields, references) rather
    /// than from comparing them with the database.
    public var failedValidation: Bool { diagnostics.errors.contains { !$0.code.comparesWithDatabase } }
}

/// Switches that change what the planner may do.
public struct PlanOptions: Sendable, Hashable, Codable {
    public var prune: Bool
    public var heal: Bool
    public var adopt: Bool
    public var maxDeletions: Int
    public var protectedProfiles: [String]

    enum CodingKeys: String, CodingKey {
        case prune, heal, adopt, maxDeletions = "max_deletions", protectedProfiles = "protected_profiles"
    }

    public init(prune: Bool = false, heal: Bool = false, adopt: Bool = false, maxDeletions: Int = 10, protectedProfiles: [String] = []) {
        self.prune = prune
        self.heal = heal
        self.adopt = adopt
        self.maxDeletions = maxDeletions
        self.protectedProfiles = protectedProfiles
    }

    /// The repository's policy, overridden by command-line switches that are set.
    public init(policy: RepositoryPolicy, prune: Bool? = nil, heal: Bool? = nil, adopt: Bool = false) {
        self.init(prune: prune ?? policy.prune, heal: heal ?? policy.heal, adopt: adopt,
                  maxDeletions: policy.maxDeletions, protectedProfiles: policy.protectedProfiles)
    }
}
