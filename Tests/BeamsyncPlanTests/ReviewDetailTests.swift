import BeamsyncModel
import BeamsyncPlan
import Testing

private func execution(_ name: String, project: String = "w", profile: String? = nil, graph: String = "graphs/hello.graph") -> String {
    """
    apiVersion: beampipe.dev/v1
    kind: Execution
    metadata: {name: \(name)}
    spec:
      project_module: \(project)
      \(profile.map { "deployment_profile_name: \($0)" } ?? "")
      graph: {path: \(graph)}

    """
}

private let slurmProfile = """
    name: hpc
    project_module: w
    is_default: true
    translation: {}
    deployment:
      kind: slurm_remote
      login_node: setonix.example.org
      account: pawsey0411
      home_dir: /home/astro
      log_dir: /scratch/logs
      dlg_root: /scratch/dlg

    """

@Suite("What a reviewer sees in a plan")
struct ReviewDetailTests {
    @Test("a created profile shows every field it will have, in text and in Markdown")
    func createShowsFields() throws {
        let state = try desired(["profiles/a.yaml": profile("a", port: 8123)])
        let plan = Planner().plan(desired: state, live: LiveState(), source: "x")
        let text = TextRenderer().render(plan)
        #expect(text.contains("+ deployment.deploy_port: 8123"), "\(text)")
        #expect(text.contains("+ deployment.deploy_host: \"dim.example.org\""), "\(text)")
        #expect(text.contains("+ name: \"a\""), "\(text)")
        let md = MarkdownRenderer().render(plan).joined()
        #expect(md.contains("| `deployment.deploy_port` | <code>8123</code> |"), "\(md)")
        #expect(md.contains("| `deployment.deploy_host` | <code>\"dim.example.org\"</code> |"), "\(md)")
    }

    @Test("a deleted profile shows every field it had, in text and in Markdown")
    func deleteShowsFields() throws {
        let old = try desired(["profiles/a.yaml": profile("a"), "profiles/b.yaml": profile("b", port: 8777)])
        let new = try desired(["profiles/a.yaml": profile("a")])
        let plan = Planner(options: PlanOptions(prune: true)).plan(desired: new, live: applied(old), source: "x")
        #expect(plan.summary.delete == 1)
        let text = TextRenderer().render(plan)
        #expect(text.contains("- deployment.deploy_port: 8777"), "\(text)")
        let md = MarkdownRenderer().render(plan).joined()
        #expect(md.contains("| `deployment.deploy_port` | <code>8777</code> |"), "\(md)")
    }

    @Test("a profile removed from git but kept because prune is off is counted in the summary, not only warned about")
    func keptByPruneOffIsCounted() throws {
        let old = try desired(["profiles/a.yaml": profile("a"), "profiles/b.yaml": profile("b")])
        let new = try desired(["profiles/a.yaml": profile("a")])
        let plan = Planner().plan(desired: new, live: applied(old), source: "x")
        #expect(plan.summary.notDeleted == 1)
        #expect(plan.diagnostics.contains { $0.code == .notPruned && $0.path == "DeploymentProfile/b" })
        let text = TextRenderer().render(plan)
        #expect(text.contains("Plan: 0 to create, 0 to change, 0 to delete, 0 executions to trigger; 1 not deleted (prune off)"), "\(text)")
        let md = MarkdownRenderer().render(plan).joined()
        #expect(md.contains("not deleted (prune off)"), "\(md)")
        #expect(md.contains("| 0 | 0 | 0 | 0 | 1 | 1 |"), "\(md)")
    }

