import BeamsyncModel
import Foundation
import Testing

/// A REST profile every field test starts from; each case replaces one line.
let restProfileYAML = """
    apiVersion: beampipe.dev/v1
    kind: DeploymentProfile
    name: dlg-dim
    description: DALiuGE DIM on the cluster
    project_module: wallaby_hires
    is_default: true
    max_concurrent_executions: 1
    translation:
      algo: metis
      num_par: 1
      num_islands: 0
      tm_url: http://dlg-tm:8084
    deployment:
      kind: rest_remote
      dim_host_for_tm: dlg-dim
      dim_port_for_tm: 8001
      deploy_host: dlg-dim.example.org
      deploy_port: 8001
      use_https: false
      verify_ssl: true

    """

let slurmProfileYAML = """
    name: slurm-remote
    translation:
      algo: metis
    deployment:
      kind: slurm_remote
      login_node: setonix.pawsey.org.au
      ssh_port: 22
      account: pawsey0411
      home_dir: /home/beampipe
      log_dir: /scratch/pawsey0411/beampipe/logs
      dlg_root: /scratch/pawsey0411/beampipe/dlg
      job_duration_minutes: 30
      num_nodes: 1
      num_islands: 1
      max_threads: 0
      all_nics: false
      ssh_credential: setonix
      resources:
        partition: work
        tasks: 4
        cpus_per_task: 2
        memory: 64G
      manager_topology:
        co_host_dim: false

    """

/// The smallest valid profile, written in flow style.
let inlineProfileYAML = """
    name: minimal
    translation: {}
    deployment: {kind: rest_remote, deploy_host: dim.example.org}

    """

/// Replaces the first line that starts (after indentation) with `key:` by `key: value`,
/// or appends the line after the line starting with `after:` (same indentation + 2) when the key is absent.
func replacing(_ yaml: String, _ key: String, with value: String?, under parent: String? = nil) -> String {
    var lines = yaml.components(separatedBy: "\n")
    if let i = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(key + ":") }) {
        let indent = lines[i].prefix { $0 == " " }
        if let value { lines[i] = indent + key + ": " + value } else { lines.remove(at: i) }
    } else if let value {
        if let parent, let p = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == parent + ":" }) {
            let indent = String(lines[p].prefix { $0 == " " }) + "  "
            lines.insert(indent + key + ": " + value, at: p + 1)
        } else {
            lines.insert(key + ": " + value, at: lines.count - 1)
        }
    }
    return lines.joined(separator: "\n")
}

/// 1-based line and column of the value written after `key: ` (or of the key when `atKey`).
func position(of key: String, in yaml: String, atKey: Bool = false) -> (line: Int, column: Int)? {
    for (i, line) in yaml.components(separatedBy: "\n").enumerated() {
        let trimmed = line.drop { $0 == " " }
        guard trimmed.hasPrefix(key + ":") else { continue }
        let keyColumn = line.count - trimmed.count + 1
        if atKey { return (i + 1, keyColumn) }
        return (i + 1, keyColumn + key.count + 2)
    }
    return nil
}

/// Parses one profile document; returns the profile and every diagnostic.
func decodeProfile(_ yaml: String, file: String = "profiles/test.yaml") -> (DeploymentProfile?, [Diagnostic]) {
    let result = DesiredStateLoader.load(files: [SourceFile(path: file, bytes: Array(yaml.utf8))])
    return (result.state?.profiles.first?.value, result.diagnostics)
}

/// Loads a small repository given as path → text.
func loadRepository(_ files: [String: String], external: [ExternalProfile] = []) -> LoadResult {
    var options = LoadOptions()
    options.externalProfiles = external
    return DesiredStateLoader.load(files: files.sorted { $0.key < $1.key }.map { SourceFile(path: $0.key, bytes: Array($0.value.utf8)) },
                                   options: options)
}
