import BeamsyncModel
import BeamsyncPlan
import Foundation

/// A saved plan that does not hold together: a value, a hash, an action or the live rows it
/// names differ from what planning would have produced. Nothing was applied.
public struct SavedPlanRejected: Error, Sendable, CustomStringConvertible, Equatable {
    /// Where in the plan file (`changes[3].after.translation.num_par`, `desired_digest`).
    public var path: String
    /// What is wrong there; never the value of a secret.
    public var problem: String

    public init(path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String {
        "the saved plan was refused at \(path): \(problem); nothing was applied — make a new plan with `beamsync plan --out FILE`"
    }
}

/// Re-checks a saved plan before `apply --plan` writes it, so a plan file edited after planning
/// (by hand or by anyone who could write the CI artifact) is refused instead of applied:
///
/// - every object the plan would write is decoded again with the rules a repository file gets,
///   its canonical form compared with the plan's and its `spec_sha256` recomputed;
/// - an execution's graph bytes are hashed again and must match `graph_sha256`;
/// - actions, default moves and field lists must be what the planner derives from before/after;
/// - `desired_digest` is recomputed from the changes (an added, removed, renamed or deleted
///   object changes it);
/// - against the live state read in the apply transaction: every row a change names is that
///   row, at that revision and content, and deletions are of managed objects, with prune on.
///
/// The first difference is reported, by its path in the plan file.
public enum SavedPlanCheck {
    /// Everything the plan file can show on its own.
    public static func check(_ plan: Plan) throws(SavedPlanRejected) {
        guard let digest = plan.desiredDigest else {
            throw SavedPlanRejected(path: "desired_digest", "is missing; plans made by this beamsync always carry it")
        }
        var seen: [String: Int] = [:]
        for (i, change) in plan.changes.enumerated() {
            let key = "\(change.kind.rawValue)/\(change.name)"
            if let first = seen[key] {
                throw SavedPlanRejected(path: "changes[\(i)]", "\(key) appears twice (also at changes[\(first)])")
            }
            seen[key] = i
        }
        // Decoding every object again is the expensive part: spread over the cores, and the
        // first refusal in plan order is reported.
        let changes = plan.changes
        let refusals = RefusalSlots(count: changes.count)
        let work: @Sendable (Int) -> Void = { i in
            do throws(SavedPlanRejected) { try check(changes[i], at: "changes[\(i)]") } catch { refusals.set(i, error) }
        }
        if changes.count > 64 {
            DispatchQueue.concurrentPerform(iterations: changes.count, execute: work)
        } else {
            for i in changes.indices { work(i) }
        }
        if let first = refusals.first { throw first }
        let deletions = plan.changes.filter { $0.action == .delete }.count
        if deletions > 0 && !plan.options.prune {
            throw SavedPlanRejected(path: "options.prune", "the plan deletes \(deletions) object(s) but prune is off")
        }
        if deletions > plan.options.maxDeletions {
            throw SavedPlanRejected(path: "options.max_deletions",
                                    "the plan deletes \(deletions) objects, more than max_deletions (\(plan.options.maxDeletions))")
        }
        let recomputed = DesiredDigest.of(changes: plan.changes, options: plan.options)
        if recomputed != digest {
            throw SavedPlanRejected(path: "desired_digest",
                                    "does not match the plan's objects and options (an object was added, removed, renamed "
                                    + "or deleted, or an option changed, after planning)")
        }
    }