    @Test("a triggered execution shows the profile it resolves to (kind and target) and its graph")
    func executionShowsProfileAndGraph() throws {
        let named = try desired(["profiles/a.yaml": profile("a", port: 8123), "executions/run.yaml": execution("run", profile: "a"),
                                 "graphs/hello.graph": "{}"])
        let plan = Planner().plan(desired: named, live: LiveState(), source: "x")
        let trigger = try #require(plan.changes.first { $0.action == .trigger })
        let resolved = try #require(trigger.resolvedProfile)
        #expect(resolved.name == "a" && resolved.kind == .restRemote && resolved.target == "http://dim.example.org:8123"
                && resolved.resolution == .named)
        let text = TextRenderer().render(plan)
        #expect(text.contains("profile: a (rest_remote, http://dim.example.org:8123)"), "\(text)")
        #expect(text.contains("graph: graphs/hello.graph"), "\(text)")
        let md = MarkdownRenderer().render(plan).joined()
        #expect(md.contains("<code>a</code> (rest_remote, <code>http://dim.example.org:8123</code>)"), "\(md)")
        #expect(md.contains("<code>graphs/hello.graph</code>"), "\(md)")

        // No profile named: the project's default, here a Slurm profile that already exists in the database.
        let live = applied(try desired(["profiles/hpc.yaml": slurmProfile]))
        let byDefault = try desired(["profiles/hpc.yaml": slurmProfile, "executions/run.yaml": execution("run"),
                                     "graphs/hello.graph": "{}"])
        let defaulted = try #require(Planner().plan(desired: byDefault, live: live, source: "x").changes.first { $0.action == .trigger })
        #expect(defaulted.resolvedProfile == ResolvedProfile(name: "hpc", kind: .slurmRemote, target: "setonix.example.org:22",
                                                             resolution: .projectDefault))
    }

    @Test("when the change against its base and against the database are the same, the comment shows one section")
    func identicalSectionsShownOnce() throws {
        let base = try desired(["profiles/a.yaml": profile("a", port: 8001)])
        let head = try desired(["profiles/a.yaml": profile("a", port: 9001)])
        let changeSet = Planner().plan(desired: head, live: LiveState(simulating: base), source: "base → head")
        let plan = Planner().plan(desired: head, live: applied(base), source: "head")
        let review = PullRequestReview(base: "base", head: "head", files: [.init(kind: "modified", path: "profiles/a.yaml")],
                                       changeSet: changeSet, plan: plan)
        let md = MarkdownRenderer().render(review: review).joined()
        #expect(md.components(separatedBy: "deployment.deploy_port").count - 1 == 1, "\(md)")
        #expect(!md.contains("#### Plan against the database"), "\(md)")
        #expect(md.contains("the same against the database"), "\(md)")

        // The database differs from the base: both sections.
        let drifted = Planner().plan(desired: head, live: LiveState(), source: "head")
        let both = MarkdownRenderer().render(review: PullRequestReview(base: "base", head: "head", files: [], changeSet: changeSet,
                                                                        plan: drifted)).joined()
        #expect(both.contains("#### What this change does") && both.contains("#### Plan against the database"), "\(both)")
    }

    @Test("10,000 new profiles fit in a few comments: a compact table past the threshold, and a cap on parts")
    func manyChangesAreCompact() throws {
        var files: [String: String] = [:]
        for i in 0..<10_000 { files["profiles/p\(i).yaml"] = profile("p\(i)", port: 8001) }
        let plan = Planner().plan(desired: try desired(files), live: LiveState(), source: "x")
        let renderer = MarkdownRenderer()
        let parts = renderer.render(plan)
        #expect(parts.count <= renderer.maxParts, "\(parts.count) comments")
        for part in parts { #expect(part.count <= renderer.maxPartLength) }
        let md = parts.joined()
        #expect(!md.contains("<details><summary><b>create</b>"), "past the threshold each change is a table row, not a block")
        #expect(md.contains("| create | DeploymentProfile | `p0` |"), "\(md.prefix(3000))")
        #expect(md.contains("more changes are not listed here"), "the cut is announced")
        #expect(md.contains("beamsync plan --format json"), "and says where the full list is")

        let review = PullRequestReview(base: "b", head: "h", files: [], changeSet: plan, plan: plan)
        #expect(renderer.render(review: review).count <= renderer.maxParts)
    }
}
