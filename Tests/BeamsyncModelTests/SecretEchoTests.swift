import BeamsyncModel
import Foundation
import Testing

/// Diagnostics name the field and the position of a secret, never the secret: not a URL's
/// userinfo, not a PEM block, not the value of a secret-named key, in text or in JSON.
@Suite("Secrets are never echoed")
struct SecretEchoTests {
    static let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\\nS3CR3T-PEM-BODY\\n-----END OPENSSH PRIVATE KEY-----"
    static let graphSHA = String(repeating: "a", count: 64)

    /// Every planted secret; none may appear in any rendering of any diagnostic.
    static let secrets = ["S3CR3T-TM", "S3CR3T-HOST", "S3CR3T-LOGIN", "S3CR3T-USER", "S3CR3T-PEM-BODY", "S3CR3T-KEY",
                          "S3CR3T-GRAPH", "S3CR3T-KIND", "S3CR3T-API", "S3CR3T-TAP", "98765432123", "S3CR3T-TRANSFORM",
                          "S3CR3T-NESTED", "S3CR3T-DUP", "S3CR3T-EXEC-DESC", "S3CR3T-PROJECT-URL", "S3CR3T-PASS-IN-URL",
                          "S3CR3T-SCP"]

    static let repository: [String: String] = [
        "profiles/rest.yaml": """
            name: rest
            description: "\(pem)"
            translation: {tm_url: "http://admin:S3CR3T-TM@tm.example.org:8084"}
            deployment:
              kind: rest_remote
              deploy_host: "http://admin:S3CR3T-HOST@dim.example.org"
              dim_host_for_tm: "ops:S3CR3T-PASS-IN-URL@dim"
              password: S3CR3T-KEY

            """,
        "profiles/slurm.yaml": """
            name: slurm
            translation: {}
            deployment:
              kind: slurm_remote
              login_node: "ops:S3CR3T-LOGIN@login.example.org"
              remote_user: "ops:S3CR3T-USER"
              account: a
              home_dir: /h
              log_dir: /l
              dlg_root: /d
              api_token: S3CR3T-API
              resources: {partition: work, db_password: S3CR3T-NESTED}

            """,
        "profiles/dup.yaml": """
            name: dup
            translation: {}
            deployment: {kind: rest_remote, deploy_host: h, secret: a, secret: S3CR3T-DUP}

            """,
        "profiles/kind.yaml": "kind: \"https://u:S3CR3T-KIND@x.example.org\"\nname: k\n",
        "profiles/scp.yaml": """
            name: scp
            translation: {}
            deployment: {kind: slurm_remote, login_node: l, account: a, home_dir: "ops:S3CR3T-SCP@login.example.org:/x", log_dir: /l, dlg_root: /d}

            """,
        "projects/p.yaml": editing(editing(editing(surveyProjectYAML,
            "casda_tap_url: https://casda.csiro.au/casda_vo_tools/tap", "casda_tap_url: \"https://casda:S3CR3T-TAP@casda.csiro.au/tap\""),
            "      sbid:\n        from: obs_id\n        transform: sbid_digits",
            "      sbid:\n        from: obs_id\n        transform: sbid_digits\n      db_password:\n        from: 98765432123\n      api_token:\n        from: x\n        transform: S3CR3T-TRANSFORM"),
            "  path: graphs/hires.graph", "  url: \"https://u:S3CR3T-PROJECT-URL@g.example.org/g\""),
        "executions/e.yaml": """
            apiVersion: beampipe.dev/v1
            kind: Execution
            metadata: {name: e, description: "\(pem.replacingOccurrences(of: "S3CR3T-PEM-BODY", with: "S3CR3T-EXEC-DESC"))"}
            spec:
              project_module: survey_hires
              graph: {url: "https://user:S3CR3T-GRAPH@g.example.org/g.graph", sha256: \(graphSHA)}

            """,
    ]

    static func renderings(_ d: Diagnostic) throws -> [String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var out = [d.description, d.message, d.path]
        if let h = d.hint { out.append(h) }
        out.append(String(decoding: try encoder.encode(d), as: UTF8.self))
        return out
    }

    @Test("secrets planted in profiles, projects and executions appear in no diagnostic, text or JSON")
    func noSecretInAnyDiagnostic() throws {
        let result = loadRepository(Self.repository)
        #expect(result.state == nil)
        // Each planted secret is found: the file is refused, and the diagnostic names the field.
        let paths = Set(result.diagnostics.errors.map { "\($0.location?.file ?? ""):\($0.path)" })
        for expected in ["profiles/rest.yaml:description", "profiles/rest.yaml:translation.tm_url", "profiles/rest.yaml:deployment.deploy_host",
                         "profiles/rest.yaml:deployment.dim_host_for_tm", "profiles/rest.yaml:deployment.password",
                         "profiles/slurm.yaml:deployment.login_node", "profiles/slurm.yaml:deployment.remote_user",
                         "profiles/slurm.yaml:deployment.api_token", "profiles/slurm.yaml:deployment.resources.db_password",
                         "profiles/dup.yaml:deployment.secret", "profiles/kind.yaml:kind", "profiles/scp.yaml:deployment.home_dir", "projects/p.yaml:adapters.casda_tap_url",
                         "projects/p.yaml:graph.url", "executions/e.yaml:metadata.description", "executions/e.yaml:spec.graph.url"] {
            #expect(paths.contains(expected), "no error for \(expected): \(paths.sorted())")
        }
        for d in result.diagnostics {
            for text in try Self.renderings(d) {
                for secret in Self.secrets {
                    #expect(!text.contains(secret), "\(secret) echoed in: \(text)")
                }
            }
        }
    }

    @Test("loose files are checked the same way")
    func looseFiles() throws {
        let files = Self.repository.map { SourceFile(path: $0.key, bytes: Array($0.value.utf8)) }
        let result = DesiredStateLoader.loadLoose(files: files)
        #expect(!result.diagnostics.isEmpty)
        for d in result.diagnostics {
            for text in try Self.renderings(d) {
                for secret in Self.secrets { #expect(!text.contains(secret), "\(secret) echoed in: \(text)") }
            }
        }
    }

    @Test("a URL's credentials are shown as REDACTED when the URL is shown at all")
    func redactedUserinfo() throws {
        let (_, d) = decodeProfile(replacing(restProfileYAML, "tm_url", with: "\"http://admin:S3CR3T-TM@tm.example.org:8084\""))
        let e = try #require(d.errors.first { $0.path == "translation.tm_url" })
        #expect(!e.description.contains("S3CR3T-TM") && !e.description.contains("admin:"))
        if e.message.contains("tm.example.org") { #expect(e.message.contains("REDACTED")) }
    }

    @Test("the inline-secret hint names the credential slot directory and the variables beamsync reads")
    func hintNamesRealVariables() throws {
        let (_, d) = decodeProfile(replacing(slurmProfileYAML, "private_key", with: "abc", under: "deployment"))
        let e = try #require(d.errors.first { $0.code == .inlineSecret }, "\(d)")
        let hint = try #require(e.hint)
        for name in ["ssh_credential", "$BEAMSYNC_SSH_CREDENTIALS_DIR/<slot>/", "SLURM_SSH_PRIVATE_KEY_FILE",
                     "SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE", "SLURM_SSH_KNOWN_HOSTS_SOURCE"] {
            #expect(hint.contains(name), "hint lacks \(name): \(hint)")
        }
        #expect(!hint.contains("SLURM_SSH_PRIVATE_KEY_PATH"))
    }
}
