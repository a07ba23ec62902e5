import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import Foundation
import Testing

/// The example repository, copied so a test can edit it.
struct ExampleRepository {
    let root: URL

    init() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/gitops-repo")
        root = FileManager.default.temporaryDirectory.appendingPathComponent("plancheck-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: root)
    }

    func write(_ path: String, _ text: String) throws {
        try text.write(to: root.appendingPathComponent(path), atomically: true, encoding: .utf8)
    }

    func remove(_ path: String) throws { try FileManager.default.removeItem(at: root.appendingPathComponent(path)) }

    func state() throws -> DesiredState {
        try #require(ParsedSource(DirectoryTree.snapshot(of: root.path)).check(externalProfiles: []).state)
    }

    func plan(against live: LiveState, overrides: PolicyOverrides = .init()) throws -> Plan {
        try Reconciliation.plan(ParsedSource(DirectoryTree.snapshot(of: root.path)), against: live, overrides: overrides)
    }

    func delete() { try? FileManager.default.removeItem(at: root) }
}

/// Edits a plan as its JSON, the way anyone holding the file could.
func edited(_ plan: Plan, _ edit: (inout [String: JSONValue]) throws -> Void) throws -> Plan {
    var document = try #require(try JSONValue.parse(SavedPlanFile.encode(plan)).objectValue)
    try edit(&document)
    return try JSONDecoder().decode(Plan.self, from: Data(JSONValue.object(document).canonicalBytes))
}

/// Sets `value` at a path of keys and array indices inside a JSON value.
func setting(_ value: JSONValue?, at path: [Any], in root: JSONValue) -> JSONValue {
    guard let first = path.first else { return value ?? .null }
    let rest = Array(path.dropFirst())
    switch (root, first) {
    case (.object(var o), let key as String):
        if rest.isEmpty && value == nil { o[key] = nil } else { o[key] = setting(value, at: rest, in: o[key] ?? .null) }
        return .object(o)
    case (.array(var a), let i as Int):
        if rest.isEmpty && value == nil { a.remove(at: i) } else { a[i] = setting(value, at: rest, in: a[i]) }
        return .array(a)
    default:
        return root
    }
}

func index(of name: String, in plan: Plan) throws -> Int {
    try #require(plan.changes.firstIndex { $0.name == name })
}

@Suite("Saved plans are checked again before they are applied")
struct SavedPlanCheckTests {
    /// The example repository planned against an empty database: creates and a trigger.
    func createPlan() throws -> (ExampleRepository, Plan) {
        let repo = try ExampleRepository()
        return (repo, try repo.plan(against: LiveState()))
    }

