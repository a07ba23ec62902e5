import BeamsyncModel
import Foundation

/// Compares the desired state with the live state and decides every change. Pure: no I/O, the
/// same inputs always give the same plan.
public struct Planner: Sendable {
    public var options: PlanOptions

    public init(options: PlanOptions = .init()) { self.options = options }

    public func plan(desired: DesiredState, live: LiveState, source: String) -> Plan {
        var diagnostics: [Diagnostic] = []
        let index = LiveIndex(live)
        var profileChanges = profileChanges(desired: desired, live: index, diagnostics: &diagnostics)
        let projectChanges = projectChanges(desired: desired, live: index, diagnostics: &diagnostics)
        let executionChanges = executionChanges(desired: desired, live: live, index: index, diagnostics: &diagnostics)
        var deletions = pruneChanges(desired: desired, live: live, index: index, diagnostics: &diagnostics)
        diagnostics += defaultConflicts(desired: desired, live: live, deletions: deletions)

        // A deleted default must give up its default before a new default is promoted in its scope.
        for i in deletions.indices where deletions[i].kind == .deploymentProfile && deletions[i].before?["is_default"] == .bool(true) {
            deletions[i].defaultTransition = .demote
        }
        profileChanges.sort { phase(of: $0) < phase(of: $1) || (phase(of: $0) == phase(of: $1) && $0.name < $1.name) }
        let ordered = profileChanges + projectChanges.sorted { $0.name < $1.name }
            + executionChanges.sorted { $0.name < $1.name } + deletions.sorted { $0.name < $1.name }
        let impact = Self.impact(desired: desired, live: live, changes: ordered)
        var plan = Plan(formatVersion: Plan.currentFormatVersion, source: source, liveSerial: live.serial,
                        liveFingerprint: live.fingerprint(profileHashes: index.profileHashes), options: options,
                        changes: ordered, diagnostics: diagnostics.sortedByLocation(), impact: impact,
                        unmanaged: Self.unmanaged(desired: desired, live: live, index: index))
        plan.desiredDigest = DesiredDigest.of(changes: ordered, options: options)
        return plan
    }

    /// Live profiles and active project configs with no inventory entry that no document names.
    static func unmanaged(desired: DesiredState, live: LiveState, index: LiveIndex) -> [UnmanagedObject] {
        let profiles = Set(desired.profiles.map(\.value.name))
        let projects = Set(desired.projects.map(\.value.id))
        var out: [UnmanagedObject] = []
        for row in live.profiles where !profiles.contains(row.name) && index.entry(.deploymentProfile, row.name) == nil {
            out.append(UnmanagedObject(kind: .deploymentProfile, name: row.name))
        }
        for row in live.projects where !projects.contains(row.projectID) && index.entry(.projectConfig, row.projectID) == nil {
            out.append(UnmanagedObject(kind: .projectConfig, name: row.projectID))
        }
        return out.sorted { ($0.kind.rawValue, $0.name) < ($1.kind.rawValue, $1.name) }
    }

    /// Demotions first, then plain changes, then promotions (the partial unique index allows one default per scope).
    private func phase(of change: ResourceChange) -> Int {
        switch change.defaultTransition {
        case .demote: 0
        case nil: 1
        case .promote: 2
        }
    }

    // MARK: Profiles

