import Foundation

/// The local Slurm cluster and SSH login node `scripts/slurm.sh start DIR` runs, as its
/// `BEAMSYNC_TEST_SLURM_*` variables describe it, plus the Translator Manager of `scripts/dlg.sh`
/// (`BEAMSYNC_TEST_TM_URL`) that Slurm executions translate with.
public struct SlurmTestCluster: Sendable {
    public let directory: String
    public let script: String
    public let host: String
    public let port: Int
    public let user: String
    public let key: String
    public let passphraseKey: String
    public let passphraseFile: String
    public let rsaKey: String
    public let knownHosts: String
    public let account: String
    public let foreignAccount: String
    public let partition: String
    public let homeDir: String
    public let dlgRoot: String
    public let logDir: String
    public let venv: String
    public let noisyUser: String
    public let noisyHomeDir: String
    public let slurmConf: String
    public let tmURL: String?

    /// nil unless `scripts/slurm.sh start` exported its variables.
    public static let current: SlurmTestCluster? = {
        let env = ProcessInfo.processInfo.environment
        func value(_ name: String) -> String? { env["BEAMSYNC_TEST_SLURM_" + name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let directory = value("DIR"), let port = value("PORT").flatMap(Int.init), let key = value("KEY"),
              let knownHosts = value("KNOWN_HOSTS"), let home = value("HOME_DIR") else { return nil }
        return SlurmTestCluster(
            directory: directory, script: value("SCRIPT") ?? "scripts/slurm.sh", host: value("HOST") ?? "127.0.0.1", port: port,
            user: value("USER") ?? "hpcuser", key: key, passphraseKey: value("PASSPHRASE_KEY") ?? "",
            passphraseFile: value("PASSPHRASE_FILE") ?? "", rsaKey: value("RSA_KEY") ?? "", knownHosts: knownHosts,
            account: value("ACCOUNT") ?? "testacct", foreignAccount: value("FOREIGN_ACCOUNT") ?? "foreignacct",
            partition: value("PARTITION") ?? "work", homeDir: home, dlgRoot: value("DLG_ROOT") ?? home + "/dlg",
            logDir: value("LOG_DIR") ?? home + "/dlg/log", venv: value("VENV") ?? "/var/cache/beamsync/slurm-dlg-venv",
            noisyUser: value("NOISY_USER") ?? "hpcnoisy", noisyHomeDir: value("NOISY_HOME_DIR") ?? "",
            slurmConf: value("CONF") ?? directory + "/etc/slurm.conf", tmURL: env["BEAMSYNC_TEST_TM_URL"])
    }()

    /// The cluster; `TestServices.Missing` (naming how to start it) when it is not configured, or
    /// when `translator` is asked for and no Translator Manager is.
    public static func required(translator: Bool = false) throws -> SlurmTestCluster {
        guard let cluster = current else { throw TestServices.Missing(.slurm) }
        if translator && cluster.tmURL == nil { throw TestServices.Missing(.daliuge) }
        return cluster
    }

    /// `source <venv>/bin/activate`, as a profile's `venv` is written.
    public var venvCommand: String { "source \(venv)/bin/activate" }

    /// The environment the SSH key policy reads in production, with this cluster's key and known_hosts.
    public var productionEnvironment: [String: String] {
        ["BEAMPIPE_ENV": "production", "SLURM_SSH_PRIVATE_KEY_FILE": key, "SLURM_SSH_KNOWN_HOSTS_SOURCE": knownHosts,
         "BEAMPIPE_USE_REAL_BACKENDS": "true"]
    }

    /// A `slurm_remote` deployment (JSON) for the test user, or another login user of the cluster.
    public func deploymentJSON(user: String? = nil, minutes: Int = 5, extra: [String: String] = [:]) -> String {
        let login = user ?? self.user
        let home = login == self.user ? homeDir : (homeDir as NSString).deletingLastPathComponent + "/" + login
        var fields: [String: String] = [
            "kind": "\"slurm_remote\"", "login_node": "\"\(host)\"", "ssh_port": "\(port)", "remote_user": "\"\(login)\"",
            "account": "\"\(account)\"", "home_dir": "\"\(home)\"", "log_dir": "\"\(home)/dlg/log\"", "dlg_root": "\"\(home)/dlg\"",
            "venv": "\"\(venvCommand)\"", "job_duration_minutes": "\(minutes)", "resources": "{\"partition\": \"\(partition)\"}",
        ]
        for (k, v) in extra { fields[k] = v }
        return "{" + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
    }

    /// The translation settings Slurm profiles of these tests use (one partition, one island).
    public var translationJSON: String {
        "{\"algo\": \"metis\", \"num_par\": 1, \"num_islands\": 1, \"tm_url\": \"\(tmURL ?? "http://127.0.0.1:9")\"}"
    }

    /// Restarts the login node's sshd: every SSH connection to it drops; jobs keep running.
    public func restartSSHD() throws {
        _ = try Self.run("/bin/bash", [script, "restart-sshd", directory])
    }

    /// Runs a Slurm client command on this machine as root (squeue, sacct, scancel), against the cluster.
    public func slurm(_ command: String, _ arguments: [String]) throws -> String {
        try Self.run("/usr/bin/" + command, arguments, environment: ["SLURM_CONF": slurmConf])
    }

    /// Job ids named `name` in sacct (every state).
    public func accountedJobs(named name: String) throws -> [String] {
        try slurm("sacct", ["-n", "-X", "-P", "-a", "--name=\(name)", "--starttime=now-1days", "-o", "JobIDRaw"])
            .split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// sacct's jobs under `name` once they equal `expected`, or what it lists after `seconds`:
    /// slurmdbd records a job a moment after slurmctld has ended it, so a job just seen
    /// COMPLETED in squeue may not be in sacct yet. A second job would still show.
    public func accountedJobs(named name: String, settlingOn expected: [String], within seconds: Double = 15) throws -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        var jobs = try accountedJobs(named: name)
        while jobs != expected && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            jobs = try accountedJobs(named: name)
        }
        return jobs
    }

    /// Job ids squeue lists under `name`, in every state (jobs that ended stay listed for MinJobAge).
    public func listedJobs(named name: String) throws -> [String] {
        try slurm("squeue", ["-h", "-a", "-t", "all", "--name=\(name)", "-o", "%i"])
            .split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// sacct's state of a job (`COMPLETED`, `CANCELLED by 1001`, ...).
    public func accountedState(_ job: String) throws -> String {
        try slurm("sacct", ["-n", "-X", "-P", "-j", job, "-o", "State"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Job ids squeue lists as pending, running or completing (without `-t all`).
    public func queuedJobs(_ ids: [String]) throws -> [String] {
        (try? slurm("squeue", ["-h", "-j", ids.joined(separator: ","), "-o", "%i"]))?
            .split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } ?? []
    }

    public struct CommandFailed: Error, CustomStringConvertible {
        public let description: String
    }

    @discardableResult
    static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailed(description: "\(program) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): "
                                + String(decoding: errors, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self)
    }
}
