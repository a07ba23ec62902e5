import BeamsyncModel
import Foundation
import Testing

/// Hosts must be host names or IP literals, and the values beamsync (and beampipe) put into a
/// shell command on the login node or into a URL must not carry shell syntax they never need.
@Suite("Hosts and values that reach a shell")
struct HostAndShellFieldTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var base: ProfileFieldCase.Base
        var key: String
        var value: String
        var path: String
        var parent: String? = nil
        var testDescription: String { "\(path) = \(value)" }

        var yaml: String { replacing(base == .rest ? restProfileYAML : slurmProfileYAML, key, with: value, under: parent) }
    }

    static let hostFields: [(ProfileFieldCase.Base, String, String)] = [
        (.rest, "deploy_host", "deployment.deploy_host"),
        (.rest, "dim_host_for_tm", "deployment.dim_host_for_tm"),
        (.slurm, "login_node", "deployment.login_node"),
    ]

    static let goodHosts = ["dim.example.org", "localhost", "h", "dlg-dim", "dlg_dim", "login.example.org.", "a1-b2.c3",
                            "10.0.0.5", "0.0.0.0", "::1", "\"[fd00::5]\"", "fe80::1:2", "2001:db8::192.0.2.1", "2001:db8:0:0:1:0:0:1"]
    static let badHosts = ["\"127.0.0.1; rm -rf / #\"", "http://dim.example.org", "dim.example.org:8001", "user@dim", "-dim",
                           "dim-.example.org", "dim..example.org", "256.1.1.1", "1.2.3", "\"dim example\"", "1::2::3", "\"[::1\"",
                           "fd00::5%eth0", String(repeating: "a", count: 64) + ".example.org", "$(hostname)", "\"`id`\"",
                           "dim.example.org/path", "\" dim.example.org\"", "::g", "1:2:3:4:5:6:7:8:9"]

    static var goodHostCases: [Case] {
        hostFields.flatMap { f in goodHosts.map { Case(base: f.0, key: f.1, value: $0, path: f.2) } }
    }
    static var badHostCases: [Case] {
        hostFields.flatMap { f in badHosts.map { Case(base: f.0, key: f.1, value: $0, path: f.2) } }
    }

    @Test("host names, IPv4 and IPv6 literals are accepted as hosts", arguments: goodHostCases)
    func goodHost(_ c: Case) {
        let (p, d) = decodeProfile(c.yaml)
        #expect(p != nil, "\(d)")
    }

    @Test("anything else in a host field is an error at the value that says what a host is", arguments: badHostCases)
    func badHost(_ c: Case) throws {
        let (p, d) = decodeProfile(c.yaml)
        #expect(p == nil)
        let e = try #require(d.errors.first { $0.path == c.path }, "\(d)")
        #expect(e.code == .invalidValue, "\(e)")
        let at = try #require(position(of: c.key, in: c.yaml))
        #expect(e.location?.line == at.line && e.location?.column == at.column)
        #expect(e.message.contains("host name"), "\(e)")
        #expect(e.hint?.isEmpty == false)
    }

    @Test("a Translator Manager or graph URL whose host is not a host is refused")
    func urlHosts() throws {
        let (p, d) = decodeProfile(replacing(restProfileYAML, "tm_url", with: "\"http://tm.example.org;id:8084\""))
        #expect(p == nil)
        #expect(d.errors.contains { $0.path == "translation.tm_url" && $0.code == .invalidValue }, "\(d)")
        let (q, e) = decodeProfile(replacing(restProfileYAML, "tm_url", with: "\"http://tm.example.org:8084/a b\""))
        #expect(q == nil, "\(e)")
        for good in ["http://tm.example.org:8084", "https://[fd00::1]:8443/tm", "http://10.0.0.1", "http://dlg-tm:8084/?x=1#y"] {
            let (ok, diagnostics) = decodeProfile(replacing(restProfileYAML, "tm_url", with: "\"\(good)\""))
            #expect(ok?.translation.tmURL == good, "\(good): \(diagnostics)")
        }
    }

    static let shellCases: [(key: String, parent: String?, path: String, good: [String], bad: [String])] = [
        ("remote_user", "deployment", "deployment.remote_user",
         ["jblackwood", "ops.user", "svc_beampipe", "first.last@example.org", "u-1"],
         ["\"root; id\"", "$(id)", "-oProxyCommand=x", "\"a b\"", "\"u'x\"", "\"u\\\\x\""]),
        ("account", nil, "deployment.account",
         ["pawsey0411", "pawsey0411-gpu", "proj_a", "a.b"],
         ["\"pawsey0411; scancel -u x\"", "$(id)", "-x", "\"a b\"", "\"a|b\""]),
        ("facility", "deployment", "deployment.facility",
         ["setonix", "galaxy_mwa", "ood_cloud"],
         ["\"setonix && id\"", "-x", "set$onix"]),
        ("partition", nil, "deployment.resources.partition",
         ["work", "work,debug", "gpu-dev"],
         ["\"work;id\"", "\"work debug\""]),
        ("quality_of_service", "resources", "deployment.resources.quality_of_service",
         ["high", "normal"],
         ["\"high$(id)\"", "\"-x\""]),
        ("memory", nil, "deployment.resources.memory",
         ["64G", "200G", "4000M", "\"0\""],
         ["\"64G; id\"", "\"64 G\"", "\"64G>x\""]),
        ("constraint", "resources", "deployment.resources.constraint",
         ["amd", "\"intel&gpu\"", "\"[rack1|rack2]\"", "\"(knl&snc4)*4\""],
         ["\"amd;id\"", "\"a b\"", "\"$(x)\"", "\"`x`\"", "\"a>b\""]),
        ("home_dir", nil, "deployment.home_dir",
         ["/scratch/pawsey0411/user", "/home/user.name/dlg-1", "\"/scratch/p+q,x@y=z:1\"", "/home/üser"],
         ["\"/scratch/x; rm -rf /\"", "\"/scratch/$USER/dlg\"", "\"/scratch/a b\"", "\"/scratch/`id`\"", "\"/scratch/x|y\"", "/scratch/../etc"]),
        ("log_dir", nil, "deployment.log_dir", ["/scratch/logs"], ["\"/scratch/logs&\"", "\"/scratch/*\""]),
        ("dlg_root", nil, "deployment.dlg_root", ["/scratch/dlg"], ["/tmp/..", "\"/scratch/{a,b}\"", "\"/scratch/dlg\\\\x\""]),
        ("container_runtime", "deployment", "deployment.container_runtime", ["apptainer", "singularity"], []),
    ]

    @Test("Slurm and login-node values accept their real forms and refuse shell syntax")
    func shellValues() throws {
        for c in Self.shellCases {
            for value in c.good {
                let (p, d) = decodeProfile(replacing(slurmProfileYAML, c.key, with: value, under: c.parent))
                #expect(p != nil, "\(c.path) = \(value): \(d)")
            }
            for value in c.bad {
                let yaml = replacing(slurmProfileYAML, c.key, with: value, under: c.parent)
                let (p, d) = decodeProfile(yaml)
                #expect(p == nil, "\(c.path) = \(value) was accepted")
                let e = d.errors.first { $0.path == c.path }
                #expect(e?.code == .invalidValue, "\(c.path) = \(value): \(d)")
                #expect(e?.hint?.isEmpty == false)
                let at = try #require(position(of: c.key, in: yaml))
                #expect(e?.location?.line == at.line && e?.location?.column == at.column, "\(c.path) = \(value)")
            }
        }
    }

    @Test("shell snippets keep their shell syntax: modules, venv, environment_setup, exec_prefix, slurm_template")
    func snippetsStayFree() {
        let yaml = """
            name: s
            translation: {}
            deployment:
              kind: slurm_remote
              login_node: setonix.pawsey.org.au
              account: pawsey0411
              home_dir: /scratch/pawsey0411
              log_dir: /scratch/pawsey0411/log
              dlg_root: /scratch/pawsey0411/dlg
              modules: module load singularity/4.1.0 && module use /group/askap/modulefiles
              venv: source /software/venv/bin/activate
              environment_setup: |
                export BEAMPIPE_ASKAPSOFT_SIF="$BEAMPIPE_ASKAPSOFT_SIF"
                ulimit -n 4096; echo "ready" > /dev/null
              exec_prefix: srun -l --mpi=pmix
              slurm_template: |
                #!/bin/bash --login
                #SBATCH --account=$ACCOUNT
                export DLG_ROOT=$DLG_ROOT

            """
        let (p, d) = decodeProfile(yaml)
        #expect(p != nil, "\(d)")
    }
}