    private func profileChanges(desired: DesiredState, live: LiveIndex, diagnostics: inout [Diagnostic]) -> [ResourceChange] {
        var changes: [ResourceChange] = []
        for located in desired.profiles {
            let profile = located.value
            let afterHash = desired.profileSHA256[profile.name] ?? profile.specSHA256
            guard let row = live.profile(named: profile.name) else {
                changes.append(ResourceChange(kind: .deploymentProfile, name: profile.name, action: .create, reason: .documentChanged,
                                              defaultTransition: profile.isDefault ? .promote : nil, after: profile.canonicalSpec,
                                              afterSHA256: afterHash, origin: located.origin))
                continue
            }
            // Built only for changes and drift: a no-op carries hashes alone.
            var after: JSONValue { profile.canonicalSpec }
            var before: JSONValue { row.canonicalSpec }
            let liveHash = live.profileHashes[row.id] ?? row.specSHA256
            let inventory = live.entry(.deploymentProfile, profile.name)
            if options.protectedProfiles.contains(profile.name) {
                if liveHash != afterHash {
                    diagnostics.append(Diagnostic(.warning, code: .pruneGuard, location: located.origin.location, path: "name",
                        message: "profile '\(profile.name)' is protected by beamsync.yaml; its changes are not applied",
                        hint: "remove it from protected_profiles to let git manage it"))
                }
                changes.append(noOp(.deploymentProfile, profile.name, row.id, liveHash, located.origin))
                continue
            }
            var reason = ChangeReason.documentChanged
            var drifted: [String]? = nil
            if inventory == nil {
                guard options.adopt else {
                    diagnostics.append(Diagnostic(code: .unmanagedConflict, location: located.origin.location, path: "name",
                        message: "profile '\(profile.name)' already exists in the database and is not managed by beamsync",
                        hint: "run with --adopt to let git take it over, or rename the document"))
                    continue
                }
                reason = .adopted
            } else if let inventory, inventory.specSHA256 != liveHash {
                // Someone changed the row since beamsync wrote it.
                let documentUnchanged = inventory.specSHA256 == afterHash
                // With the document unchanged, the fields that differ from git are the ones changed outside it.
                drifted = documentUnchanged ? JSONDiff.fields(before: after, after: before).map(\.path) : []
                if documentUnchanged && !options.heal {
                    diagnostics.append(Diagnostic(.warning, code: .drift, location: located.origin.location, path: "",
                        message: "profile '\(profile.name)' was changed outside git (\(drifted!.joined(separator: ", ")))",
                        hint: "run with --heal to restore the git version, or commit the change to git"))
                    var change = noOp(.deploymentProfile, profile.name, row.id, liveHash, located.origin)
                    change.driftedFields = drifted
                    changes.append(change)
                    continue
                }
                if documentUnchanged { reason = .driftHealed } else {
                    diagnostics.append(Diagnostic(.warning, code: .drift, location: located.origin.location, path: "",
                        message: "profile '\(profile.name)' was also changed outside git; the git version replaces that change",
                        hint: "check that nothing made outside git is lost"))
                }
            }
            if liveHash == afterHash && reason != .adopted {
                changes.append(noOp(.deploymentProfile, profile.name, row.id, liveHash, located.origin))
                continue
            }
            let transition: DefaultTransition? = row.isDefault == profile.isDefault ? nil : (profile.isDefault ? .promote : .demote)
            // An adopted row is an update of ownership even when identical (the applier then writes
            // only the inventory, without bumping the row's revision).
            let (beforeSpec, afterSpec) = (before, after)
            var change = ResourceChange(kind: .deploymentProfile, name: profile.name, action: .update,
                                        reason: reason, defaultTransition: transition, liveID: row.id, liveRevision: row.revision,
                                        before: beforeSpec, after: afterSpec,
                                        beforeSHA256: liveHash, afterSHA256: afterHash,
                                        fieldChanges: JSONDiff.fields(before: beforeSpec, after: afterSpec), origin: located.origin)
            change.driftedFields = drifted
            changes.append(change)
        }
        return changes
    }

    /// Unchanged objects carry only their hash: at 10,000 objects, copies of every document would
    /// dominate the plan's size and the controller's memory.
    private func noOp(_ kind: DocumentKind, _ name: String, _ id: String?, _ hash: String, _ origin: DocumentOrigin) -> ResourceChange {
        ResourceChange(kind: kind, name: name, action: .noOp, reason: .unchanged, liveID: id,
                       beforeSHA256: hash, afterSHA256: hash, origin: origin)
    }

    /// A git default that would collide with a default that stays in the database (unmanaged or kept).
    private func defaultConflicts(desired: DesiredState, live: LiveState, deletions: [ResourceChange]) -> [Diagnostic] {
        let desiredNames = Set(desired.profiles.map(\.value.name))
        let deleted = Set(deletions.map(\.name))
        var out: [Diagnostic] = []
        for located in desired.profiles where located.value.isDefault {
            let scope = located.value.scope
            for row in live.profiles where row.isDefault && row.scope == scope && !desiredNames.contains(row.name) && !deleted.contains(row.name) {
                out.append(Diagnostic(code: .defaultConflict, location: located.origin.location, path: "is_default",
                    message: "profile '\(row.name)' (in the database, not in git) is already the default for \(scope); '\(located.value.name)' cannot also be",
                    hint: "demote '\(row.name)' in the database, add it to git with is_default: false (and --adopt), or prune it"))
            }
        }
        return out
    }

