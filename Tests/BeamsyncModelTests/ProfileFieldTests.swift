import BeamsyncModel
import Foundation
import Testing

/// Every row of the profile field tables, valid and invalid. Each invalid case checks the field
/// path, the diagnostic code and the exact line:column the error points at.
struct ProfileFieldCase: CustomTestStringConvertible, Sendable {
    enum Base: Sendable { case rest, slurm, inline }
    enum Where: Sendable {
        case value      // the value written after `key:`
        case key        // the key itself (unknown fields, secrets)
        case mapping(String)  // the first child of the named parent section (missing fields)
        case root
    }

    var base: Base
    var key: String
    var value: String?
    var parent: String? = nil
    var path: String
    var code: DiagnosticCode
    var at: Where = .value
    var message: String? = nil

    var testDescription: String { "\(path) = \(value ?? "<removed>") → \(code.rawValue)" }

    var yaml: String {
        replacing(base == .rest ? restProfileYAML : base == .slurm ? slurmProfileYAML : inlineProfileYAML, key, with: value, under: parent)
    }

    func expectedPosition() -> (line: Int, column: Int)? {
        switch at {
        case .value: return position(of: key, in: yaml)
        case .key: return position(of: key, in: yaml, atKey: true)
        case .root: return (1, 1)
        case .mapping(let parent):
            guard let p = position(of: parent, in: yaml, atKey: true) else { return nil }
            return (p.line + 1, p.column + 2)
        }
    }
}