    func expectRefused(_ plan: Plan, at path: String, _ note: Comment, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        do {
            try SavedPlanCheck.check(plan)
            Issue.record("the edited plan was accepted: \(note)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.path == path, "\(note): \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("an untouched plan passes, and records the desired-state digest and source revision")
    func untouched() throws {
        let (repo, plan) = try createPlan()
        defer { repo.delete() }
        #expect(plan.desiredDigest?.count == 64)
        #expect(plan.changes.contains { $0.action == .trigger } && plan.changes.contains { $0.kind == .projectConfig })
        try SavedPlanCheck.check(plan)
        try SavedPlanCheck.check(plan, against: LiveState())
        // A round trip through the file changes nothing.
        try SavedPlanCheck.check(try edited(plan) { _ in })
    }

    @Test("edited values are refused by the file rules or by the recomputed hash, naming the field")
    func editedValues() throws {
        let (repo, plan) = try createPlan()
        defer { repo.delete() }
        let i = try index(of: "dlg-dim", in: plan)
        func edit(_ path: [Any], _ value: JSONValue?) throws -> Plan {
            try edited(plan) { doc in doc = setting(value, at: ["changes", i] + path, in: .object(doc)).objectValue! }
        }
        // A valid value that is simply different: the hash no longer matches.
        expectRefused(try edit(["after", "translation", "num_par"], .int(99)), at: "changes[\(i)].after_sha256", "num_par 99")
        expectRefused(try edit(["after", "deployment", "deploy_host"], .string("evil.example")), at: "changes[\(i)].after_sha256", "deploy_host")
        // Values the file rules refuse, named by their field.
        expectRefused(try edit(["after", "translation", "num_par"], .string("abc")), at: "changes[\(i)].after.translation.num_par", "a string")
        expectRefused(try edit(["after", "deployment", "password"], .string("hunter2")), at: "changes[\(i)].after.deployment.password",
                      "a secret-named key")
        expectRefused(try edit(["after", "colour"], .string("blue")), at: "changes[\(i)].after.colour", "an unknown key")
        // Changing the hash along with the value: the digest of the plan no longer adds up.
        var consistent = try edit(["after", "deployment", "deploy_host"], .string("evil.example"))
        consistent.changes[i].afterSHA256 = SHA256Digest.hex(consistent.changes[i].after!.canonicalBytes)
        expectRefused(consistent, at: "desired_digest", "value and hash edited together")
    }

    @Test("actions, names and injected objects are refused")
    func editedStructure() throws {
        let (repo, plan) = try createPlan()
        defer { repo.delete() }
        let i = try index(of: "dlg-dim", in: plan)
        var deleted = plan
        deleted.changes[i].action = .delete
        deleted.changes[i].reason = .pruned
        expectRefused(deleted, at: "changes[\(i)].before", "a create turned into a delete")
        var renamed = plan
        renamed.changes[i].name = "dlg-dim-2"
        expectRefused(renamed, at: "changes[\(i)].name", "a renamed object")
        var renamedDocument = plan
        renamedDocument.changes[i].name = "dlg-dim-2"
        renamedDocument.changes[i].after = setting(.string("dlg-dim-2"), at: ["name"], in: plan.changes[i].after!)
        renamedDocument.changes[i].afterSHA256 = SHA256Digest.hex(renamedDocument.changes[i].after!.canonicalBytes)
        expectRefused(renamedDocument, at: "desired_digest", "an object renamed with its document and hash")
        var injected = plan
        var extra = plan.changes[i]
        extra.name = "injected"
        extra.defaultTransition = nil
        extra.after = setting(.bool(false), at: ["is_default"], in: setting(.string("injected"), at: ["name"], in: extra.after!))
        extra.afterSHA256 = SHA256Digest.hex(extra.after!.canonicalBytes)
        injected.changes.append(extra)
        expectRefused(injected, at: "desired_digest", "an injected create")
        var twice = plan
        twice.changes.append(plan.changes[i])
        expectRefused(twice, at: "changes[\(plan.changes.count)]", "the same object twice")
        var promoted = plan
        promoted.changes[i].defaultTransition = nil
        expectRefused(promoted, at: "changes[\(i)].default_transition", "a default move dropped")
        var options = plan
        options.options.prune = true
        expectRefused(options, at: "desired_digest", "an option switched on")
        var noDigest = plan
        noDigest.desiredDigest = nil
        expectRefused(noDigest, at: "desired_digest", "the digest removed")
    }

    @Test("an execution's document and graph bytes are checked: replaced bytes never go in under the original hash")
    func executionAndGraph() throws {
        let (repo, plan) = try createPlan()
        defer { repo.delete() }
        let i = try index(of: "hello-2026-11-25", in: plan)
        #expect(plan.changes[i].graphContent != nil)
        var bytes = plan
        bytes.changes[i].graphContent = Data("{\"other\": true}".utf8).base64EncodedString()
        expectRefused(bytes, at: "changes[\(i)].graph_content_base64", "graph bytes replaced")
        var both = bytes
        both.changes[i].graphSHA256 = SHA256Digest.hex(Array("{\"other\": true}".utf8))
        expectRefused(both, at: "desired_digest", "graph bytes and hash replaced together")
        var profile = plan
        profile.changes[i].after = setting(.string("local-dim-other"), at: ["spec", "deployment_profile_name"], in: plan.changes[i].after!)
        expectRefused(profile, at: "changes[\(i)].after_sha256", "the execution's profile changed")
        var action = plan
        action.changes[i].action = .create
        expectRefused(action, at: "changes[\(i)].action", "an execution created instead of triggered")
    }

    @Test("updates and deletions must name the live rows as they are, and deletions need prune and a managed object")
    func againstLive() throws {
        let repo = try ExampleRepository()
        defer { repo.delete() }
        let live = LiveState(simulating: try repo.state())
        try repo.write("profiles/dlg-dim.yaml", try String(contentsOf: repo.root.appendingPathComponent("profiles/dlg-dim.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "num_par: 1", with: "num_par: 2"))
        try repo.remove("profiles/slurm-remote.yaml")
        let plan = try repo.plan(against: live, overrides: PolicyOverrides(prune: true))
        let u = try index(of: "dlg-dim", in: plan)
        let d = try #require(plan.changes.firstIndex { $0.action == .delete })
        #expect(plan.changes[u].action == .update)
        try SavedPlanCheck.check(plan)
        try SavedPlanCheck.check(plan, against: live)

        var fields = plan
        fields.changes[u].fieldChanges = []
        expectRefused(fields, at: "changes[\(u)].field_changes", "the field list emptied")
        func refusedLive(_ p: Plan, at path: String, _ note: Comment) {
            #expect(throws: SavedPlanRejected.self, "\(note)") { try SavedPlanCheck.check(p, against: live) }
            do { try SavedPlanCheck.check(p, against: live) } catch { #expect(error.path == path, "\(note): \(error)") }
        }
        var otherRow = plan
        otherRow.changes[u].liveID = plan.changes[d].liveID
        refusedLive(otherRow, at: "changes[\(u)].live_id", "an update pointed at another row")
        var before = plan
        before.changes[u].before = setting(.int(7), at: ["translation", "num_par"], in: plan.changes[u].before!)
        refusedLive(before, at: "changes[\(u)].before", "the before side edited")
        var unmanaged = live
        unmanaged.inventory.removeAll { $0.kind == .deploymentProfile && $0.name == plan.changes[d].name }
        #expect(throws: SavedPlanRejected.self) { try SavedPlanCheck.check(plan, against: unmanaged) }

        var noPrune = plan
        noPrune.options.prune = false
        expectRefused(noPrune, at: "options.prune", "a deletion with prune off")
    }

    @Test("signed plans: the right key passes; unsigned, edited, other-key and unexpected signatures are refused")
    func signatures() throws {
        let (repo, plan) = try createPlan()
        defer { repo.delete() }
        let key = PlanSigningKey(secret: Array("0123456789abcdef0123456789abcdef-key-one".utf8))
        let other = PlanSigningKey(secret: Array("0123456789abcdef0123456789abcdef-key-two".utf8))
        let file = repo.root.appendingPathComponent("plan.json").path
        func refusal(_ key: PlanSigningKey?) -> SavedPlanRejected? {
            do { _ = try SavedPlanFile.read(file, key: key); return nil } catch { return error as? SavedPlanRejected }
        }
        try SavedPlanFile.write(plan, to: file, key: key)
        let read = try SavedPlanFile.read(file, key: key)
        #expect(read.signature?.keyID == key.keyID)
        try SavedPlanCheck.check(read)
        #expect(refusal(other)?.path == "signature.key_id")
        #expect(refusal(nil)?.path == "signature", "a signed plan without a key to check it")

        // One character of the file changed: the MAC no longer matches.
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "dlg-dim", with: "dlg-dix").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(refusal(key)?.path == "signature.value")

        try SavedPlanFile.write(plan, to: file, key: nil)
        #expect(refusal(key)?.path == "signature", "an unsigned plan while a key is configured")
        #expect(refusal(nil) == nil)
        #expect(!(try String(contentsOfFile: file, encoding: .utf8)).contains("0123456789abcdef"), "the key never enters the plan")
    }

    @Test("plan keys: at least 32 bytes, from the file or the variable, and never echoed")
    func keys() throws {
        #expect(try PlanSigningKey.load(file: nil, environment: [:]) == nil)
        let short = #expect(throws: CredentialFileRefused.self) {
            try PlanSigningKey.load(file: nil, environment: [PlanSigningKey.environmentVariable: "tooshort-secret"])
        }
        #expect(short?.message.contains("tooshort-secret") == false)
        let a = try #require(try PlanSigningKey.load(file: nil, environment: [PlanSigningKey.environmentVariable: String(repeating: "k", count: 40)]))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("plan.key").path
        try (String(repeating: "k", count: 40) + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let b = try #require(try PlanSigningKey.load(file: file, environment: [:]))
        #expect(a.keyID == b.keyID, "surrounding whitespace is ignored")
    }
}