    // MARK: Project configs

    private func projectChanges(desired: DesiredState, live: LiveIndex, diagnostics: inout [Diagnostic]) -> [ResourceChange] {
        var changes: [ResourceChange] = []
        for located in desired.projects {
            let project = located.value
            guard let row = live.project(id: project.id) else {
                changes.append(ResourceChange(kind: .projectConfig, name: project.id, action: .create, reason: .documentChanged,
                                              after: project.spec, afterSHA256: project.specSHA256, origin: located.origin))
                continue
            }
            let inventory = live.entry(.projectConfig, project.id)
            if inventory == nil && !options.adopt {
                diagnostics.append(Diagnostic(code: .unmanagedConflict, location: located.origin.location, path: "metadata.id",
                    message: "project config '\(project.id)' already exists in the database (version \(row.version)) and is not managed by beamsync",
                    hint: "run with --adopt to let git manage its next versions"))
                continue
            }
            // A new version only when the normalised spec really changes.
            if row.spec == project.spec {
                changes.append(ResourceChange(kind: .projectConfig, name: project.id, action: inventory == nil ? .update : .noOp,
                                              reason: inventory == nil ? .adopted : .unchanged, liveID: row.id, before: row.spec,
                                              after: project.spec, beforeSHA256: row.storedSHA256, afterSHA256: project.specSHA256,
                                              origin: located.origin))
                continue
            }
            changes.append(ResourceChange(kind: .projectConfig, name: project.id, action: .update,
                                          reason: inventory == nil ? .adopted : .documentChanged, liveID: row.id, before: row.spec,
                                          after: project.spec, beforeSHA256: row.storedSHA256, afterSHA256: project.specSHA256,
                                          fieldChanges: JSONDiff.fields(before: row.spec, after: project.spec), origin: located.origin))
        }
        return changes
    }

    // MARK: Executions

    private func executionChanges(desired: DesiredState, live: LiveState, index: LiveIndex, diagnostics: inout [Diagnostic]) -> [ResourceChange] {
        let existing = Set(live.executions.map(\.name))
        var changes: [ResourceChange] = []
        for located in desired.executions {
            let e = located.value
            if existing.contains(e.name) || index.entry(.execution, e.name) != nil {
                if let inv = index.entry(.execution, e.name), inv.specSHA256 != e.specSHA256 {
                    diagnostics.append(Diagnostic(.warning, code: .ignoredEdit, location: located.origin.location, path: "",
                        message: "execution '\(e.name)' already ran; edits to its document never re-run it",
                        hint: "add a new Execution document with a new name to run again"))
                }
                changes.append(ResourceChange(kind: .execution, name: e.name, action: .noOp, reason: .unchanged,
                                              after: e.canonicalSpec, afterSHA256: e.specSHA256, origin: located.origin))
                continue
            }
            var change = ResourceChange(kind: .execution, name: e.name, action: .trigger, reason: .documentChanged,
                                        after: e.canonicalSpec, afterSHA256: e.specSHA256, origin: located.origin)
            change.resolvedProfile = Self.resolveProfile(of: e, desired: desired, live: live)
            switch e.graph {
            case .path(let p):
                change.graphSHA256 = desired.graphSHA256[p]
                change.graphContent = desired.graphContent[p].map { Data($0).base64EncodedString() }
            case .url(_, let sha): change.graphSHA256 = sha
            }
            changes.append(change)
        }
        return changes
    }