let invalidProfileCases: [ProfileFieldCase] = [
    // Top level
    .init(base: .rest, key: "name", value: nil, path: "name", code: .missingField, at: .root),
    .init(base: .rest, key: "name", value: "\"\"", path: "name", code: .invalidValue),
    .init(base: .rest, key: "name", value: String(repeating: "a", count: 51), path: "name", code: .invalidValue, message: "51 characters"),
    .init(base: .rest, key: "name", value: "dlg dim", path: "name", code: .invalidValue, message: "contains ' '"),
    .init(base: .rest, key: "name", value: "naïve", path: "name", code: .invalidValue, message: "contains 'ï'"),
    .init(base: .rest, key: "name", value: "123", path: "name", code: .wrongType, message: "expected a string"),
    .init(base: .rest, key: "name", value: "[a, b]", path: "name", code: .wrongType),
    .init(base: .rest, key: "description", value: String(repeating: "d", count: 256), path: "description", code: .outOfRange),
    .init(base: .rest, key: "description", value: "5", path: "description", code: .wrongType),
    .init(base: .rest, key: "project_module", value: "\" \"", path: "project_module", code: .invalidValue, message: "blank"),
    .init(base: .rest, key: "project_module", value: String(repeating: "p", count: 51), path: "project_module", code: .outOfRange),
    .init(base: .rest, key: "project_module", value: "\" wallaby\"", path: "project_module", code: .invalidValue, message: "leading or trailing"),
    .init(base: .rest, key: "is_default", value: "yes", path: "is_default", code: .wrongType, message: "expected true or false"),
    .init(base: .rest, key: "is_default", value: "1", path: "is_default", code: .wrongType),
    .init(base: .rest, key: "is_default", value: "\"true\"", path: "is_default", code: .wrongType),
    .init(base: .rest, key: "max_concurrent_executions", value: "0", path: "max_concurrent_executions", code: .outOfRange),
    .init(base: .rest, key: "max_concurrent_executions", value: "-2", path: "max_concurrent_executions", code: .outOfRange),
    .init(base: .rest, key: "max_concurrent_executions", value: "\"2\"", path: "max_concurrent_executions", code: .wrongType),
    .init(base: .rest, key: "nmae", value: "x", path: "nmae", code: .unknownField, at: .key, message: "unknown field 'nmae'"),
    .init(base: .rest, key: "password", value: "hunter2", path: "password", code: .inlineSecret, at: .key),
    .init(base: .rest, key: "api_token", value: "abc", path: "api_token", code: .inlineSecret, at: .key),
    .init(base: .rest, key: "apiVersion", value: "beampipe.dev/v9", path: "apiVersion", code: .invalidValue),
    .init(base: .inline, key: "translation", value: "5", path: "translation", code: .wrongType),
    .init(base: .inline, key: "deployment", value: "[]", path: "deployment", code: .wrongType),
    // translation
    .init(base: .rest, key: "algo", value: "kahn", path: "translation.algo", code: .invalidValue),
    .init(base: .rest, key: "algo", value: "METIS", path: "translation.algo", code: .invalidValue, message: "'METIS' is not allowed"),
    .init(base: .rest, key: "algo", value: "3", path: "translation.algo", code: .invalidValue),
    .init(base: .rest, key: "num_par", value: "0", path: "translation.num_par", code: .outOfRange),
    .init(base: .rest, key: "num_par", value: "-3", path: "translation.num_par", code: .outOfRange),
    .init(base: .rest, key: "num_par", value: "1.5", path: "translation.num_par", code: .wrongType),
    .init(base: .rest, key: "num_par", value: "2.0", path: "translation.num_par", code: .wrongType, message: "fraction"),
    .init(base: .rest, key: "num_par", value: "\"4\"", path: "translation.num_par", code: .wrongType),
    .init(base: .rest, key: "num_islands", value: "-1", path: "translation.num_islands", code: .outOfRange),
    .init(base: .rest, key: "num_islands", value: "99999999999", path: "translation.num_islands", code: .outOfRange, message: "32 bits"),
    .init(base: .rest, key: "tm_url", value: "ftp://dlg-tm:8084", path: "translation.tm_url", code: .invalidValue),
    .init(base: .rest, key: "tm_url", value: "dlg-tm:8084", path: "translation.tm_url", code: .invalidValue),
    .init(base: .rest, key: "tm_url", value: "http://", path: "translation.tm_url", code: .invalidValue, message: "no host"),
    .init(base: .rest, key: "tm_url", value: "http://dlg-tm:99999", path: "translation.tm_url", code: .invalidValue, message: "port"),
    .init(base: .rest, key: "tm_url", value: "http://user:pw@dlg-tm", path: "translation.tm_url", code: .inlineSecret, message: "password"),
    .init(base: .rest, key: "tm_url", value: "http://user@dlg-tm", path: "translation.tm_url", code: .invalidValue, message: "credentials"),
    .init(base: .rest, key: "typo", value: "1", parent: "translation", path: "translation.typo", code: .unknownField, at: .key),
    // deployment (shared)
    .init(base: .slurm, key: "kind", value: nil, parent: "deployment", path: "deployment.kind", code: .missingField, at: .mapping("deployment")),
    // rest_remote
    .init(base: .rest, key: "deploy_host", value: nil, path: "deployment.deploy_host", code: .missingField, at: .mapping("deployment")),
    .init(base: .rest, key: "deploy_host", value: "\"  \"", path: "deployment.deploy_host", code: .invalidValue),
    .init(base: .rest, key: "deploy_host", value: "~", path: "deployment.deploy_host", code: .missingField),
    .init(base: .rest, key: "deploy_port", value: "0", path: "deployment.deploy_port", code: .outOfRange),
    .init(base: .rest, key: "deploy_port", value: "70000", path: "deployment.deploy_port", code: .outOfRange),
    .init(base: .rest, key: "deploy_port", value: "\"8001\"", path: "deployment.deploy_port", code: .wrongType, message: "expected an integer"),
    .init(base: .rest, key: "dim_port_for_tm", value: "0", path: "deployment.dim_port_for_tm", code: .outOfRange),
    .init(base: .rest, key: "dim_port_for_tm", value: "65536", path: "deployment.dim_port_for_tm", code: .outOfRange),
    .init(base: .rest, key: "dim_host_for_tm", value: "\"\"", path: "deployment.dim_host_for_tm", code: .invalidValue),
    .init(base: .rest, key: "use_https", value: "\"true\"", path: "deployment.use_https", code: .wrongType),
    .init(base: .rest, key: "verify_ssl", value: "no", path: "deployment.verify_ssl", code: .wrongType, message: "found a string"),
    .init(base: .rest, key: "login_node", value: "x", parent: "deployment", path: "deployment.login_node", code: .unknownField, at: .key),
    // slurm_remote
    .init(base: .slurm, key: "kind", value: "k8s_remote", parent: "deployment", path: "deployment.kind", code: .invalidValue),
    .init(base: .slurm, key: "login_node", value: nil, path: "deployment.login_node", code: .missingField, at: .mapping("deployment")),
    .init(base: .slurm, key: "login_node", value: "\"\"", path: "deployment.login_node", code: .invalidValue),
    .init(base: .slurm, key: "ssh_port", value: "0", path: "deployment.ssh_port", code: .outOfRange),
    .init(base: .slurm, key: "ssh_port", value: "65536", path: "deployment.ssh_port", code: .outOfRange),
    .init(base: .slurm, key: "ssh_port", value: "ssh", path: "deployment.ssh_port", code: .wrongType),
    .init(base: .slurm, key: "account", value: nil, path: "deployment.account", code: .missingField, at: .mapping("deployment")),
    .init(base: .slurm, key: "account", value: "\" \"", path: "deployment.account", code: .invalidValue),
    .init(base: .slurm, key: "home_dir", value: "home/beampipe", path: "deployment.home_dir", code: .invalidValue, message: "absolute"),
    .init(base: .slurm, key: "log_dir", value: nil, path: "deployment.log_dir", code: .missingField, at: .mapping("deployment")),
    .init(base: .slurm, key: "log_dir", value: "logs", path: "deployment.log_dir", code: .invalidValue),
    .init(base: .slurm, key: "dlg_root", value: "/", path: "deployment.dlg_root", code: .invalidValue, message: "dedicated directory"),
    .init(base: .slurm, key: "dlg_root", value: "////", path: "deployment.dlg_root", code: .invalidValue, message: "dedicated directory"),
    .init(base: .slurm, key: "dlg_root", value: "scratch/dlg", path: "deployment.dlg_root", code: .invalidValue, message: "absolute"),
    .init(base: .slurm, key: "job_duration_minutes", value: "0", path: "deployment.job_duration_minutes", code: .outOfRange),
    .init(base: .slurm, key: "num_nodes", value: "0", path: "deployment.num_nodes", code: .outOfRange),
    .init(base: .slurm, key: "num_islands", value: "0", path: "deployment.num_islands", code: .outOfRange),
    .init(base: .slurm, key: "max_threads", value: "-1", path: "deployment.max_threads", code: .outOfRange),
    .init(base: .slurm, key: "all_nics", value: "on", path: "deployment.all_nics", code: .wrongType),
    .init(base: .slurm, key: "ssh_credential", value: "../etc", path: "deployment.ssh_credential", code: .invalidValue),
    .init(base: .slurm, key: "ssh_credential", value: "team/a", path: "deployment.ssh_credential", code: .invalidValue),
    .init(base: .slurm, key: "ssh_credential", value: String(repeating: "s", count: 51), path: "deployment.ssh_credential", code: .invalidValue),
    .init(base: .slurm, key: "environment_setup", value: "\"-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\\n-----END OPENSSH PRIVATE KEY-----\"", parent: "deployment",
          path: "deployment.environment_setup", code: .inlineSecret),
    .init(base: .slurm, key: "private_key", value: "abc", parent: "deployment", path: "deployment.private_key", code: .inlineSecret, at: .key),
    .init(base: .slurm, key: "passphrase", value: "abc", parent: "deployment", path: "deployment.passphrase", code: .inlineSecret, at: .key),
    .init(base: .slurm, key: "tasks", value: "0", path: "deployment.resources.tasks", code: .outOfRange),
    .init(base: .slurm, key: "cpus_per_task", value: "0", path: "deployment.resources.cpus_per_task", code: .outOfRange),
    .init(base: .slurm, key: "partition", value: "\"\"", path: "deployment.resources.partition", code: .invalidValue),
    .init(base: .slurm, key: "memory", value: "\" \"", path: "deployment.resources.memory", code: .invalidValue),
    .init(base: .slurm, key: "nodes", value: "0", parent: "resources", path: "deployment.resources.nodes", code: .outOfRange),
    .init(base: .slurm, key: "wall_time_minutes", value: "0", parent: "resources", path: "deployment.resources.wall_time_minutes", code: .outOfRange),
    .init(base: .slurm, key: "constraint", value: "\"\"", parent: "resources", path: "deployment.resources.constraint", code: .invalidValue),
    .init(base: .slurm, key: "quality_of_service", value: "\"\"", parent: "resources", path: "deployment.resources.quality_of_service", code: .invalidValue),
    .init(base: .slurm, key: "gpus", value: "1", parent: "resources", path: "deployment.resources.gpus", code: .unknownField, at: .key),
    .init(base: .slurm, key: "nodes", value: "0", parent: "manager_topology", path: "deployment.manager_topology.nodes", code: .outOfRange),
    .init(base: .slurm, key: "islands", value: "0", parent: "manager_topology", path: "deployment.manager_topology.islands", code: .outOfRange),
    .init(base: .slurm, key: "co_host_dim", value: "yes", path: "deployment.manager_topology.co_host_dim", code: .wrongType),
    .init(base: .slurm, key: "deploy_host", value: "h", parent: "deployment", path: "deployment.deploy_host", code: .unknownField, at: .key),
]

