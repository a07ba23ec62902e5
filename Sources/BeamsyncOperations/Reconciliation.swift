import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore

/// Switches that override beamsync.yaml's policy (command-line flags, controller options).
public struct PolicyOverrides: Sendable, Equatable {
    public var prune: Bool?
    public var heal: Bool?
    public var adopt: Bool

    public init(prune: Bool? = nil, heal: Bool? = nil, adopt: Bool = false) {
        self.prune = prune
        self.heal = heal
        self.adopt = adopt
    }

    public func options(for policy: RepositoryPolicy) -> PlanOptions {
        PlanOptions(policy: policy, prune: prune, heal: heal, adopt: adopt)
    }
}

/// A snapshot whose files are parsed one by one; what can be done before the live state is known.
public struct ParsedSource: Sendable {
    public let snapshot: SourceSnapshot
    let tree: ParsedTree

    /// Parses every document file; files whose parse `cache` holds are not parsed again.
    public init(_ snapshot: SourceSnapshot, cache: ParsedFileCache? = nil) {
        self.snapshot = snapshot
        tree = DesiredStateLoader.parse(files: snapshot.files, cache: cache)
    }

    /// Reads `input` and parses it.
    public static func read(_ input: DesiredInput, cache: ParsedFileCache? = nil) async throws -> ParsedSource {
        ParsedSource(try await input.read(), cache: cache)
    }

    /// The cross-document checks (references, one default per scope, duplicates); profiles that
    /// exist only in the database satisfy references.
    public func check(externalProfiles: [ExternalProfile]) -> CheckedDesiredState {
        let result = tree.assemble(externalProfiles: externalProfiles)
        let diagnostics = snapshot.readDiagnostics + result.diagnostics.map { $0.prefixingFiles(with: snapshot.displayPrefix) }
        return CheckedDesiredState(snapshot: snapshot, state: diagnostics.hasErrors ? nil : result.state, diagnostics: diagnostics)
    }
}

/// The desired state after every check: a state to plan, or the errors that prevent one.
public struct CheckedDesiredState: Sendable {
    public var snapshot: SourceSnapshot
    /// nil when `diagnostics` hold an error.
    public var state: DesiredState?
    public var diagnostics: [Diagnostic]
}

/// The desired state did not pass its checks; nothing was planned or applied.
public struct DesiredStateRejected: Error, Sendable, CustomStringConvertible {
    public var checked: CheckedDesiredState
    public init(_ checked: CheckedDesiredState) { self.checked = checked }
    public var diagnostics: [Diagnostic] { checked.diagnostics }
    public var description: String { diagnostics.errors.map(\.description).joined(separator: "\n") }
}

extension Plan {
    /// Says, in the plan itself, that it was made against a database without beamsync's schema.
    mutating func noteSchemaMissing() {
        diagnostics.append(Diagnostic(.warning, code: .schemaMissing, location: nil, path: "",
            message: "the schema is not created yet; apply or migrate will create it (this plan is against an empty database)",
            hint: "run `beamsync migrate` once with a role that may create tables; planning needs only read access after that"))
    }
}

/// Load → check → read the live state → plan, and apply: the one sequence `plan`, `apply`, the
/// pull-request review and the controller share.
public struct Reconciliation: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    /// Plans `parsed` against `live`; pure.
    public static func plan(_ parsed: ParsedSource, against live: LiveState, overrides: PolicyOverrides) throws(DesiredStateRejected) -> Plan {
        let checked = parsed.check(externalProfiles: live.externalProfiles)
        guard let desired = checked.state else { throw DesiredStateRejected(checked) }
        var plan = Planner(options: overrides.options(for: desired.policy)).plan(desired: desired, live: live, source: parsed.snapshot.label)
        plan.sourceRevision = parsed.snapshot.revision
        plan.commitSignatures = parsed.snapshot.verified?.signers
        plan.diagnostics = (plan.diagnostics + checked.diagnostics.warnings).sortedByLocation()
        return plan
    }

    /// What applying `input` would change. Reads and parses the files while the live state is
    /// read; writes nothing, not even the schema: a database without beamsync's tables is planned
    /// against as empty (with a warning), an older schema is refused (`SchemaOutdated`). Throws
    /// `DesiredStateRejected` when the desired state has errors.
    public func plan(_ input: DesiredInput, overrides: PolicyOverrides, cache: ParsedFileCache? = nil) async throws -> Plan {
        let input = await withLastApplied(input)
        async let parsing = ParsedSource.read(input, cache: cache)
        let (live, schemaCreated) = try await readLiveForPlanning()
        var plan = try Self.plan(try await parsing, against: live, overrides: overrides)
        if !schemaCreated { plan.noteSchemaMissing() }
        return plan
    }

    /// `input` with the revision the controller last applied from the same repository, branch
    /// and path, which commit verification (mode all) counts from. A role that cannot read
    /// `gitops_sources` (the read-only plan role) verifies the head alone.
    public func withLastApplied(_ input: DesiredInput) async -> DesiredInput {
        guard case .git(var source) = input, source.lastApplied == nil else { return input }
        let identity = source.identity
        source.lastApplied = (try? await SourceStatusStore(conn: conn).all())?
            .first { $0.url == identity.url && $0.branch == identity.branch && $0.path == identity.path }?.lastAppliedRevision
        return .git(source)
    }

    public func readLive() async throws -> LiveState {
        try await ApplyTransaction(conn: conn).readLive()
    }

    /// The live state to plan against without writing: empty when the schema was never created.
    public func readLiveForPlanning() async throws -> (live: LiveState, schemaCreated: Bool) {
        guard try await Migrator.beamsync.readableSchema(conn) else { return (LiveState(), false) }
        return (try await readLive(), true)
    }

    /// Applies `parsed`: under the apply lock, read the live state, check, plan and write, in one
    /// transaction. Throws `DesiredStateRejected` or `PlanRejected` with nothing written.
    /// `revision` defaults to the snapshot's commit.
    public func apply(_ parsed: ParsedSource, overrides: PolicyOverrides, actor: AuditActor, revision: String? = nil)
        async throws -> (Plan, ApplyResult)
    {
        var (plan, result) = try await ApplyTransaction(conn: conn).apply(loading: { live in
            let checked = parsed.check(externalProfiles: live.externalProfiles)
            guard let desired = checked.state else { throw DesiredStateRejected(checked) }
            return (desired, overrides.options(for: desired.policy))
        }, source: parsed.snapshot.label, actor: actor.name, revision: revision ?? parsed.snapshot.revision,
           inventorySource: parsed.snapshot.repository.map {
               InventorySource(url: RedactedURL.text($0.url), ref: $0.branch, subdir: $0.path.isEmpty ? nil : $0.path)
           })
        plan.sourceRevision = parsed.snapshot.revision
        plan.commitSignatures = parsed.snapshot.verified?.signers
        return (plan, result)
    }

    /// Applies exactly a saved plan; refuses a stale one (`StalePlan`) and one that does not
    /// hold together or does not describe the live rows it names (`SavedPlanRejected`).
    public func apply(saved plan: Plan, actor: AuditActor, revision: String?) async throws -> ApplyResult {
        try SavedPlanCheck.check(plan)
        return try await ApplyTransaction(conn: conn).apply(saved: plan, actor: actor.name, revision: revision) { live in
            try SavedPlanCheck.check(plan, against: live)
        }
    }
}
