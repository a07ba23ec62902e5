import BeamsyncModel
import Testing

@Suite("spec_sha256 and canonical JSON")
struct SpecHashTests {
    @Test("SHA-256 matches the NIST vectors")
    func nist() {
        #expect(SHA256Digest.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256Digest.hex(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    // Vectors computed independently with beampipe's own Rust hashing code (serde_json over a
    // json! object, sorted keys) and cross-checked with Python:
    //   json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=False) → sha256
    @Test("beampipe's dlg-dim example hashes to beampipe's value")
    func dlgDimVector() throws {
        let json = """
            {
              "name": "dlg-dim",
              "description": "Local DALiuGE Translator Manager and Data Island Manager over the shared Docker network",
              "project_module": "wallaby_hires",
              "is_default": true,
              "max_concurrent_executions": 1,
              "translation": {"algo": "metis", "num_par": 1, "num_islands": 0, "tm_url": "http://dlg-tm:8084"},
              "deployment": {"kind": "rest_remote", "dim_host_for_tm": "dlg-dim", "dim_port_for_tm": 8001,
                             "deploy_host": "dlg-dim", "deploy_port": 8001, "use_https": false, "verify_ssl": true}
            }
            """
        let (p, d) = decodeProfile(json, file: "profiles/dlg-dim.json")
        let profile = try #require(p, "\(d)")
        #expect(profile.canonicalSpec.canonicalString == #"{"deployment":{"deploy_host":"dlg-dim","deploy_port":8001,"dim_host_for_tm":"dlg-dim","dim_port_for_tm":8001,"kind":"rest_remote","use_https":false,"verify_ssl":true},"description":"Local DALiuGE Translator Manager and Data Island Manager over the shared Docker network","is_default":true,"max_concurrent_executions":1,"name":"dlg-dim","project_module":"wallaby_hires","translation":{"algo":"metis","num_islands":0,"num_par":1,"tm_url":"http://dlg-tm:8084"}}"#)
        #expect(profile.specSHA256 == "b8b78d2ae6afcb674fef7249f506a4b5ad3f5371dab6e897c2e7c41e8693693c")
    }

    @Test("null ports are omitted from the hash")
    func nullPortsVector() throws {
        let (p, d) = decodeProfile(#"{"name":"r","translation":{},"deployment":{"kind":"rest_remote","deploy_host":"dim","dim_port_for_tm":null,"deploy_port":null}}"#)
        #expect(try #require(p, "\(d)").specSHA256 == "bead57cd9478a77a975257b7a8d076733078ea41ac55eb15094445f59abce1dc")
    }

    @Test("a minimal slurm profile hashes with every default filled in")
    func minimalSlurmVector() throws {
        let (p, d) = decodeProfile(#"{"name":"s","translation":{},"deployment":{"kind":"slurm_remote","login_node":"l","account":"a","home_dir":"/h","log_dir":"/l","dlg_root":"/d"}}"#)
        #expect(try #require(p, "\(d)").specSHA256 == "3cb86863dbde9b86034c512e41ca1544a768f2059265b36078c44f991c5306e3")
    }

    @Test("beampipe's slurm-remote example hashes to beampipe's value")
    func slurmRemoteVector() throws {
        let yaml = """
            name: slurm-remote
            description: WALLABY HiRes on Setonix via slurm_remote
            project_module: wallaby_hires
            is_default: false
            translation: {algo: metis, num_par: 1, num_islands: 1, tm_url: "http://dlg-tm.desk"}
            deployment:
              kind: slurm_remote
              login_node: setonix.pawsey.org.au
              ssh_port: 22
              remote_user: jblackwood
              ssh_credential: setonix
              facility: setonix
              account: pawsey0411
              home_dir: /scratch/pawsey0411
              dlg_root: /scratch/pawsey0411/jblackwood/dlg
              log_dir: /scratch/pawsey0411/jblackwood/dlg/log
              modules: module load singularity/4.1.0-askap && module load py-numpy/1.26.4 && module use /group/askap/modulefiles
              venv: source /software/projects/pawsey0411/jblackwood/venv/bin/activate
              environment_setup: export BEAMPIPE_ASKAPSOFT_SIF="$BEAMPIPE_ASKAPSOFT_SIF"
              exec_prefix: srun -l
              job_duration_minutes: 50
              num_nodes: 1
              num_islands: 1
              resources: {partition: work, nodes: 1, tasks: 1, cpus_per_task: 1, wall_time_minutes: 50}
              manager_topology: {nodes: 1, islands: 1, co_host_dim: false}
              max_threads: 0
              verbose_level: 1
              all_nics: false
              zerorun: false
              sleepncopy: false
              check_with_session: false
              verify_ssl: false

            """
        let (p, d) = decodeProfile(yaml)
        #expect(try #require(p, "\(d)").specSHA256 == "abd7796385575f6be00d1708c71281899719dcb724e9f015b3ecc9e669884096")
    }

    @Test("JSON, block YAML and flow YAML with shuffled keys hash the same")
    func formatIndependence() throws {
        let block = restProfileYAML
        let flow = """
            {deployment: {verify_ssl: true, use_https: false, deploy_port: 8001, deploy_host: dlg-dim.example.org, dim_port_for_tm: 8001, dim_host_for_tm: dlg-dim, kind: rest_remote},
             translation: {tm_url: "http://dlg-tm:8084", num_islands: 0, num_par: 1, algo: metis},
             max_concurrent_executions: 1, is_default: true, project_module: wallaby_hires,
             description: DALiuGE DIM on the cluster, name: dlg-dim, kind: DeploymentProfile, apiVersion: beampipe.dev/v1}
            """
        let json = """
            {"translation":{"num_par":1,"algo":"metis","tm_url":"http://dlg-tm:8084","num_islands":0},"name":"dlg-dim",
            "deployment":{"deploy_host":"dlg-dim.example.org","kind":"rest_remote","dim_host_for_tm":"dlg-dim","dim_port_for_tm":8001,
            "deploy_port":8001,"use_https":false,"verify_ssl":true},"project_module":"wallaby_hires","is_default":true,
            "max_concurrent_executions":1,"description":"DALiuGE DIM on the cluster"}
            """
        let reindented = block.replacingOccurrences(of: "\n  ", with: "\n      ")
        let hashes = try [block, flow, json, reindented].map { text in try #require(decodeProfile(text).0, "\(decodeProfile(text).1)").specSHA256 }
        #expect(Set(hashes).count == 1)
        // Defaults written out explicitly hash the same as defaults left out.
        let explicit = try #require(decodeProfile(inlineProfileYAML).0).specSHA256
        let withDefaults = try #require(decodeProfile("""
            name: minimal
            is_default: false
            translation: {algo: metis, num_par: 1, num_islands: 0}
            deployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: 8001, dim_port_for_tm: 8001, use_https: false, verify_ssl: true}

            """).0).specSHA256
        #expect(explicit == withDefaults)
    }

    @Test("is_default is part of the hash; description changes it")
    func hashSensitivity() throws {
        let base = try #require(decodeProfile(restProfileYAML).0).specSHA256
        let notDefault = try #require(decodeProfile(replacing(restProfileYAML, "is_default", with: "false")).0).specSHA256
        let otherDescription = try #require(decodeProfile(replacing(restProfileYAML, "description", with: "other")).0).specSHA256
        #expect(base != notDefault && base != otherDescription && notDefault != otherDescription)
    }

    @Test("canonical JSON escapes like serde_json: no slash escaping, raw UTF-8, \\u00XX for controls")
    func escaping() {
        let p = DeploymentProfile(name: "ünï", description: "tab\there \"q\" back\\slash ctrl\u{01} é/", translation: .init(algo: .mysarkar, numPar: 4, numIslands: 2),
                                  deployment: .restRemote(.init(deployHost: "h", useHTTPS: true, verifySSL: false)))
        // Python: json.dumps(..., sort_keys=True, separators=(',',':'), ensure_ascii=False)
        #expect(p.canonicalSpec.canonicalString == #"{"deployment":{"deploy_host":"h","deploy_port":8001,"dim_port_for_tm":8001,"kind":"rest_remote","use_https":true,"verify_ssl":false},"description":"tab\there \"q\" back\\slash ctrl\u0001 é/","is_default":false,"max_concurrent_executions":null,"name":"ünï","project_module":null,"translation":{"algo":"mysarkar","num_islands":2,"num_par":4}}"#)
        #expect(p.specSHA256 == "e7e7b0f7994630afebbf5e492ab1fb9eb0b8c607784628ec2714a9d1ee119684")
    }

    @Test("floats print like Rust's ryu")
    func floats() {
        #expect(JSONValue.double(60).canonicalString == "60.0")
        #expect(JSONValue.double(2.5).canonicalString == "2.5")
        #expect(JSONValue.double(1e300).canonicalString == "1e300")
        #expect(JSONValue.double(1.5e-7).canonicalString == "1.5e-7")
    }

    @Test("the JSON parser round-trips canonical output")
    func parseRoundTrip() throws {
        let p = try #require(decodeProfile(slurmProfileYAML).0)
        let text = p.canonicalSpec.canonicalString
        #expect(try JSONValue.parse(text) == p.canonicalSpec)
        #expect(try JSONValue.parse(#"{"a":"\u00e9\ud83d\ude00\/"}"#) == .object(["a": .string("é😀/")]))
    }
}
