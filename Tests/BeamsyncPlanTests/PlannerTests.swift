import BeamsyncModel
import BeamsyncPlan
import Testing

func desired(_ files: [String: String]) throws -> DesiredState {
    let r = DesiredStateLoader.load(files: files.sorted { $0.key < $1.key }.map { SourceFile(path: $0.key, bytes: Array($0.value.utf8)) })
    return try #require(r.state, "\(r.diagnostics)")
}

func profile(_ name: String, project: String? = nil, isDefault: Bool = false, port: Int = 8001) -> String {
    """
    name: \(name)
    \(project.map { "project_module: \($0)" } ?? "")
    is_default: \(isDefault)
    translation: {}
    deployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: \(port)}

    """
}

/// The live row beamsync would have written for a document, plus its inventory entry.
func applied(_ state: DesiredState, serial: Int64 = 1) -> LiveState {
    var live = LiveState(serial: serial)
    for (i, p) in state.profiles.enumerated() {
        let v = p.value
        live.profiles.append(LiveProfile(id: "00000000-0000-0000-0000-\(String(format: "%012d", i))", name: v.name, description: v.description,
                                         projectModule: v.projectModule, isDefault: v.isDefault, maxConcurrentExecutions: v.maxConcurrentExecutions,
                                         translation: v.translation.json, deployment: v.deployment.json, storedSHA256: v.specSHA256))
        live.inventory.append(InventoryEntry(kind: .deploymentProfile, name: v.name, specSHA256: v.specSHA256))
    }
    return live
}

@Suite("The planner")
struct PlannerTests {
    @Test("a new profile is created; applying it again plans nothing")
    func createThenNoOp() throws {
        let state = try desired(["profiles/a.yaml": profile("a")])
        let first = Planner().plan(desired: state, live: LiveState(), source: "test")
        #expect(first.summary.create == 1 && first.summary.hasChanges)
        let second = Planner().plan(desired: state, live: applied(state), source: "test")
        #expect(!second.summary.hasChanges && second.summary.unchanged == 1)
    }

    @Test("a row still at the version beamsync wrote takes its hash from the inventory; any other version is hashed")
    func rowVersionDecidesWhoseHashCounts() throws {
        let document = try desired(["profiles/a.yaml": profile("a", port: 8001)])
        // The live row says 9001, but its version is the one recorded when beamsync wrote the
        // document: the database guarantees such a row is unchanged, so the recorded hash stands.
        var live = applied(try desired(["profiles/a.yaml": profile("a", port: 9001)]))
        live.profiles[0].rowVersion = "1234"
        live.inventory[0].specSHA256 = document.profiles[0].value.specSHA256
        live.inventory[0].rowVersion = "1234"
        #expect(!Planner().plan(desired: document, live: live, source: "test").summary.hasChanges)
        // A different version (someone wrote the row) means the row itself is hashed: now the
        // port difference shows, as drift against the recorded document.
        live.profiles[0].rowVersion = "1240"
        let plan = Planner().plan(desired: document, live: live, source: "test")
        #expect(plan.diagnostics.contains { $0.code == .drift && $0.message.contains("deploy_port") })
        // No recorded version (older inventories, adopted rows): hashed as well.
        live.profiles[0].rowVersion = "1234"
        live.inventory[0].rowVersion = nil
        #expect(Planner().plan(desired: document, live: live, source: "test").diagnostics.contains { $0.code == .drift })
    }

    @Test("changing one field is an update with a field-level diff")
    func updateOneField() throws {
        let old = try desired(["profiles/a.yaml": profile("a", port: 8001)])
        let new = try desired(["profiles/a.yaml": profile("a", port: 9001)])
        let plan = Planner().plan(desired: new, live: applied(old), source: "test")
        let change = try #require(plan.effectiveChanges.first)
        #expect(change.action == .update)
        #expect(change.fieldChanges == [FieldChange(path: "deployment.deploy_port", before: .int(8001), after: .int(9001))])
    }

    @Test("moving the default inside a scope demotes before it promotes, whatever the file order")
    func moveDefault() throws {
        for (first, second) in [("a", "b"), ("b", "a")] {
            let old = try desired(["profiles/\(first).yaml": profile("a", project: "w", isDefault: true), "profiles/\(second).yaml": profile("b", project: "w")])
            let new = try desired(["profiles/\(first).yaml": profile("a", project: "w"), "profiles/\(second).yaml": profile("b", project: "w", isDefault: true)])
            let plan = Planner().plan(desired: new, live: applied(old), source: "test")
            #expect(plan.effectiveChanges.map(\.name) == ["a", "b"])
            #expect(plan.effectiveChanges.map(\.defaultTransition) == [.demote, .promote])
            let impact = try #require(plan.impact.first { $0.project == "w" })
            #expect(impact.defaultBefore == "a" && impact.defaultAfter == "b")
        }
    }

    @Test("an unmanaged row of the same name is refused unless adopted")
    func adoption() throws {
        let state = try desired(["profiles/a.yaml": profile("a")])
        var live = applied(state)
        live.inventory = []
        let refused = Planner().plan(desired: state, live: live, source: "test")
        #expect(refused.diagnostics.errors.contains { $0.code == .unmanagedConflict })
        let adopted = Planner(options: PlanOptions(adopt: true)).plan(desired: state, live: live, source: "test")
        #expect(!adopted.hasErrors && adopted.effectiveChanges.first?.reason == .adopted)
    }

