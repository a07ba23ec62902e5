import BeamsyncModel
import BeamsyncTestSupport
import Foundation
import Testing

/// The real TM and DIM of scripts/dlg.sh, and profile documents pointing at them (or not).
private struct Stack {
    let tm: String
    let host: String
    let port: Int

    init() throws {
        let dlg = try TestServices.requireDALiuGE()
        tm = dlg.tmURL
        host = dlg.dimHost
        port = dlg.dimPort
    }

    func rest(_ name: String, tm: String? = nil, dimHostForTM: String? = nil, deployPort: Int? = nil) -> String {
        """
        name: \(name)
        translation: {num_par: 1, num_islands: 0, tm_url: "\(tm ?? self.tm)"}
        deployment: {kind: rest_remote, dim_host_for_tm: "\(dimHostForTM ?? host)", dim_port_for_tm: \(port), deploy_host: "\(host)", deploy_port: \(deployPort ?? port)}

        """
    }

    static let slurm = """
        name: hpc
        translation: {}
        deployment: {kind: slurm_remote, login_node: login.example.org, account: acct, home_dir: /h, log_dir: /h/l, dlg_root: /h/d}

        """
}

@Suite("dim ping and plan --check-targets as processes, against DALiuGE 6.6.0 and PostgreSQL", .requires(.postgres, .daliuge), .serialized)
struct TargetCheckProcessTests {
    @Test("dim ping passes against the real TM and DIM: every step in text with its time, and as JSON")
    func pingPasses() async throws {
        let stack = try Stack()
        let dir = try temporaryRepository(["profiles/dim.yaml": stack.rest("dim")])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runBeamsync(["dim", "ping", "--profile", "dim", "--dir", dir.path], environment: ["NO_COLOR": "1"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "dim ping dim → http://\(stack.host):\(stack.port)")
        for step in ["profile", "tm", "dim", "tm_to_dim", "tm_map"] {
            #expect(lines.contains { $0.hasPrefix("  ✓ \(step) ") }, "\(r.stdout)")
        }
        #expect(r.stdout.contains("DALiuGE 6.6.0 (DALiuGE LG Web Interface)"))
        #expect(lines.last?.hasPrefix("✓ passed: 5 steps in ") == true)

        let j = try runBeamsync(["dim", "ping", "--profile", "dim", "--dir", dir.path, "--format", "json"])
        #expect(j.status == 0)
        let json = try JSONValue.parse(j.stdout)
        #expect(json["passed"] == .bool(true) && json["profile"] == .string("dim") && json["kind"] == .string("dim"))
        #expect(json["steps"]?.arrayValue?.map { $0["outcome"]?.stringValue } == Array(repeating: "passed", count: 5))
    }

    @Test("dim ping fails at each step with exit 1: TM down, DIM down, DIM unreachable from the TM")
    func pingFails() async throws {
        let stack = try Stack()
        let closed = try closedPort()
        let dir = try temporaryRepository([
            "profiles/tm-down.yaml": stack.rest("tm-down", tm: "http://127.0.0.1:\(closed)"),
            "profiles/dim-down.yaml": stack.rest("dim-down", deployPort: closed),
            "profiles/unreachable.yaml": stack.rest("unreachable", dimHostForTM: "dim-host.invalid"),
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        for (profile, step, hint) in [
            ("tm-down", "tm", "check: check translation.tm_url and that `dlg tm` runs there"),
            ("dim-down", "dim", "check: check deployment.deploy_host, deploy_port and use_https"),
            ("unreachable", "tm_to_dim", "check: dim_host_for_tm and dim_port_for_tm must be the DIM's address as the Translator Manager's machine"),
        ] {
            let r = try runBeamsync(["dim", "ping", "--profile", profile, "--dir", dir.path], environment: ["NO_COLOR": "1"])
            #expect(r.status == 1, "\(profile): \(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("  ✗ \(step) "), "\(r.stdout)")
            #expect(r.stdout.contains(hint), "\(r.stdout)")
            #expect(r.stdout.contains("✗ failed at step \(step) after "), "\(r.stdout)")
        }
    }

    @Test("dim ping finds a profile in the database when the repository has none, and names what it looked for otherwise")
    func pingFromDatabase() async throws {
        let stack = try Stack()
        try await TestDatabase.withFreshDatabase { db in
            let applied = try temporaryRepository(["profiles/dim.yaml": stack.rest("stored")])
            let empty = try temporaryRepository(["README.md": "no profiles here\n"])
            defer {
                try? FileManager.default.removeItem(at: applied)
                try? FileManager.default.removeItem(at: empty)
            }
            let environment = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
            #expect(try runBeamsync(["apply", "--dir", applied.path, "--auto-approve"], environment: environment).status == 0)
            let r = try runBeamsync(["dim", "ping", "--profile", "stored"], environment: environment)
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            let notInDirectory = try runBeamsync(["dim", "ping", "--profile", "stored", "--dir", empty.path], environment: environment)
            #expect(notInDirectory.status == 1 && notInDirectory.stderr.contains("no deployment profile named 'stored' in \(empty.path)/profiles"),
                    "--dir reads only the repository: \(notInDirectory.stderr)")
            let missing = try runBeamsync(["dim", "ping", "--profile", "nope"], environment: environment)
            #expect(missing.status == 1, "\(missing.stderr)")
            #expect(missing.stderr.contains("no deployment profile named 'nope' in the database"))
        }
    }

    @Test("plan --check-targets with a working and a down target: text, JSON and Markdown show the checks; a failure warns")
    func planChecks() async throws {
        let stack = try Stack()
        try await TestDatabase.withFreshDatabase { db in
            let dir = try temporaryRepository([
                "profiles/good.yaml": stack.rest("good"),
                "profiles/bad.yaml": stack.rest("bad", tm: "http://127.0.0.1:\(try closedPort())"),
                "profiles/hpc.yaml": Stack.slurm,
            ])
            defer { try? FileManager.default.removeItem(at: dir) }
            // The Slurm profile is checked by slurm ping, which stops at its first step: no usable key.
            let environment = ["DATABASE_URL": db.url, "NO_COLOR": "1", "SLURM_SSH_PRIVATE_KEY_FILE": "/nonexistent/beamsync-test-key",
                               "BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK": "false"]
            let dimURL = "http://\(stack.host):\(stack.port)"

            let text = try runBeamsync(["plan", "--dir", dir.path, "--check-targets", "--detailed-exitcode"], environment: environment)
            #expect(text.status == 2, "a failed check does not make the plan fail: \(text.stdout)\(text.stderr)")
            #expect(text.stdout.contains("Target checks:\n"))
            #expect(text.stdout.contains("  ✗ profile \"bad\" (dim \(dimURL)): failed at tm after "))
            #expect(text.stdout.contains("      check: check translation.tm_url and that `dlg tm` runs there and is reachable from this machine\n"))
            #expect(text.stdout.contains("  ✓ profile \"good\" (dim \(dimURL)): 5 steps passed in "))
            #expect(text.stdout.contains("  ✗ profile \"hpc\" (slurm ") && text.stdout.contains("login.example.org:22): failed at credentials after "),
                    "\(text.stdout)")
            #expect(!text.stdout.contains("warning: profile 'bad'"), "the failure is shown once, in the target checks, not again as a warning")

            let json = try runBeamsync(["plan", "--dir", dir.path, "--check-targets", "--format", "json"], environment: environment)
            #expect(json.status == 0)
            let plan = try JSONValue.parse(json.stdout)
            let checks = try #require(plan["target_checks"]?.arrayValue)
            #expect(checks.map { $0["profile"]?.stringValue } == ["bad", "good", "hpc"])
            #expect(checks[0]["steps"]?.arrayValue?.map { $0["outcome"]?.stringValue } == ["passed", "failed", "skipped", "skipped", "skipped"])
            #expect(checks[1]["steps"]?.arrayValue?.allSatisfy { $0["outcome"] == .string("passed") } == true)
            #expect(checks[2]["kind"] == .string("slurm") && checks[2]["steps"]?.arrayValue?.first?["name"] == .string("credentials")
                    && checks[2]["steps"]?.arrayValue?.first?["outcome"] == .string("failed"), "\(checks[2])")
            let warnings = plan["diagnostics"]?.arrayValue?.filter { $0["code"] == .string("target_check_failed") } ?? []
            #expect(warnings.count == 2 && warnings.allSatisfy { $0["severity"] == .string("warning") })
            #expect(Set(warnings.compactMap { $0["location"]?["file"]?.stringValue?.split(separator: "/").suffix(2).joined(separator: "/") })
                    == ["profiles/bad.yaml", "profiles/hpc.yaml"], "\(warnings)")

            let markdown = try runBeamsync(["plan", "--dir", dir.path, "--check-targets", "--format", "markdown"], environment: environment)
            #expect(markdown.status == 0)
            #expect(markdown.stdout.contains("#### Target checks\n\n| | profile | target | result | time |"))
            #expect(markdown.stdout.contains("| ✅ | <code>good</code> | dim <code>\(dimURL)</code> | passed (5 steps) | "))
            #expect(markdown.stdout.contains("| ❌ | <code>bad</code> | dim <code>\(dimURL)</code> | failed at <code>tm</code>: no answer from http://127.0.0.1:"))
            #expect(markdown.stdout.contains("| ❌ | <code>hpc</code> | slurm <code>") && markdown.stdout.contains("failed at <code>credentials</code>"),
                    "\(markdown.stdout)")

