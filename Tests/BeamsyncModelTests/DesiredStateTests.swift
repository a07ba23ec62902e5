import BeamsyncModel
import Testing

func profileDoc(_ name: String, project: String? = nil, isDefault: Bool = false) -> String {
    """
    name: \(name)
    \(project.map { "project_module: \($0)" } ?? "")
    is_default: \(isDefault)
    translation: {}
    deployment: {kind: rest_remote, deploy_host: dim.example.org}

    """
}

func executionDoc(_ name: String, project: String, profile: String? = nil, graph: String = "graphs/hello.graph") -> String {
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

@Suite("Desired state: checks across documents")
struct DesiredStateTests {
    @Test("two defaults in one scope are one error naming both files")
    func twoDefaultsInOneScope() throws {
        let r = loadRepository([
            "profiles/a.yaml": profileDoc("a", project: "wallaby", isDefault: true),
            "profiles/b.yaml": profileDoc("b", project: "wallaby", isDefault: true),
        ])
        #expect(r.state == nil)
        let e = try #require(r.diagnostics.errors.first { $0.code == .multipleDefaults })
        #expect(e.message.contains("'a' (profiles/a.yaml:1:1)") && e.message.contains("'b' (profiles/b.yaml:1:1)"))
        #expect(e.message.contains("project 'wallaby'"))
        #expect(e.location?.file == "profiles/b.yaml" && e.related.map(\.file) == ["profiles/a.yaml"])
    }

    @Test("two global defaults are an error too")
    func twoGlobalDefaults() {
        let r = loadRepository([
            "profiles/a.yaml": profileDoc("a", isDefault: true),
            "profiles/b.yml": profileDoc("b", isDefault: true),
        ])
        #expect(r.diagnostics.errors.contains { $0.code == .multipleDefaults && $0.message.contains("the global scope") })
    }

    @Test("one default per scope is fine: global plus one per project")
    func onePerScope() {
        let r = loadRepository([
            "profiles/g.yaml": profileDoc("g", isDefault: true),
            "profiles/w.yaml": profileDoc("w", project: "wallaby", isDefault: true),
            "profiles/x.yaml": profileDoc("x", project: "other", isDefault: true),
        ])
        #expect(r.state != nil, "\(r.diagnostics)")
    }

    @Test("the same name as default in two scopes is a duplicate name")
    func sameDefaultNameInTwoScopes() throws {
        let r = loadRepository([
            "profiles/a.yaml": profileDoc("dim", project: "wallaby", isDefault: true),
            "profiles/b.yaml": profileDoc("dim", project: "other", isDefault: true),
        ])
        let e = try #require(r.diagnostics.errors.first { $0.code == .duplicateName })
        #expect(e.message.contains("profiles/a.yaml:1:1") && e.message.contains("profiles/b.yaml:1:1"))
    }

    @Test("duplicate names in two files, and within one multi-document file")
    func duplicateNames() {
        let r = loadRepository([
            "profiles/a.yaml": profileDoc("dup"),
            "profiles/b.yaml": profileDoc("dup") + "---\n" + profileDoc("dup"),
        ])
        let dups = r.diagnostics.errors.filter { $0.code == .duplicateName }
        #expect(dups.count == 2)
        #expect(dups.allSatisfy { $0.message.contains("3 times") })
    }

    @Test("automation naming a missing profile is an error with a suggestion")
    func danglingAutomationReference() throws {
        let project = """
            apiVersion: beampipe.dev/v2
            kind: ProjectConfig
            metadata: {id: wallaby}
            adapters: {required: [casda]}
            automation: {execution: {deployment_profile_name: dlg-dmi}}

            """
        let r = loadRepository(["profiles/a.yaml": profileDoc("dlg-dim"), "projects/wallaby.yaml": project])
        let e = try #require(r.diagnostics.errors.first { $0.code == .unresolvedReference })
        #expect(e.path == "automation.execution.deployment_profile_name")
        #expect(e.hint == "did you mean 'dlg-dim'?")
        #expect(e.location?.file == "projects/wallaby.yaml")
    }

    @Test("an execution may not use another project's profile")
    func crossProjectReference() throws {
        let r = loadRepository([
            "profiles/a.yaml": profileDoc("other-dim", project: "other"),
            "executions/run.yaml": executionDoc("run-1", project: "wallaby", profile: "other-dim"),
            "graphs/hello.graph": "{}",
        ])
        let e = try #require(r.diagnostics.errors.first { $0.code == .scopeViolation })
        #expect(e.message.contains("belongs to project 'other'"))
        #expect(e.related.first?.file == "profiles/a.yaml")
    }

    @Test("an execution without a profile needs a project or global default")
    func executionNeedsDefault() {
        var r = loadRepository([
            "profiles/a.yaml": profileDoc("a"),
            "executions/run.yaml": executionDoc("run-1", project: "wallaby"),
            "graphs/hello.graph": "{}",
        ])
        #expect(r.diagnostics.errors.contains { $0.code == .unresolvedReference && $0.message.contains("no default profile") })
        r = loadRepository([
            "profiles/a.yaml": profileDoc("a", isDefault: true),
            "executions/run.yaml": executionDoc("run-1", project: "wallaby"),
            "graphs/hello.graph": "{}",
        ])
        #expect(r.state != nil, "\(r.diagnostics)")
    }

    @Test("a profile that exists only in the database resolves a reference")
    func externalProfiles() {
        let r = loadRepository([
            "executions/run.yaml": executionDoc("run-1", project: "wallaby", profile: "api-made"),
            "graphs/hello.graph": "{}",
        ], external: [ExternalProfile(name: "api-made", scope: .global, isDefault: false)])
        #expect(r.state != nil, "\(r.diagnostics)")
    }

    @Test("a graph path must exist and stay inside the repository")
    func graphPaths() {
        var r = loadRepository(["profiles/a.yaml": profileDoc("a", isDefault: true),
                                "executions/run.yaml": executionDoc("run-1", project: "w", graph: "graphs/missing.graph")])
        #expect(r.diagnostics.errors.contains { $0.path == "spec.graph.path" && $0.code == .unresolvedReference })
        r = loadRepository(["profiles/a.yaml": profileDoc("a", isDefault: true),
                            "executions/run.yaml": executionDoc("run-1", project: "w", graph: "../etc/passwd")])
        #expect(r.diagnostics.errors.contains { $0.path == "spec.graph.path" && $0.code == .unsafePath })
    }

    @Test("a document in the wrong folder is named and the right folder suggested")
    func kindMismatch() throws {
        let r = loadRepository(["profiles/run.yaml": executionDoc("run-1", project: "w")])
        let e = try #require(r.diagnostics.errors.first)
        #expect(e.code == .kindMismatch && e.hint == "move the file to executions/")
    }

    @Test("files outside the document folders are ignored")
    func otherFilesIgnored() {
        let r = loadRepository(["README.md": "# hi", "profiles/a.yaml": profileDoc("a"), "docs/x.yaml": "not: [valid"])
        #expect(r.state?.profiles.count == 1)
    }

    @Test("beamsync.yaml sets the repository policy")
    func policy() throws {
        let r = loadRepository(["beamsync.yaml": "apiVersion: beamsync.dev/v1\nkind: RepositoryPolicy\nprune: true\nmax_deletions: 3\nprotected_profiles: [dlg-dim]\n"])
        let policy = try #require(r.state?.policy)
        #expect(policy.prune && policy.maxDeletions == 3 && policy.protectedProfiles == ["dlg-dim"] && !policy.heal)
        let bad = loadRepository(["beamsync.yaml": "prune: sometimes\n"])
        #expect(bad.diagnostics.errors.first?.path == "prune")
    }

    @Test("execution documents decode with their references")
    func executionDecoding() throws {
        let r = loadRepository(["profiles/a.yaml": profileDoc("a"), "graphs/hello.graph": "{}",
                                "executions/run.yaml": executionDoc("run-1", project: "w", profile: "a")])
        let e = try #require(r.state?.executions.first?.value, "\(r.diagnostics)")
        #expect(e.name == "run-1" && e.projectModule == "w" && e.profile == .name("a") && e.graph == .path("graphs/hello.graph") && e.doSubmit)
    }

    @Test("execution rules: one profile selector, url graphs need a sha256 pin")
    func executionRules() {
        let both = """
            apiVersion: beampipe.dev/v1
            kind: Execution
            metadata: {name: r}
            spec:
              project_module: w
              deployment_profile_name: a
              deployment_profile_id: 0191d3c2-7b7a-7cc8-a1f4-5f2d8d1c0a11
              graph: {url: "https://example.org/g.graph"}

            """
        let r = loadRepository(["executions/r.yaml": both])
        #expect(r.diagnostics.errors.contains { $0.path == "spec.deployment_profile_name" && $0.message.contains("only one of") })
        #expect(r.diagnostics.errors.contains { $0.path == "spec.graph.sha256" && $0.code == .missingField })
    }
}