    /// The rows the plan names must be the live rows, as they were when it was planned.
    /// Called inside the apply transaction, after the live fingerprint matched.
    public static func check(_ plan: Plan, against live: LiveState) throws(SavedPlanRejected) {
        let profiles = Dictionary(live.profiles.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let projects = Dictionary(live.projects.map { ($0.projectID, $0) }, uniquingKeysWith: { a, _ in a })
        let executions = Set(live.executions.map(\.name))
        let hashes = live.profileHashes
        for (i, c) in plan.changes.enumerated() {
            let at = "changes[\(i)]"
            let managed = live.inventoryEntry(c.kind, c.name) != nil
            switch c.kind {
            case .deploymentProfile:
                let row = profiles[c.name]
                if c.action == .create {
                    if row != nil { throw SavedPlanRejected(path: "\(at).action", "profile '\(c.name)' already exists; it cannot be created") }
                    continue
                }
                guard let row else { throw SavedPlanRejected(path: "\(at).name", "no profile '\(c.name)' exists in the database") }
                try expect(c.liveID, row.id, "\(at).live_id")
                if c.action == .noOp { continue }
                try expect(c.liveRevision.map { String($0) }, String(row.revision), "\(at).live_revision")
                if c.before != row.canonicalSpec {
                    throw SavedPlanRejected(path: "\(at).before", "is not the live row of profile '\(c.name)'")
                }
                try expect(c.beforeSHA256, hashes[row.id] ?? row.specSHA256, "\(at).before_sha256")
                if c.action == .delete {
                    try requireDeletable(c, at: at, managed: managed, protected: plan.options.protectedProfiles.contains(c.name))
                } else if !managed && c.reason != .adopted {
                    throw SavedPlanRejected(path: "\(at).reason", "profile '\(c.name)' is not managed by beamsync; only an adoption may change it")
                }
            case .projectConfig:
                let row = projects[c.name]
                if c.action == .create {
                    if row != nil { throw SavedPlanRejected(path: "\(at).action", "project config '\(c.name)' already exists; it cannot be created") }
                    continue
                }
                guard let row else { throw SavedPlanRejected(path: "\(at).name", "no project config '\(c.name)' exists in the database") }
                try expect(c.liveID, row.id, "\(at).live_id")
                if c.action == .noOp { continue }
                if c.before != row.spec {
                    throw SavedPlanRejected(path: "\(at).before", "is not the active config of project '\(c.name)'")
                }
                try expect(c.beforeSHA256, row.storedSHA256, "\(at).before_sha256")
                if c.action == .delete {
                    try requireDeletable(c, at: at, managed: managed, protected: false)
                } else if !managed && c.reason != .adopted {
                    throw SavedPlanRejected(path: "\(at).reason", "project config '\(c.name)' is not managed by beamsync; only an adoption may change it")
                }
            case .execution:
                if c.action == .trigger && (executions.contains(c.name) || managed) {
                    throw SavedPlanRejected(path: "\(at).action", "execution '\(c.name)' already exists; it is never triggered twice")
                }
            }
        }
    }

    private static func requireDeletable(_ c: ResourceChange, at: String, managed: Bool, protected: Bool) throws(SavedPlanRejected) {
        guard managed else {
            throw SavedPlanRejected(path: "\(at).action", "\(c.kind.rawValue) '\(c.name)' is not managed by beamsync; it is never deleted")
        }
        if protected {
            throw SavedPlanRejected(path: "\(at).action", "profile '\(c.name)' is protected; it is never deleted")
        }
    }

    private static func expect(_ found: String?, _ expected: String?, _ path: String) throws(SavedPlanRejected) {
        guard found == expected else {
            throw SavedPlanRejected(path: path, found == nil ? "is missing" : "does not match the database")
        }
    }

    // MARK: One change on its own

    /// Which actions each kind can have, and the reasons that go with them.
    private static func check(_ c: ResourceChange, at: String) throws(SavedPlanRejected) {
        let allowed: Set<ChangeAction> = c.kind == .execution ? [.trigger, .noOp] : [.create, .update, .delete, .noOp]
        guard allowed.contains(c.action) else {
            throw SavedPlanRejected(path: "\(at).action", "'\(c.action.rawValue)' is not an action for \(c.kind.rawValue)")
        }
        let reasons: Set<ChangeReason> = switch c.action {
        case .create, .trigger: [.documentChanged]
        case .update: [.documentChanged, .driftHealed, .adopted]
        case .delete: [.pruned]
        case .noOp: [.unchanged]
        }
        guard reasons.contains(c.reason) else {
            throw SavedPlanRejected(path: "\(at).reason", "'\(c.reason.rawValue)' does not go with action '\(c.action.rawValue)'")
        }
        switch c.action {
        case .create:
            if c.liveID != nil || c.before != nil { throw SavedPlanRejected(path: "\(at).live_id", "a create names no existing row") }
            try checkDocument(c, at: at)
        case .update:
            guard c.before != nil else { throw SavedPlanRejected(path: "\(at).before", "an update carries the live object it replaces") }
            if c.kind == .deploymentProfile && c.liveRevision == nil {
                throw SavedPlanRejected(path: "\(at).live_revision", "an update applies only at the planned revision; it is missing")
            }
            try checkDocument(c, at: at)
            let fields = JSONDiff.fields(before: c.before, after: c.after)
            if c.fieldChanges != fields {
                throw SavedPlanRejected(path: "\(at).field_changes", "does not list the differences between before and after")
            }
        case .delete:
            guard c.before != nil, c.liveID != nil else {
                throw SavedPlanRejected(path: "\(at).before", "a deletion carries the live object it removes")
            }
            if c.after != nil || c.afterSHA256 != nil { throw SavedPlanRejected(path: "\(at).after", "a deletion has no new value") }
        case .trigger:
            try checkDocument(c, at: at)
        case .noOp:
            if c.kind == .deploymentProfile && c.beforeSHA256 != c.afterSHA256 {
                throw SavedPlanRejected(path: "\(at).after_sha256", "an unchanged object has the same hash before and after")
            }
            // Nothing of an unchanged object is written; its hash still counts in desired_digest.
        }
        try checkDefaultTransition(c, at: at)
    }

    /// Decodes `after` with the file rules and requires the plan's name, value and hash to be
    /// exactly what that document gives.
    private static func checkDocument(_ c: ResourceChange, at: String) throws(SavedPlanRejected) {
        guard let after = c.after else { throw SavedPlanRejected(path: "\(at).after", "is missing") }
        var document = after
        if c.kind == .deploymentProfile, case .object(var fields) = after {
            // A profile's hashed object carries no header; the file rules accept one.
            fields["kind"] = .string(DocumentKind.deploymentProfile.rawValue)
            document = .object(fields)
        }
        let (decoded, diagnostics) = DesiredStateLoader.decodeDocument(document.canonicalBytes, path: "\(at).after", kind: c.kind)
        if let error = diagnostics.errors.first {
            let field = error.path.isEmpty ? "\(at).after" : "\(at).after.\(error.path)"
            throw SavedPlanRejected(path: field, error.message)
        }
        guard let decoded, decoded.kind == c.kind else {
            throw SavedPlanRejected(path: "\(at).after", "is not a \(c.kind.rawValue) document")
        }
        let (name, canonical, hash): (String, JSONValue, String) = switch decoded {
        case .profile(let p): (p.name, p.canonicalSpec, p.specSHA256)
        case .project(let p): (p.id, p.spec, p.specSHA256)
        case .execution(let e): (e.name, e.canonicalSpec, e.specSHA256)
        }
        if name != c.name {
            throw SavedPlanRejected(path: "\(at).name", "the change is named '\(c.name)' but its document is '\(name)'")
        }
        if canonical != after {
            let field = JSONDiff.fields(before: canonical, after: after).first?.path ?? ""
            throw SavedPlanRejected(path: field.isEmpty ? "\(at).after" : "\(at).after.\(field)",
                                    "is not the normalised form of the document (edited after planning)")
        }
        if c.afterSHA256 != hash {
            throw SavedPlanRejected(path: "\(at).after_sha256", "does not match `after` (whose spec_sha256 is \(hash)): the object was edited after planning")
        }
        if case .execution(let e) = decoded, c.action == .trigger { try checkGraph(c, e, at: at) }
    }

    /// The graph bytes a trigger carries hash to the pinned SHA-256 the execution will record.
    private static func checkGraph(_ c: ResourceChange, _ e: ExecutionDocument, at: String) throws(SavedPlanRejected) {
        switch e.graph {
        case .url(_, let sha):
            if c.graphSHA256 != sha { throw SavedPlanRejected(path: "\(at).graph_sha256", "is not the sha256 the document pins") }
            if c.graphContent != nil {
                throw SavedPlanRejected(path: "\(at).graph_content_base64", "a graph given by URL is not carried in the plan")
            }
        case .path:
            guard let sha = c.graphSHA256, let content = c.graphContent else {
                throw SavedPlanRejected(path: "\(at).graph_content_base64", "a graph file's bytes and sha256 are carried with the trigger; they are missing")
            }
            guard let bytes = Data(base64Encoded: content) else {
                throw SavedPlanRejected(path: "\(at).graph_content_base64", "is not base64")
            }
            if SHA256Digest.hex(bytes) != sha {
                throw SavedPlanRejected(path: "\(at).graph_content_base64", "the graph bytes do not hash to graph_sha256")
            }
        }
    }

    /// A default moves exactly when `is_default` differs between before and after.
    private static func checkDefaultTransition(_ c: ResourceChange, at: String) throws(SavedPlanRejected) {
        let isDefaultBefore = c.before?["is_default"] == .bool(true)
        let isDefaultAfter = c.after?["is_default"] == .bool(true)
        let expected: DefaultTransition? = switch (c.kind, c.action) {
        case (.deploymentProfile, .create): isDefaultAfter ? .promote : nil
        case (.deploymentProfile, .update): isDefaultBefore == isDefaultAfter ? nil : (isDefaultAfter ? .promote : .demote)
        case (.deploymentProfile, .delete): isDefaultBefore ? .demote : nil
        default: nil
        }
        if c.defaultTransition != expected {
            throw SavedPlanRejected(path: "\(at).default_transition", "does not follow from is_default before and after")
        }
    }
}

/// One slot per change, filled from several threads.
private final class RefusalSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [SavedPlanRejected?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ refusal: SavedPlanRejected) { lock.withLock { slots[i] = refusal } }

    var first: SavedPlanRejected? { lock.withLock { slots.lazy.compactMap { $0 }.first } }
}