    /// The profile an execution resolves to as beampipe resolves it (named, by id, the project's
    /// default, else the global default), among the profiles in git and those only in the database.
    static func resolveProfile(of e: ExecutionDocument, desired: DesiredState, live: LiveState) -> ResolvedProfile? {
        struct Candidate {
            var name: String
            var projectModule: String?
            var isDefault: Bool
            var deployment: () -> JSONValue
        }
        let gitNames = Set(desired.profiles.map(\.value.name))
        let candidates = desired.profiles.map { p in
            Candidate(name: p.value.name, projectModule: p.value.projectModule, isDefault: p.value.isDefault, deployment: { p.value.deployment.json })
        } + live.profiles.filter { !gitNames.contains($0.name) }.map { row in
            Candidate(name: row.name, projectModule: row.projectModule, isDefault: row.isDefault, deployment: { row.deployment })
        }
        func resolved(_ c: Candidate?, _ resolution: ResolvedProfile.Resolution) -> ResolvedProfile? {
            c.flatMap { ResolvedProfile(name: $0.name, deployment: $0.deployment(), resolution: resolution) }
        }
        // The first name, should a broken database hold two defaults in one scope.
        func defaultProfile(in project: String?) -> Candidate? {
            candidates.filter { $0.isDefault && $0.projectModule == project }.min { $0.name < $1.name }
        }
        switch e.profile {
        case .name(let n):
            return resolved(candidates.first { $0.name == n }, .named)
        case .id(let id):
            return live.profiles.first { $0.id == id }.flatMap { ResolvedProfile(name: $0.name, deployment: $0.deployment, resolution: .byID) }
        case .projectDefault:
            if let project = defaultProfile(in: e.projectModule) { return resolved(project, .projectDefault) }
            return resolved(defaultProfile(in: nil), .globalDefault)
        }
    }

    // MARK: Prune

    private func pruneChanges(desired: DesiredState, live: LiveState, index: LiveIndex, diagnostics: inout [Diagnostic]) -> [ResourceChange] {
        let desiredProfiles = Set(desired.profiles.map(\.value.name))
        let desiredProjects = Set(desired.projects.map(\.value.id))
        let desiredExecutions = Set(desired.executions.map(\.value.name))
        var gone: [InventoryEntry] = []
        for entry in live.inventory {
            switch entry.kind {
            case .deploymentProfile where !desiredProfiles.contains(entry.name): gone.append(entry)
            case .projectConfig where !desiredProjects.contains(entry.name): gone.append(entry)
            case .execution where !desiredExecutions.contains(entry.name):
                // Deleting an Execution document never cancels or removes the execution.
                continue
            default: continue
            }
        }
        guard !gone.isEmpty else { return [] }
        guard options.prune else {
            for entry in gone {
                diagnostics.append(Diagnostic(.warning, code: .notPruned, location: nil, path: "\(entry.kind.rawValue)/\(entry.name)",
                    message: "\(entry.kind.rawValue) '\(entry.name)' was removed from git but is kept (prune is off)",
                    hint: "run with --prune (or set prune: true in beamsync.yaml) to delete it"))
            }
            return []
        }
        if desired.profiles.isEmpty && desired.projects.isEmpty {
            diagnostics.append(Diagnostic(code: .pruneGuard, location: nil, path: "",
                message: "the desired state is empty; pruning would delete every managed object (\(gone.count))",
                hint: "check the --dir/--path; an empty repository is almost always a mistake"))
            return []
        }
        var deletions: [ResourceChange] = []
        let referencing = Dictionary(grouping: live.executions.filter { $0.profileID != nil }, by: { $0.profileID! })
        for entry in gone {
            switch entry.kind {
            case .deploymentProfile:
                guard let row = index.profile(named: entry.name) else { continue }
                if options.protectedProfiles.contains(row.name) {
                    diagnostics.append(Diagnostic(.warning, code: .pruneGuard, location: nil, path: "DeploymentProfile/\(row.name)",
                        message: "profile '\(row.name)' is protected and is not deleted", hint: nil))
                    continue
                }
                if let runs = referencing[row.id] {
                    let unfinished = runs.filter { !$0.status.isTerminal }
                    let message = unfinished.isEmpty
                        ? "profile '\(row.name)' is kept: \(runs.count) finished execution(s) record it, and their history must stay intact"
                        : "profile '\(row.name)' is kept: \(unfinished.count) unfinished execution(s) use it (\(unfinished.map(\.name).sorted().joined(separator: ", ")))"
                    diagnostics.append(Diagnostic(.warning, code: .pruneGuard, location: nil, path: "DeploymentProfile/\(row.name)",
                        message: message,
                        hint: unfinished.isEmpty ? "beampipe's executions reference profiles without ON DELETE; remove it by hand if you must"
                            : "it is deleted by a later apply once they finish"))
                    continue
                }
                deletions.append(ResourceChange(kind: .deploymentProfile, name: row.name, action: .delete, reason: .pruned, liveID: row.id,
                                                liveRevision: row.revision, before: row.canonicalSpec, beforeSHA256: row.specSHA256))
            case .projectConfig:
                guard let row = index.project(id: entry.name) else { continue }
                deletions.append(ResourceChange(kind: .projectConfig, name: row.projectID, action: .delete, reason: .pruned, liveID: row.id,
                                                before: row.spec, beforeSHA256: row.storedSHA256))
            case .execution:
                continue
            }
        }
        if deletions.count > options.maxDeletions {
            diagnostics.append(Diagnostic(code: .pruneGuard, location: nil, path: "",
                message: "the plan would delete \(deletions.count) objects, more than max_deletions (\(options.maxDeletions))",
                hint: "raise max_deletions in beamsync.yaml for this change if the deletions are intended"))
            return []
        }
        return deletions
    }

