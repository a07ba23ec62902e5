import BeamsyncModel
import BeamsyncSSH
import BeamsyncTime
import Foundation

/// A profile's Slurm settings that cannot work as they stand.
public struct SlurmSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// The command lines the `slurm_remote` backend runs on a login node. Profile values are quoted
/// as single shell words; `modules`, `venv` and `environment_setup` are shell text by design and
/// run as written, inside a login shell (`bash -lc`) so the site's profile (module system) is set up.
public struct SlurmCommands: Sendable {
    let slurm: SlurmRemoteDeployment
    /// Read for the variables `environment_setup` names that must come from beamsync's environment.
    let environment: [String: String]

    public init(slurm: SlurmRemoteDeployment, environment: [String: String]) {
        self.slurm = slurm
        self.environment = environment
    }

    /// `bash -lc '<script>'`.
    static func loginShell(_ script: String) -> String {
        "bash -lc \(ShellQuote.quote(script))"
    }

    /// Variables a site's `environment_setup` may take from the worker's environment (beampipe
    /// passes the ASKAPsoft container image this way).
    static let forwardedVariables = ["BEAMPIPE_ASKAPSOFT_SIF"]

    /// The forwarded variables `environment_setup` mentions, with their values.
    func forwarded() throws(SlurmSetupError) -> [(String, String)] {
        guard let setup = slurm.environmentSetup else { return [] }
        var result: [(String, String)] = []
        for name in Self.forwardedVariables where setup.contains(name) {
            guard let value = environment[name], !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw SlurmSetupError(description: "deployment.environment_setup uses \(name), but it is not set in beamsync's "
                                      + "environment; set it where beamsync runs (it is passed to the job)")
            }
            result.append((name, value))
        }
        return result
    }

    /// beampipe's environment prelude: strict mode, the account, then modules, venv and the site's
    /// environment_setup as written (each with `set -u` off, since module and activate scripts
    /// read unset variables), then the account again in case the setup changed it.
    func prelude() throws(SlurmSetupError) -> String {
        let account = "export BEAMPIPE_SLURM_ACCOUNT=\(ShellQuote.quote(slurm.account))"
        var lines = ["set -euo pipefail", account]
        for (name, value) in try forwarded() { lines.append("export \(name)=\(ShellQuote.quote(value))") }
        for snippet in [slurm.modules, slurm.venv, slurm.environmentSetup] {
            guard let text = DaliugeSubmitConfig.nonBlank(snippet) else { continue }
            lines += ["set +u", text, "set -u"]
        }
        if DaliugeSubmitConfig.nonBlank(slurm.environmentSetup) != nil { lines.append(account) }
        return lines.joined(separator: "\n")
    }

    /// DALiuGE's `create_dlg_job` writing the job script (submit=False in the INI: no sbatch).
    /// The profile's switches DALiuGE reads only as flags are passed as flags (an INI value
    /// `False` would read as true).
    func createJobScript(graph: String, config: String, template: String?) throws(SlurmSetupError) -> String {
        var command = ["python3", "-m", "dlg.deploy.create_dlg_job", "--action", "submit", "-f", slurm.facility, "-P", graph,
                       "--config_file", config].map(ShellQuote.quote)
        if let template { command += ["--slurm_template", ShellQuote.quote(template)] }
        if slurm.zerorun { command.append("--zerorun") }
        if slurm.sleepncopy { command.append("--sleepncopy") }
        if slurm.checkWithSession { command.append("--check_with_session") }
        return Self.loginShell(try prelude() + "\nexport DLG_ROOT=\(ShellQuote.quote(slurm.dlgRoot))\n" + command.joined(separator: " "))
    }

    /// `sbatch --parsable` from the session directory (the job script's relative `--error`
    /// path lands there), exporting the login environment, with the account and the profile's
    /// resources; the job is named `jobName` so it can be found again.
    func sbatch(jobScript: String, sessionDir: String, jobName: String) throws(SlurmSetupError) -> String {
        var exports = ["ALL", "BEAMPIPE_SLURM_ACCOUNT"]
        exports += try forwarded().map(\.0)
        var options = ["--export=\(exports.joined(separator: ","))", "--parsable", "--job-name=\(jobName)",
                       "--account=\(slurm.account)", "--nodes=\(slurm.effectiveNodes)", "--time=\(Self.wallTime(slurm.effectiveWallTimeMinutes))"]
        let resources = slurm.resources
        if let partition = resources.partition { options.append("--partition=\(partition)") }
        if let memory = resources.memory { options.append("--mem=\(memory)") }
        if let constraint = resources.constraint { options.append("--constraint=\(constraint)") }
        if let qos = resources.qualityOfService { options.append("--qos=\(qos)") }
        if let tasks = resources.tasks { options.append("--ntasks=\(tasks)") }
        if let cpus = resources.cpusPerTask { options.append("--cpus-per-task=\(cpus)") }
        let line = (["sbatch"] + options + [jobScript]).map(ShellQuote.quote).joined(separator: " ")
        return Self.loginShell(try prelude() + "\numask 077\ncd -- \(ShellQuote.quote(sessionDir))\n" + line)
    }

    /// Imports `create_dlg_job` under the profile's modules and venv (what `slurm ping` checks).
    public func importCheck() throws(SlurmSetupError) -> String {
        Self.loginShell(try prelude() + "\nexport DLG_ROOT=\(ShellQuote.quote(slurm.dlgRoot))\n"
                        + "python3 -c 'import dlg.deploy.create_dlg_job'")
    }

    /// `HH:MM:00`, as beampipe writes `--time`.
    static func wallTime(_ minutes: Int) -> String {
        let m = max(1, minutes)
        let hours = m / 60, rest = m % 60
        return (hours < 10 ? "0" : "") + "\(hours):" + (rest < 10 ? "0" : "") + "\(rest):00"
    }

    /// Every job named `name`, from squeue (pending, running and recently finished) and sacct
    /// (since `since`, UTC), one id per line; fails when either command fails.
    static func jobsNamed(_ name: String, since: Date) -> String {
        let quoted = ShellQuote.quote(name)
        // sacct reads `YYYY-MM-DDTHH:MM:SS` in its TZ, which the command sets to UTC.
        let start = ShellQuote.quote(String(UTCTimestamp(since).iso8601().dropLast()))
        return "set -e; squeue -h -t all --name=\(quoted) -o '%i'; TZ=UTC sacct -n -X -P --name=\(quoted) --starttime=\(start) -o JobIDRaw"
    }

    /// `scancel` for each job (silent and successful also for jobs that already ended).
    static func scancel(_ jobs: [String]) -> String {
        "scancel -- " + jobs.map(ShellQuote.quote).joined(separator: " ")
    }

    /// One poll of many jobs in one round trip: squeue for all of them (`Q|id|state|reason`
    /// lines, then `R|<exit status>`), and the last DALiuGE session status line of each session
    /// directory whose job squeue does not list as pending (`D|<log path>|<line>`), read by a single
    /// awk. Which logs to read is decided by the shell's `case` on squeue's answer (no process per
    /// job): a queued job has no DALiuGE log yet, while a running or ended one (also one squeue no
    /// longer lists) needs its last session status, as a job can end 0 with its graph failed.
    static func poll(jobs: [String], sessionDirs: [String: String]) -> String {
        var script = "q=$(squeue -h -t all -j \(jobs.joined(separator: ",")) -o 'Q|%i|%T|%r' 2>&1); r=$?; printf '%s\\n' \"$q\"; echo \"R|$r\""
        let withLogs = jobs.compactMap { job in sessionDirs[job].map { (job, $0) } }
        if !withLogs.isEmpty {
            script += "; set --"
            for (job, dir) in withLogs {
                script += "; case \"$q\" in *\"Q|\(job)|PENDING|\"*) ;; *) set -- \"$@\" "
                    + ShellQuote.quote(dir) + "/*/start_dlg_cluster.log;; esac"
            }
            script += "; if [ $# -gt 0 ]; then awk '/Session status:/ { last[FILENAME] = $0 } END { for (f in last) print \"D|\" f \"|\" last[f] }' "
                + "\"$@\" 2>/dev/null; fi; true"
        }
        return script
    }

    /// Accounting records of jobs squeue no longer (or not yet) lists, and of finished ones.
    static func sacct(_ jobs: [String]) -> String {
        "sacct -n -P -j \(jobs.joined(separator: ",")) --format=JobID,State,ExitCode"
    }

    /// The lines of the DALiuGE managers' logs that name drops in error.
    static func failedDropLines(sessionDir: String) -> String {
        let dir = ShellQuote.quote(sessionDir)
        return "grep -h -e 'Error while executing <' -e '> to ERROR' \(dir)/dlg_*.log \(dir)/*/dlgNM.*.log 2>/dev/null | head -n 200; true"
    }
}