            let plain = try runBeamsync(["plan", "--dir", dir.path, "--format", "json"], environment: environment)
            #expect(!plain.stdout.contains("target_checks"), "no checks unless asked for")
        }
    }

    @Test("plan --require-targets: a failed check is an error and the saved plan is refused; under --check-targets the signed saved plan applies")
    func requireTargets() async throws {
        let stack = try Stack()
        try await TestDatabase.withFreshDatabase { db in
            let dir = try temporaryRepository(["profiles/good.yaml": stack.rest("good"), "profiles/down.yaml": stack.rest("down", deployPort: try closedPort())])
            defer { try? FileManager.default.removeItem(at: dir) }
            let environment = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
            let planFile = dir.appendingPathComponent("plan.json").path
            let r = try runBeamsync(["plan", "--dir", dir.path, "--require-targets", "--out", planFile], environment: environment)
            #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("Planning failed: 1 error"))
            #expect(r.stdout.contains("error: profile 'down': dim ping failed at step dim: no answer: connection refused"), "\(r.stdout)")
            #expect(r.stdout.contains("Target checks:") && r.stdout.contains("  ✓ profile \"good\""))
            let applied = try runBeamsync(["apply", "--plan", planFile, "--auto-approve"], environment: environment)
            #expect(applied.status == 1 && applied.stderr.contains("profile 'down': dim ping failed at step dim"), "\(applied.stdout)\(applied.stderr)")
            let after = try runBeamsync(["plan", "--dir", dir.path, "--format", "json"], environment: environment)
            #expect(try JSONValue.parse(after.stdout)["changes"]?.arrayValue?.filter { $0["action"] == .string("create") }.count == 2,
                    "nothing was applied")

            // The same failure as a warning: the saved plan (with its checks, signed with a plan key) applies.
            let warned = dir.appendingPathComponent("warned.json").path
            let keyed = environment.merging(["BEAMSYNC_PLAN_KEY": String(repeating: "k", count: 40)]) { $1 }
            let w = try runBeamsync(["plan", "--dir", dir.path, "--check-targets", "--out", warned], environment: keyed)
            #expect(w.status == 0, "\(w.stdout)\(w.stderr)")
            #expect(try JSONValue.parse(String(contentsOfFile: warned, encoding: .utf8))["target_checks"]?.arrayValue?.count == 2)
            let ok = try runBeamsync(["apply", "--plan", warned, "--auto-approve"], environment: keyed)
            #expect(ok.status == 0 && ok.stdout.contains("Apply complete! 2 created"), "\(ok.stdout)\(ok.stderr)")
        }
    }

    @Test("the pull-request comment (plan --base) shows the checks of the profiles the change adds")
    func reviewComment() async throws {
        let stack = try Stack()
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            try repo.commit(["README.md": "base\n"])
            try repo.git("branch", "base")
            try repo.commit(["profiles/dim.yaml": stack.rest("dim")])
            let r = try runBeamsync(["plan", "--repo", repo.url, "--ref", "main", "--base", "base", "--check-targets", "--format", "markdown"],
                                    environment: ["DATABASE_URL": db.url, "NO_COLOR": "1"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("#### Target checks"))
            #expect(r.stdout.contains("| ✅ | <code>dim</code> | dim <code>http://\(stack.host):\(stack.port)</code> | passed (5 steps) | "))
        }
    }
}

@Suite("target-check arguments")
struct TargetCheckArgumentTests {
    @Test("--target-timeout needs --check-targets and a duration; dim ping's --format is text or json")
    func arguments() throws {
        let alone = try runBeamsyncIsolated(["plan", "--dir", ".", "--target-timeout", "5s"], environment: [:])
        #expect(alone.status == 64 && alone.stderr.contains("--target-timeout needs --check-targets or --require-targets"), "\(alone.stderr)")
        let bad = try runBeamsyncIsolated(["plan", "--dir", ".", "--check-targets", "--target-timeout", "5x"], environment: [:])
        #expect(bad.status == 64 && bad.stderr.contains("--target-timeout '5x' is not a duration"), "\(bad.stderr)")
        let markdown = try runBeamsyncIsolated(["dim", "ping", "--profile", "p", "--format", "markdown"], environment: [:])
        #expect(markdown.status == 64 && markdown.stderr.contains("'markdown'"), "\(markdown.stderr)")
    }
}