    @Test("a git default that collides with an unmanaged database default is an error")
    func defaultConflict() throws {
        let other = try desired(["profiles/x.yaml": profile("x", isDefault: true)])
        var live = applied(other)
        live.inventory = []
        let state = try desired(["profiles/a.yaml": profile("a", isDefault: true)])
        let plan = Planner().plan(desired: state, live: live, source: "test")
        #expect(plan.diagnostics.errors.contains { $0.code == .defaultConflict && $0.message.contains("'x'") })
    }

    @Test("prune is off by default; on, it deletes; never a profile an unfinished execution pins")
    func prune() throws {
        let old = try desired(["profiles/a.yaml": profile("a"), "profiles/b.yaml": profile("b")])
        let new = try desired(["profiles/a.yaml": profile("a")])
        var live = applied(old)
        let kept = Planner().plan(desired: new, live: live, source: "test")
        #expect(kept.summary.delete == 0 && kept.diagnostics.warnings.contains { $0.code == .notPruned })
        let pruned = Planner(options: PlanOptions(prune: true)).plan(desired: new, live: live, source: "test")
        #expect(pruned.effectiveChanges.map(\.action) == [.delete] && pruned.changes.last?.name == "b")
        live.executions = [LiveExecution(name: "run", projectModule: "w", profileID: live.profiles[1].id, status: .running)]
        let pinned = Planner(options: PlanOptions(prune: true)).plan(desired: new, live: live, source: "test")
        #expect(pinned.summary.delete == 0 && pinned.diagnostics.warnings.contains { $0.message.contains("unfinished execution") })
    }

    @Test("prune refuses an empty desired state and deletions above the threshold")
    func pruneGuards() throws {
        let old = try desired(["profiles/a.yaml": profile("a"), "profiles/b.yaml": profile("b"), "profiles/c.yaml": profile("c")])
        let empty = Planner(options: PlanOptions(prune: true)).plan(desired: DesiredState(), live: applied(old), source: "test")
        #expect(empty.diagnostics.errors.contains { $0.message.contains("desired state is empty") })
        let one = try desired(["profiles/a.yaml": profile("a")])
        let many = Planner(options: PlanOptions(prune: true, maxDeletions: 1)).plan(desired: one, live: applied(old), source: "test")
        #expect(many.diagnostics.errors.contains { $0.message.contains("more than max_deletions (1)") })
    }

    @Test("drift is reported by default and reverted with heal")
    func drift() throws {
        let state = try desired(["profiles/a.yaml": profile("a", port: 8001)])
        var live = applied(state)
        live.profiles[0].deployment = .object(live.profiles[0].deployment.objectValue!.merging(["deploy_port": .int(7000)]) { $1 })
        let reported = Planner().plan(desired: state, live: live, source: "test")
        #expect(!reported.summary.hasChanges)
        #expect(reported.diagnostics.warnings.contains { $0.code == .drift && $0.message.contains("deployment.deploy_port") })
        let healed = Planner(options: PlanOptions(heal: true)).plan(desired: state, live: live, source: "test")
        let change = try #require(healed.effectiveChanges.first)
        #expect(change.reason == .driftHealed && change.fieldChanges.first?.after == .int(8001))
    }

    @Test("each drifted object is marked with the fields changed outside git; healed drift does not remain")
    func driftPerObject() throws {
        let state = try desired(["profiles/a.yaml": profile("a", port: 8001), "profiles/b.yaml": profile("b")])
        var live = applied(state)
        live.profiles[0].deployment = .object(live.profiles[0].deployment.objectValue!.merging(["deploy_port": .int(7000)]) { $1 })
        let reported = Planner().plan(desired: state, live: live, source: "test")
        #expect(reported.summary.drifted == 1 && reported.summary.hasChangesOrDrift && !reported.summary.hasChanges)
        #expect(reported.remainingDrift.map(\.name) == ["a"])
        #expect(reported.remainingDrift.first?.driftedFields == ["deployment.deploy_port"])
        #expect(reported.changes.first { $0.name == "b" }?.driftedFields == nil)
        let healed = Planner(options: PlanOptions(heal: true)).plan(desired: state, live: live, source: "test")
        #expect(healed.summary.drifted == 1, "drift found and healed is still reported as found")
        #expect(healed.remainingDrift.isEmpty, "a healed object does not stay drifted")
        let clean = Planner().plan(desired: state, live: applied(state), source: "test")
        #expect(clean.summary.drifted == 0 && !clean.summary.hasChangesOrDrift)
    }

    @Test("whitespace and key order do not change the plan")
    func formattingIsNoOp() throws {
        let state = try desired(["profiles/a.yaml": profile("a")])
        let reformatted = try desired(["profiles/a.yaml": """
            deployment:   {deploy_port: 8001,   deploy_host: dim.example.org, kind: rest_remote}
            translation:
                {}
            is_default:    false
            name:   a
            """])
        #expect(!Planner().plan(desired: reformatted, live: applied(state), source: "t").summary.hasChanges)
    }

    @Test("the text rendering reads like Terraform's")
    func textRendering() throws {
        let old = try desired(["profiles/a.yaml": profile("a", project: "w", isDefault: true), "profiles/b.yaml": profile("b", project: "w")])
        let new = try desired(["profiles/a.yaml": profile("a", project: "w"), "profiles/b.yaml": profile("b", project: "w", isDefault: true),
                               "profiles/c.yaml": profile("c")])
        let text = TextRenderer().render(Planner().plan(desired: new, live: applied(old), source: "repo"))
        #expect(text.contains("~ DeploymentProfile \"a\" (stops being the default)"))
        #expect(text.contains("~ is_default: true → false"))
        #expect(text.contains("+ DeploymentProfile \"c\""))
        #expect(text.contains("project w: default profile a → b"))
        #expect(text.hasSuffix("Plan: 1 to create, 2 to change, 0 to delete, 0 executions to trigger.\n"))
    }
}
