import BeamsyncCLI
import BeamsyncModel
import Foundation

// Fixed workloads that measure beamsync's hot paths. Run with `scripts/bench.sh` (release build).
// Each line prints the figure, the goal from the issue, and the ratio goal/measured (>1 beats it).

func measure(_ label: String, goalSeconds: Double, repeats: Int = 3, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let verdict = best <= goalSeconds ? "ok" : "SLOWER THAN GOAL"
    let padded = label.padding(toLength: 52, withPad: " ", startingAt: 0)
    print(padded + String(format: " %8.3f s   goal %.2f s   ratio %.2fx  ", best, goalSeconds, goalSeconds / best) + verdict)
    return best
}

/// Writes `count` distinct, valid profile files (half REST, half Slurm, ten projects) to `dir`.
func generateProfiles(count: Int, in dir: URL) throws {
    let profiles = dir.appendingPathComponent("profiles")
    try FileManager.default.createDirectory(at: profiles, withIntermediateDirectories: true)
    for i in 0..<count {
        let text: String
        if i % 2 == 0 {
            text = """
                # yaml-language-server: $schema=../deployment-profile.schema.json
                apiVersion: beampipe.dev/v1
                kind: DeploymentProfile
                name: rest-\(i)
                description: Generated REST profile number \(i)
                project_module: project-\(i % 10)
                is_default: false
                max_concurrent_executions: \(1 + i % 4)
                translation:
                  algo: metis
                  num_par: \(1 + i % 8)
                  num_islands: 0
                  tm_url: http://dlg-tm-\(i % 3):8084
                deployment:
                  kind: rest_remote
                  dim_host_for_tm: dim-\(i % 5)
                  dim_port_for_tm: 8001
                  deploy_host: dim-\(i % 5).example.org
                  deploy_port: 8001
                  use_https: false
                  verify_ssl: true

                """
        } else {
            text = """
                name: slurm-\(i)
                description: Generated Slurm profile number \(i)
                project_module: project-\(i % 10)
                translation: {algo: mysarkar, num_par: \(1 + i % 8), num_islands: 1}
                deployment:
                  kind: slurm_remote
                  login_node: login\(i % 4).example.org
                  ssh_port: 22
                  account: acct\(i % 7)
                  home_dir: /home/beampipe
                  log_dir: /scratch/beampipe/logs
                  dlg_root: /scratch/beampipe/dlg
                  job_duration_minutes: \(10 + i % 50)
                  num_nodes: \(1 + i % 3)
                  ssh_credential: slot-\(i % 3)
                  resources: {partition: work, memory: 64G}

                """
        }
        try text.write(to: profiles.appendingPathComponent(String(format: "p%05d.yaml", i)), atomically: false, encoding: .utf8)
    }
}

let workDir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-bench-\(getpid())")
defer { try? FileManager.default.removeItem(at: workDir) }
try generateProfiles(count: 10_000, in: workDir)
print("beamsync bench — \(ProcessInfo.processInfo.activeProcessorCount) cores, workload: 10,000 profile files (\(workDir.path))")

var documents = 0
_ = measure("validate 10,000 profile files (read+parse+check)", goalSeconds: 1.0) {
    let report = ValidationRun.run(paths: [workDir.path])
    precondition(report.isValid, "generated workload must be valid: \(report.diagnostics.prefix(3))")
    documents = report.documents
}
precondition(documents == 10_000)
let tree = DirectoryTree.read(root: workDir.path)
_ = measure("  of which parse+check only (files in memory)", goalSeconds: 1.0) {
    _ = DesiredStateLoader.load(files: tree.files)
}
var serial = LoadOptions()
serial.parallel = false
_ = measure("  parse+check on one thread", goalSeconds: 2.0) {
    _ = DesiredStateLoader.load(files: tree.files, options: serial)
}
let loaded = DesiredStateLoader.load(files: tree.files)
_ = measure("spec_sha256 of 10,000 profiles", goalSeconds: 0.2) {
    var n = 0
    for p in loaded.state!.profiles { n &+= p.value.specSHA256.utf8.count }
    precondition(n == 640_000)
}
