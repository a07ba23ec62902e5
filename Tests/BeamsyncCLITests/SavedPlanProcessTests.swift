import BeamsyncModel
import BeamsyncPostgres
import BeamsyncTestSupport
import Foundation
import Testing


/// A copy of examples/gitops-repo to edit.
func exampleRepositoryCopy() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-example-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("examples/gitops-repo"), to: dir)
    return dir
}

/// Everything an apply writes, as one comparable value.
func databaseContents(_ url: String) async throws -> [String] {
    let conn = try await PGConnection.connect(conninfo: url)
    defer { Task { await conn.close() } }
    var out: [String] = []
    for (table, columns) in [("daliuge_deployment_profile", "name, revision, spec_sha256, deployment::text, translation::text"),
                             ("project_configs", "project_id, version, active, spec_sha256"),
                             ("executions", "name, graph_sha256"), ("graph_blobs", "sha256, md5(content)"),
                             ("gitops_objects", "kind, name, spec_sha256"), ("audit_events", "action, object_name"),
                             ("beamsync_plan_serial", "serial")] {
        // plan creates no schema: before the first apply the tables do not exist, which is "nothing written" too.
        guard try await conn.query("SELECT to_regclass($1) IS NOT NULL AS e", [.text(table)]).single().bool("e") else {
            out.append("\(table): (no table)")
            continue
        }
        let rows = try await conn.query("SELECT coalesce(string_agg(t::text, '|' ORDER BY t::text), '') AS v FROM (SELECT \(columns) FROM \(table)) t")
        out.append("\(table): " + (try rows.single().string("v")))
    }
    return out
}

/// Sets (or with nil removes) the value at a path of keys and indices.
func replacing(_ value: JSONValue?, at path: [Any], in root: JSONValue) -> JSONValue {
    guard let first = path.first else { return value ?? .null }
    let rest = Array(path.dropFirst())
    switch (root, first) {
    case (.object(var o), let key as String):
        if rest.isEmpty && value == nil { o[key] = nil } else { o[key] = replacing(value, at: rest, in: o[key] ?? .null) }
        return .object(o)
    case (.array(var a), let i as Int):
        if rest.isEmpty && value == nil { a.remove(at: i) } else { a[i] = replacing(value, at: rest, in: a[i]) }
        return .array(a)
    default:
        return root
    }
}

@Suite("Saved plans as a process: a tampered plan exits 1 and writes nothing", .serialized,
       .requires(.postgres))
struct SavedPlanProcessTests {
    @Test("every edit of a saved plan (values, actions, names, executions, graph bytes, options, digest) is refused with nothing written")
    func tamperMatrix() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let dir = try exampleRepositoryCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        var r = try runBeamsync(["apply", "--dir", dir.path, "--auto-approve"], environment: env)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")

