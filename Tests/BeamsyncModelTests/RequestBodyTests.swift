@testable import BeamsyncModel
import Foundation
import Testing

@Suite("Request bodies of the HTTP API")
struct RequestBodyTests {
    @Test("JSON merge patch follows RFC 7396's examples", arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, "null", "null"),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
        ("[1,2]", #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        ("{}", #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func mergePatch(target: String, patch: String, result: String) throws {
        #expect(JSONMergePatch.apply(try JSONValue.parse(patch), to: try JSONValue.parse(target)) == (try JSONValue.parse(result)))
    }

    @Test("a stored profile becomes a document that decodes back to the same profile, null ports included")
    func documentRoundTrip() throws {
        var rest = RestRemoteDeployment(deployHost: "dim")
        rest.dimPortForTM = nil
        let profile = DeploymentProfile(name: "p", projectModule: "x", isDefault: true, maxConcurrentExecutions: 2,
                                        translation: TranslationConfig(numPar: 3), deployment: .restRemote(rest))
        let doc = ProfileRequestBody.document(name: profile.name, description: nil, projectModule: "x", isDefault: true,
                                              maxConcurrentExecutions: 2, translation: profile.translation.json, deployment: profile.deployment.json)
        #expect(doc["deployment"]?["dim_port_for_tm"] == .null)
        guard case .success(let back) = ProfileRequestBody.merge(base: doc, patch: Array("{}".utf8)) else {
            Issue.record("the document does not decode")
            return
        }
        #expect(back.profile == profile)
    }

    @Test("a patch with another deployment kind replaces the deployment; one with the same kind merges into it")
    func kindChange() throws {
        let base = ProfileRequestBody.document(name: "p", description: "d", projectModule: nil, isDefault: false, maxConcurrentExecutions: nil,
                                               translation: TranslationConfig().json,
                                               deployment: RestRemoteDeployment(deployHost: "dim").json)
        let slurm = #"{"deployment": {"kind": "slurm_remote", "login_node": "l", "account": "a", "home_dir": "/h", "log_dir": "/l", "dlg_root": "/d"}}"#
        guard case .success(let replaced) = ProfileRequestBody.merge(base: base, patch: Array(slurm.utf8)) else {
            Issue.record("a whole new deployment of another kind is valid")
            return
        }
        #expect(replaced.profile.deployment.kind == .slurmRemote && replaced.profile.description == "d")
        guard case .success(let merged) = ProfileRequestBody.merge(base: base, patch: Array(#"{"deployment": {"kind": "rest_remote", "deploy_port": 9000}}"#.utf8)),
              case .restRemote(let r) = merged.profile.deployment else {
            Issue.record("same kind: merge")
            return
        }
        #expect(r.deployHost == "dim" && r.deployPort == 9000)
        guard case .failure(.invalid(let problems)) = ProfileRequestBody.merge(base: base, patch: Array(#"{"deployment": {"kind": "slurm_remote"}}"#.utf8)) else {
            Issue.record("a new kind alone is missing its required fields")
            return
        }
        #expect(problems.map(\.path).contains("deployment.login_node") && !problems.map(\.path).contains("deployment.deploy_host"))
    }

    @Test("malformed JSON is told apart from an invalid profile, and duplicate keys are caught as in files")
    func malformed() {
        guard case .failure(.malformedJSON(let m)) = ProfileRequestBody.decode(json: Array(#"{"name": "#.utf8)) else {
            Issue.record("expected malformed JSON")
            return
        }
        #expect(m.contains("at byte"))
        guard case .failure(.invalid(let d)) = ProfileRequestBody.decode(json: Array(#"{"name": "a", "name": "b", "translation": {}, "deployment": {"kind": "rest_remote", "deploy_host": "h"}}"#.utf8)) else {
            Issue.record("expected a duplicate-key error")
            return
        }
        #expect(d.contains { $0.code == .duplicateKey })
    }

    @Test("an execution request: canonical form ignores spacing and padding; the graph comes by URL or as base64")
    func executionRequest() throws {
        let a = ExecutionRequestBody.decode(json: Array(#"{"project_module": "p", "deployment_profile_name": " dim ", "graph": {"url": "https://h/g.graph", "sha256": "\#(String(repeating: "A", count: 64))"}}"#.utf8))
        let b = ExecutionRequestBody.decode(json: Array(#"{"graph": {"sha256": "\#(String(repeating: "a", count: 64))", "url": "https://h/g.graph"}, "deployment_profile_name": "dim", "project_module": "p"}"#.utf8))
        guard case .success(let ra) = a, case .success(let rb) = b else {
            Issue.record("both are valid: \(a) \(b)")
            return
        }
        #expect(ra.canonical == rb.canonical && ra.profile == .name("dim"))
        guard case .failure(.invalid(let d)) = ExecutionRequestBody.decode(json: Array(#"{"project_module": "p", "graph": {"content_base64": "%%%"}, "deployment_profile_id": "x", "deployment_profile_name": "y"}"#.utf8)) else {
            Issue.record("expected problems")
            return
        }
        #expect(Set(d.map(\.path)) == ["graph.content_base64", "deployment_profile_name"])
    }
}