    // MARK: Impact

    /// For every project, which profile an execution that names none resolves to, before and after.
    static func impact(desired: DesiredState, live: LiveState, changes: [ResourceChange]) -> [ProjectImpact] {
        struct Row { var name: String; var scope: ProfileScope; var isDefault: Bool }
        let before = live.profiles.map { Row(name: $0.name, scope: $0.scope, isDefault: $0.isDefault) }
        var afterByName: [String: Row] = [:]
        for r in before { afterByName[r.name] = r }
        for c in changes where c.kind == .deploymentProfile {
            switch c.action {
            case .delete: afterByName[c.name] = nil
            case .create, .update:
                let scope: ProfileScope = c.after?["project_module"]?.stringValue.map(ProfileScope.project) ?? .global
                afterByName[c.name] = Row(name: c.name, scope: scope, isDefault: c.after?["is_default"] == .bool(true))
            default: break
            }
        }
        // The default of each scope (the first name, should a broken database hold two).
        func defaults<S: Sequence>(_ rows: S) -> [ProfileScope: String] where S.Element == Row {
            var out: [ProfileScope: String] = [:]
            for r in rows where r.isDefault {
                if let existing = out[r.scope], existing < r.name { continue }
                out[r.scope] = r.name
            }
            return out
        }
        let defaultsBefore = defaults(before), defaultsAfter = defaults(afterByName.values)
        func resolve(_ defaults: [ProfileScope: String], _ project: String) -> String? {
            defaults[.project(project)] ?? defaults[.global]
        }
        var projects = Set<String>()
        for p in desired.projects { projects.insert(p.value.id) }
        for p in desired.profiles { if let m = p.value.projectModule { projects.insert(m) } }
        for e in desired.executions { projects.insert(e.value.projectModule) }
        for p in live.profiles { if let m = p.projectModule { projects.insert(m) } }
        for p in live.projects { projects.insert(p.projectID) }
        let changedProfiles = Set(changes.filter { $0.kind == .deploymentProfile && $0.action != .noOp }.map(\.name))
        return projects.sorted().map { project in
            var references = Set<String>()
            for p in desired.projects where p.value.id == project {
                if let n = p.value.automationProfileName, changedProfiles.contains(n) { references.insert(n) }
            }
            for e in desired.executions where e.value.projectModule == project {
                if case .name(let n) = e.value.profile, changedProfiles.contains(n) { references.insert(n) }
            }
            return ProjectImpact(project: project, defaultBefore: resolve(defaultsBefore, project), defaultAfter: resolve(defaultsAfter, project),
                                 changedReferences: references.sorted())
        }
    }
}

/// Field-level differences between two JSON objects, by dotted path.
public enum JSONDiff {
    public static func fields(before: JSONValue?, after: JSONValue?, prefix: String = "") -> [FieldChange] {
        switch (before, after) {
        case (.object(let b)?, .object(let a)?):
            var out: [FieldChange] = []
            for key in Set(b.keys).union(a.keys).sorted() {
                out += fields(before: b[key], after: a[key], prefix: prefix.isEmpty ? key : "\(prefix).\(key)")
            }
            return out
        case (.object(let b)?, nil):
            return b.keys.sorted().flatMap { fields(before: b[$0], after: nil, prefix: prefix.isEmpty ? $0 : "\(prefix).\($0)") }
        case (nil, .object(let a)?):
            return a.keys.sorted().flatMap { fields(before: nil, after: a[$0], prefix: prefix.isEmpty ? $0 : "\(prefix).\($0)") }
        default:
            return before == after ? [] : [FieldChange(path: prefix, before: before, after: after)]
        }
    }
}
