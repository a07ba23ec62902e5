import BeamsyncModel
import Foundation
import Testing

/// What `validate` accepts, `apply` must be able to store: PostgreSQL's text and jsonb cannot hold
/// a NUL, and VARCHAR(n) counts Unicode scalars. Control characters never belong in names, hosts,
/// URLs, paths or identifiers; free text may hold tabs and line breaks.
@Suite("Values PostgreSQL can store")
struct StorableValueTests {
    func onlyError(_ diagnostics: [Diagnostic], _ comment: Comment? = nil) throws -> Diagnostic {
        let errors = diagnostics.errors
        try #require(errors.count == 1, comment ?? "\(errors)")
        return errors[0]
    }

    @Test("an escaped NUL in a YAML string value is an error at the value, with its dotted path")
    func nulInYAMLValue() throws {
        let yaml = replacing(restProfileYAML, "description", with: #""a\0b""#)
        let (p, d) = decodeProfile(yaml)
        #expect(p == nil)
        let e = try onlyError(d)
        #expect(e.code.rawValue == "control_character")
        #expect(e.path == "description")
        let at = try #require(position(of: "description", in: yaml))
        #expect(e.location == SourceLocation(file: "profiles/test.yaml", line: at.line, column: at.column))
        #expect(e.message.contains("NUL"))
    }

    @Test("a \\u0000 in a JSON profile is an error with line, column and the nested path")
    func nulInJSONValue() throws {
        let json = """
            {
              "name": "a",
              "translation": {"tm_url": "http://tm.example.org\\u0000"},
              "deployment": {"kind": "rest_remote", "deploy_host": "dim.example.org"}
            }
            """
        let (p, d) = decodeProfile(json, file: "profiles/a.json")
        #expect(p == nil)
        let e = d.errors.first { $0.code.rawValue == "control_character" }
        #expect(e?.path == "translation.tm_url")
        #expect(e?.location == SourceLocation(file: "profiles/a.json", line: 3, column: 29))
    }

    @Test("a NUL in a key is an error at the key")
    func nulInKey() throws {
        let json = #"{"name": "a", "translation": {"num\u0000par": 1}, "deployment": {"kind": "rest_remote", "deploy_host": "h"}}"#
        let (p, d) = decodeProfile(json, file: "profiles/a.json")
        #expect(p == nil)
        let e = try #require(d.errors.first { $0.code.rawValue == "control_character" }, "\(d)")
        #expect(e.location?.line == 1 && e.location?.column == 31)
        #expect(e.path.hasPrefix("translation."))
    }

    @Test("a NUL deep in a project config's free-form section is an error with an indexed path")
    func nulInProjectConfig() throws {
        let yaml = editing(surveyProjectYAML, "    sbids: []", "    sbids: [a, \"b\\0\"]")
        let r = loadRepository(["projects/p.yaml": yaml])
        #expect(r.state == nil)
        let e = try #require(r.diagnostics.errors.first { $0.code.rawValue == "control_character" }, "\(r.diagnostics)")
        #expect(e.path == "manifest.source_template.sbids[1]")
        #expect(e.location?.file == "projects/p.yaml")
    }

    @Test("a NUL in an execution's description is refused too")
    func nulInExecution() throws {
        let r = loadRepository([
            "profiles/a.yaml": "name: a\nis_default: true\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h}\n",
            "executions/e.yaml": "apiVersion: beampipe.dev/v1\nkind: Execution\nmetadata: {name: e, description: \"x\\0\"}\nspec: {project_module: p, graph: {url: \"https://g.example.org/g\", sha256: \(String(repeating: "a", count: 64))}}\n",
        ])
        let e = try #require(r.diagnostics.errors.first { $0.code.rawValue == "control_character" }, "\(r.diagnostics)")
        #expect(e.path == "metadata.description")
        #expect(e.location?.line == 3)
    }

    struct FieldCase: Sendable, CustomTestStringConvertible {
        var base: ProfileFieldCase.Base
        var key: String
        var value: String
        var path: String
        var parent: String? = nil
        var testDescription: String { "\(path) = \(value)" }
    }

    static let controlCases: [FieldCase] = [
        .init(base: .rest, key: "project_module", value: #""wallaby\ahires""#, path: "project_module"),
        .init(base: .rest, key: "tm_url", value: #""http://tm.example.org/\e[31m""#, path: "translation.tm_url"),
        .init(base: .rest, key: "deploy_host", value: #""dim\x7F.example.org""#, path: "deployment.deploy_host"),
        .init(base: .rest, key: "dim_host_for_tm", value: #""dim\N""#, path: "deployment.dim_host_for_tm"),
        .init(base: .slurm, key: "login_node", value: #""login\t1""#, path: "deployment.login_node"),
        .init(base: .slurm, key: "home_dir", value: #""/home/x\u0085y""#, path: "deployment.home_dir"),
        .init(base: .slurm, key: "account", value: #""paw\u009Bsey""#, path: "deployment.account"),
        .init(base: .slurm, key: "remote_user", value: #""ops\r""#, path: "deployment.remote_user", parent: "deployment"),
        .init(base: .slurm, key: "exec_prefix", value: #""srun\n-l""#, path: "deployment.exec_prefix", parent: "deployment"),
        .init(base: .slurm, key: "partition", value: #""wo\u202Erk""#, path: "deployment.resources.partition"),
        .init(base: .slurm, key: "container_runtime", value: #""apptainer\u0007""#, path: "deployment.container_runtime", parent: "deployment"),
        .init(base: .rest, key: "apiVersion", value: #""beampipe.dev/v1\u2028""#, path: "apiVersion"),
    ]

    @Test("control and format characters in names, hosts, URLs, paths and identifiers are errors at the value", arguments: controlCases)
    func controlCharacters(_ c: FieldCase) throws {
        let yaml = replacing(c.base == .rest ? restProfileYAML : slurmProfileYAML, c.key, with: c.value, under: c.parent)
        let (p, d) = decodeProfile(yaml)
        #expect(p == nil)
        let e = try #require(d.errors.first { $0.path == c.path }, "\(d)")
        #expect(e.code.rawValue == "control_character", "\(e)")
        let at = try #require(position(of: c.key, in: yaml))
        #expect(e.location?.line == at.line && e.location?.column == at.column)
    }

    @Test("a description may hold tabs and line breaks, but no other control characters")
    func descriptionIsFreeText() throws {
        let ok = replacing(restProfileYAML, "description", with: #""first line\n\tsecond line\r\n""#)
        let (p, d) = decodeProfile(ok)
        #expect(p?.description == "first line\n\tsecond line\r\n", "\(d)")
        for bad in [#""bell\a""#, #""csi\u009B2J""#, #""esc\e[2J""#] {
            let (q, e) = decodeProfile(replacing(restProfileYAML, "description", with: bad))
            #expect(q == nil, "\(bad)")
            #expect(e.errors.contains { $0.path == "description" && $0.code.rawValue == "control_character" }, "\(bad): \(e)")
        }
    }

    @Test("shell snippets may span lines but hold no carriage return or bidirectional control")
    func shellSnippets() throws {
        let multiLine = replacing(slurmProfileYAML, "modules", with: #""module load a\nmodule load b""#, under: "deployment")
        #expect(decodeProfile(multiLine).0?.slurm?.modules == "module load a\nmodule load b")
        for (key, value) in [("venv", #""source /opt/venv/bin/activate\r""#), ("environment_setup", #""export A=1 \u202E# B""#),
                             ("slurm_template", ##""#!/bin/bash\u0000""##)] {
            let (p, d) = decodeProfile(replacing(slurmProfileYAML, key, with: value, under: "deployment"))
            #expect(p == nil, "\(key)")
            #expect(d.errors.contains { $0.path == "deployment.\(key)" && $0.code.rawValue == "control_character" }, "\(key): \(d)")
        }
    }

    @Test("project config identifiers are one line; queries and descriptions may span lines and hold tabs")
    func projectConfigRules() throws {
        let bad = loadRepository(["projects/p.yaml": editing(surveyProjectYAML, "    - casda\n", "    - \"casda\\t\"\n")])
        let e = try #require(bad.diagnostics.errors.first { $0.code.rawValue == "control_character" }, "\(bad.diagnostics)")
        #expect(e.path == "adapters.required[0]")
        let bidi = loadRepository(["projects/p.yaml": editing(surveyProjectYAML, "        from: obs_id\n", "        from: \"obs\\u202E_id\"\n")])
        #expect(bidi.diagnostics.errors.contains { $0.code.rawValue == "control_character" && $0.path.hasSuffix(".from") }, "\(bidi.diagnostics)")
        let free = editing(editing(surveyProjectYAML, "  description: HI survey high-resolution imaging", "  description: \"HI survey\\n\\thigh-resolution\""),
                           "template: \"SELECT * FROM ivoa.obscore WHERE filename LIKE '{source_name}%'\"",
                           "template: \"SELECT *\\n\\tFROM ivoa.obscore WHERE filename LIKE '{source_name}%'\"")
        let ok = loadRepository(["projects/p.yaml": free])
        #expect(!ok.diagnostics.errors.contains { $0.code.rawValue == "control_character" }, "\(ok.diagnostics)")
    }

    @Test("a lone UTF-16 surrogate escape in JSON is reported at its position with a hint")
    func loneSurrogate() throws {
        let json = "{\n  \"name\": \"a\\uD800\",\n  \"translation\": {},\n  \"deployment\": {\"kind\": \"rest_remote\", \"deploy_host\": \"h\"}\n}\n"
        let (p, d) = decodeProfile(json, file: "profiles/a.json")
        #expect(p == nil)
        let e = try #require(d.errors.first)
        #expect(e.location?.file == "profiles/a.json" && e.location?.line == 2)
        #expect(e.hint?.contains("surrogate") == true, "\(e)")
    }

    @Test("description and project_module lengths count characters the way PostgreSQL does")
    func lengthsInScalars() throws {
        // 200 user-perceived characters, 400 Unicode scalars: VARCHAR(255) refuses it.
        let combining = String(repeating: "e\u{301}", count: 200)
        let (p, d) = decodeProfile(replacing(restProfileYAML, "description", with: "\"\(combining)\""))
        #expect(p == nil)
        #expect(d.errors.contains { $0.path == "description" && $0.code == .outOfRange }, "\(d)")
        let module = String(repeating: "e\u{301}", count: 30)
        let (q, e) = decodeProfile(replacing(restProfileYAML, "project_module", with: "\"\(module)\""))
        #expect(q == nil)
        #expect(e.errors.contains { $0.path == "project_module" && $0.code == .outOfRange }, "\(e)")
    }

    @Test("a project id longer than the 80 characters project_configs.project_id holds is refused")
    func projectIDLength() throws {
        let id = String(repeating: "p", count: 81)
        let r = loadRepository(["projects/p.yaml": editing(surveyProjectYAML, "id: survey_hires", "id: \(id)")])
        #expect(r.state == nil)
        #expect(r.diagnostics.errors.contains { $0.path == "metadata.id" && $0.code == .outOfRange }, "\(r.diagnostics)")
        let ok = loadRepository(["projects/p.yaml": editing(surveyProjectYAML, "id: survey_hires", "id: \(String(repeating: "p", count: 80))")])
        #expect(!ok.diagnostics.errors.contains { $0.path == "metadata.id" }, "\(ok.diagnostics)")
    }
}

extension DeploymentProfile {
    var slurm: SlurmRemoteDeployment? {
        if case .slurmRemote(let s) = deployment { return s }
        return nil
    }
}