@Suite("DeploymentProfile fields")
struct ProfileFieldTests {
    @Test("the base documents are valid")
    func baseDocumentsAreValid() {
        for yaml in [restProfileYAML, slurmProfileYAML] {
            let (profile, diagnostics) = decodeProfile(yaml)
            #expect(profile != nil)
            #expect(!diagnostics.hasErrors, "\(diagnostics)")
        }
    }

    @Test("each invalid value is reported at its field, line and column", arguments: invalidProfileCases)
    func invalidValue(_ c: ProfileFieldCase) throws {
        let (profile, diagnostics) = decodeProfile(c.yaml)
        #expect(profile == nil)
        let matching = diagnostics.errors.filter { $0.path == c.path && $0.code == c.code }
        let d = try #require(matching.first, "expected \(c.code.rawValue) at \(c.path); got \(diagnostics.map(\.description))")
        let expected = try #require(c.expectedPosition())
        #expect(d.location?.line == expected.line, "\(d)")
        #expect(d.location?.column == expected.column, "\(d)")
        #expect(d.location?.file == "profiles/test.yaml")
        #expect(d.hint != nil && !(d.hint!.isEmpty), "every error has a hint")
        if let m = c.message { #expect(d.message.contains(m), "\(d.message)") }
        // Errors are precise: an invalid field never produces an error elsewhere.
        #expect(diagnostics.errors.allSatisfy { $0.path == c.path }, "\(diagnostics.map(\.description))")
    }

    @Test("there are at least 60 invalid cases")
    func enoughCases() { #expect(invalidProfileCases.count >= 60) }

    @Test("defaults are filled in exactly as beampipe stores them")
    func defaults() throws {
        let (p, _) = decodeProfile("""
            name: minimal
            translation: {}
            deployment: {kind: rest_remote, deploy_host: dim.example.org}

            """)
        let profile = try #require(p)
        #expect(profile.translation == TranslationConfig(algo: .metis, numPar: 1, numIslands: 0, tmURL: nil))
        guard case .restRemote(let r) = profile.deployment else { Issue.record("wrong kind"); return }
        #expect(r.dimPortForTM == 8001 && r.deployPort == 8001 && r.verifySSL && !r.useHTTPS && r.dimHostForTM == nil)
        #expect(profile.deployment.json == .object([
            "kind": .string("rest_remote"), "deploy_host": .string("dim.example.org"), "dim_port_for_tm": .int(8001),
            "deploy_port": .int(8001), "use_https": .bool(false), "verify_ssl": .bool(true),
        ]))
        #expect(!profile.isDefault && profile.projectModule == nil && profile.maxConcurrentExecutions == nil)
    }

    @Test("an explicit null port is omitted, not defaulted")
    func explicitNullPort() throws {
        let (p, _) = decodeProfile(replacing(restProfileYAML, "dim_port_for_tm", with: "null"))
        guard case .restRemote(let r) = try #require(p).deployment else { Issue.record("wrong kind"); return }
        #expect(r.dimPortForTM == nil)
        #expect(r.json["dim_port_for_tm"] == nil)
    }

    @Test("slurm defaults match beampipe's serialised row")
    func slurmDefaults() throws {
        let (p, d) = decodeProfile("""
            name: s
            translation: {}
            deployment:
              kind: slurm_remote
              login_node: login
              account: acct
              home_dir: /home/u
              log_dir: /logs
              dlg_root: /dlg

            """)
        let profile = try #require(p, "\(d)")
        guard case .slurmRemote(let s) = profile.deployment else { Issue.record("wrong kind"); return }
        #expect(s.sshPort == 22 && s.execPrefix == "srun -l" && s.facility == "setonix")
        #expect(s.jobDurationMinutes == 30 && s.numNodes == 1 && s.numIslands == 1 && s.verboseLevel == 1 && s.maxThreads == 0)
        #expect(s.json["resources"] == .object([:]))
        #expect(s.json["manager_topology"] == .object(["co_host_dim": .bool(false)]))
        #expect(s.json["verify_ssl"] == nil && s.json["remote_user"] == nil)
    }

    @Test("effective values: resources.nodes covers num_nodes 0")
    func effectiveValues() throws {
        var yaml = replacing(slurmProfileYAML, "num_nodes", with: "0")
        yaml = replacing(yaml, "nodes", with: "2", under: "resources")
        let (p, d) = decodeProfile(yaml)
        guard case .slurmRemote(let s) = try #require(p, "\(d)").deployment else { return }
        #expect(s.effectiveNodes == 2)
    }

    @Test("several errors in one document are all reported")
    func allErrorsReported() {
        var yaml = replacing(restProfileYAML, "num_par", with: "0")
        yaml = replacing(yaml, "deploy_port", with: "0")
        yaml = replacing(yaml, "name", with: "bad name")
        let (_, diagnostics) = decodeProfile(yaml)
        #expect(Set(diagnostics.errors.map(\.path)) == ["name", "translation.num_par", "deployment.deploy_port"])
    }

    @Test("verify_ssl: false is a warning, not an error")
    func insecureWarning() throws {
        let (p, d) = decodeProfile(replacing(restProfileYAML, "verify_ssl", with: "false"))
        #expect(p != nil)
        #expect(d.warnings.contains { $0.code == .insecureSetting && $0.path == "deployment.verify_ssl" })
    }

    @Test("unknown fields suggest the nearest known one")
    func didYouMean() throws {
        let (_, d) = decodeProfile(replacing(restProfileYAML, "deploy_prot", with: "8001", under: "deployment"))
        #expect(d.errors.first?.hint == "did you mean 'deploy_port'?")
    }

    @Test("a secret never appears in the error message")
    func secretsAreNotEchoed() {
        let (_, d) = decodeProfile(replacing(slurmProfileYAML, "passphrase", with: "correct-horse-battery", under: "deployment"))
        #expect(!d.map(\.description).joined().contains("correct-horse-battery"))
    }
}