        // A plan with an update, a create, a trigger and a deletion.
        let dlg = dir.appendingPathComponent("profiles/dlg-dim.yaml")
        try (try String(contentsOf: dlg, encoding: .utf8)).replacingOccurrences(of: "num_par: 1", with: "num_par: 2")
            .write(to: dlg, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("profiles/slurm-remote.yaml"))
        try "name: extra\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: 8001}\n"
            .write(to: dir.appendingPathComponent("profiles/extra.yaml"), atomically: true, encoding: .utf8)
        try """
            apiVersion: beampipe.dev/v1
            kind: Execution
            metadata: {name: second-run}
            spec: {project_module: wallaby_hires, deployment_profile_name: dlg-dim, graph: {path: graphs/hello.graph}}

            """.write(to: dir.appendingPathComponent("executions/second.yaml"), atomically: true, encoding: .utf8)
        let planFile = dir.appendingPathComponent("plan.json").path
        r = try runBeamsync(["plan", "--dir", dir.path, "--prune", "--out", planFile], environment: env)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let plan = try JSONValue.parse(try String(contentsOfFile: planFile, encoding: .utf8))
        let changes = try #require(plan["changes"]?.arrayValue)
        func at(_ name: String) throws -> Int { try #require(changes.firstIndex { $0["name"]?.stringValue == name }) }
        let (update, create, trigger) = (try at("dlg-dim"), try at("extra"), try at("second-run"))
        let delete = try #require(changes.firstIndex { $0["action"]?.stringValue == "delete" })
        #expect(changes[update]["action"] == .string("update") && changes[trigger]["action"] == .string("trigger"))
        let before = try await databaseContents(db.url)

        func rehashed(_ change: JSONValue) -> JSONValue {
            replacing(.string(SHA256Digest.hex(change["after"]!.canonicalBytes)), at: ["after_sha256"], in: change)
        }
        let otherGraph = Array("{\"nodeDataArray\": [], \"linkDataArray\": []}".utf8)
        let cases: [(String, String, (JSONValue) -> JSONValue)] = [
            ("num_par 99", "changes[\(update)].after_sha256", { replacing(.int(99), at: ["changes", update, "after", "translation", "num_par"], in: $0) }),
            ("num_par \"abc\"", "changes[\(update)].after.translation.num_par",
             { replacing(.string("abc"), at: ["changes", update, "after", "translation", "num_par"], in: $0) }),
            ("deploy_host evil.example", "changes[\(create)].after_sha256",
             { replacing(.string("evil.example"), at: ["changes", create, "after", "deployment", "deploy_host"], in: $0) }),
            ("a password key", "changes[\(create)].after.deployment.password",
             { replacing(.string("hunter2"), at: ["changes", create, "after", "deployment", "password"], in: $0) }),
            ("an unknown key", "changes[\(create)].after.colour", { replacing(.string("blue"), at: ["changes", create, "after", "colour"], in: $0) }),
            ("value and hash edited together", "desired_digest", { doc in
                let edited = replacing(.string("evil.example"), at: ["after", "deployment", "deploy_host"], in: doc["changes"]!.arrayValue![create])
                return replacing(rehashed(edited), at: ["changes", create], in: doc)
            }),
            ("an update turned into a delete", "changes[\(update)].after", { doc in
                replacing(.string("pruned"), at: ["changes", update, "reason"], in: replacing(.string("delete"), at: ["changes", update, "action"], in: doc))
            }),
            ("an injected create", "desired_digest", { doc in
                var extra = doc["changes"]!.arrayValue![create]
                extra = replacing(.string("injected"), at: ["name"], in: replacing(.string("injected"), at: ["after", "name"], in: extra))
                return replacing(.array(doc["changes"]!.arrayValue! + [rehashed(extra)]), at: ["changes"], in: doc)
            }),
            ("a renamed object", "changes[\(create)].name", { replacing(.string("extra-2"), at: ["changes", create, "name"], in: $0) }),
            ("a deletion dropped", "desired_digest", { replacing(nil, at: ["changes", delete], in: $0) }),
            ("graph bytes replaced", "changes[\(trigger)].graph_content_base64",
             { replacing(.string(Data(otherGraph).base64EncodedString()), at: ["changes", trigger, "graph_content_base64"], in: $0) }),
            ("graph bytes and hash replaced", "desired_digest", { doc in
                replacing(.string(SHA256Digest.hex(otherGraph)), at: ["changes", trigger, "graph_sha256"],
                          in: replacing(.string(Data(otherGraph).base64EncodedString()), at: ["changes", trigger, "graph_content_base64"], in: doc))
            }),
            ("the execution's profile changed", "changes[\(trigger)].after_sha256",
             { replacing(.string("local-dim"), at: ["changes", trigger, "after", "spec", "deployment_profile_name"], in: $0) }),
            ("an update pointed at another row", "changes[\(update)].live_id",
             { replacing(changes[delete]["live_id"], at: ["changes", update, "live_id"], in: $0) }),
            ("prune switched off", "options.prune", { replacing(.bool(false), at: ["options", "prune"], in: $0) }),
            ("the digest removed", "desired_digest", { replacing(nil, at: ["desired_digest"], in: $0) }),
            ("an unknown action", "changes[\(update)].action", { replacing(.string("replace"), at: ["changes", update, "action"], in: $0) }),
        ]
        let tampered = dir.appendingPathComponent("tampered.json").path
        for (name, path, edit) in cases {
            try edit(plan).canonicalStringPretty.write(toFile: tampered, atomically: true, encoding: .utf8)
            let result = try runBeamsync(["apply", "--plan", tampered, "--auto-approve"], environment: env)
            #expect(result.status == 1, "\(name): \(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("refused at \(path):"), "\(name): \(result.stderr)")
            #expect(try await databaseContents(db.url) == before, "\(name): nothing is written")
        }

        r = try runBeamsync(["apply", "--plan", planFile, "--auto-approve"], environment: env)
        #expect(r.status == 0 && r.stdout.contains("1 created, 1 changed, 1 deleted, 1 execution triggered"), "\(r.stdout)\(r.stderr)")
        r = try runBeamsync(["plan", "--dir", dir.path, "--prune", "--detailed-exitcode"], environment: env)
        #expect(r.status == 0, "the untouched plan applied exactly the desired state: \(r.stdout)")
        try? await db.drop()
    }

    @Test("with a plan key, only plans signed with it are applied: unsigned, re-signed elsewhere and edited plans exit 1")
    func signedPlans() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let dir = try exampleRepositoryCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = String(repeating: "a1", count: 20)
        let keyFile = dir.appendingPathComponent("plan.key").path
        try (key + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        let withKey = env.merging(["BEAMSYNC_PLAN_KEY": key]) { $1 }
        let signed = dir.appendingPathComponent("signed.json").path, unsigned = dir.appendingPathComponent("unsigned.json").path
        var r = try runBeamsync(["plan", "--dir", dir.path, "--out", signed, "--plan-key-file", keyFile], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        r = try runBeamsync(["plan", "--dir", dir.path, "--out", unsigned], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: signed, encoding: .utf8)
        #expect(text.contains("\"signature\"") && !text.contains(key), "the plan carries the MAC, never the key")
        let before = try await databaseContents(db.url)

        let edited = dir.appendingPathComponent("edited.json").path
        try text.replacingOccurrences(of: "dlg-tm:8084", with: "evil.example:8084").write(toFile: edited, atomically: true, encoding: .utf8)
        let otherKey = env.merging(["BEAMSYNC_PLAN_KEY": String(repeating: "b2", count: 20)]) { $1 }
        for (name, file, environment, path) in [("unsigned with a key", unsigned, withKey, "signature"),
                                                 ("signed without a key", signed, env, "signature"),
                                                 ("another key", signed, otherKey, "signature.key_id"),
                                                 ("edited after signing", edited, withKey, "signature.value")] {
            let result = try runBeamsync(["apply", "--plan", file, "--auto-approve"], environment: environment)
            #expect(result.status == 1 && result.stderr.contains("refused at \(path):"), "\(name): \(result.stderr)")
            #expect(!result.stderr.contains(key))
            #expect(try await databaseContents(db.url) == before, "\(name): nothing is written")
        }
        r = try runBeamsync(["apply", "--plan", signed, "--auto-approve", "--plan-key-file", keyFile], environment: env)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        try? await db.drop()
    }
}
