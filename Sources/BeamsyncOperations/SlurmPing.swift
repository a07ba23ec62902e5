import BeamsyncEngine
import BeamsyncModel
import BeamsyncPlan
import BeamsyncSSH
import Foundation

/// `beamsync slurm ping`: checks a `slurm_remote` profile's target the way the backend will use
/// it, step by step, each timed, stopping at the first failure (later steps are `skipped`):
///
///  1. `credentials`: the SSH key policy resolves key, passphrase and known_hosts (offline);
///  2. `tcp`: a TCP connection to `login_node:ssh_port`;
///  3. `host_key`: the server's host key matches known_hosts;
///  4. `auth`: public-key authentication as the remote user;
///  5. `squeue` and 6. `sacct` answer;
///  7. `account`: the profile's account exists for that user (`sacctmgr show assoc`);
///  8. `directories`: `home_dir`, `log_dir` and `dlg_root` exist and are writable;
///  9. `create_dlg_job`: DALiuGE's `create_dlg_job` imports under the profile's modules and venv.
public struct SlurmPing: TargetChecker {
    public let policy: SSHKeyPolicy
    /// The environment `environment_setup` forwards variables from (as the runner's).
    public let environment: [String: String]
    /// Bound of the whole check.
    public var timeout: Duration = .seconds(90)

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.policy = SSHKeyPolicy(environment: environment)
        self.environment = environment
    }

    public func handles(_ kind: DeploymentKind) -> Bool { kind == .slurmRemote }

    public func check(_ profile: DeploymentProfile) async -> TargetCheckReport {
        guard case .slurmRemote(let slurm) = profile.deployment else {
            return TargetCheckReport(profile: profile.name, kind: .slurm, target: "-", steps: [
                TargetCheckStep(name: "kind", description: "the profile deploys to Slurm", outcome: .failed, seconds: 0,
                                detail: "deployment.kind is \(profile.deployment.kind.rawValue)", hint: "slurm ping checks slurm_remote profiles"),
            ])
        }
        let fields = SSHProfileFields(loginNode: slurm.loginNode, sshPort: slurm.sshPort, remoteUser: slurm.remoteUser,
                                      credentialSlot: slurm.sshCredential)
        let target = policy.target(for: fields)
        var run = PingSteps(slurm: slurm, target: target)
        let deadline = ContinuousClock.now + timeout

        let started = ContinuousClock.now
        let resolution = policy.resolve(fields)
        let credentialTime = started.duration(to: .now)
        let squeue = "squeue -h -u \(ShellQuote.quote(target.user)) -o '%i|%T'"
        let (preflight, opened) = await SSHPreflight.run(profile: fields, policy: policy, command: squeue, timeout: timeout)
        run.connectSteps(preflight, resolution: resolution, credentialTime: credentialTime)
        guard let session = opened else { return run.report(profile) }

        let commands = SlurmCommands(slurm: slurm, environment: environment)
        await run.command(session, deadline, "sacct", "sacct answers",
                          "sacct -n -X -P -u \(ShellQuote.quote(target.user)) --starttime=now-1days -o JobID,State",
                          hint: "check that job accounting (slurmdbd) is configured and that sacct works in a login shell") { result in
            .passed("answered (\(Self.lines(result.stdoutText)) job(s) of \(target.user) in the last day)")
        }
        await run.command(session, deadline, "account", "Slurm account '\(slurm.account)' exists for \(target.user)",
                          "sacctmgr -n -P show assoc where user=\(ShellQuote.quote(target.user)) account=\(ShellQuote.quote(slurm.account)) format=Account,User",
                          hint: "fix deployment.account, or ask the cluster's administrators to add \(target.user) to account '\(slurm.account)'") { result in
            Self.lines(result.stdoutText) > 0
                ? .passed("\(target.user) belongs to account '\(slurm.account)'")
                : .failed("sacctmgr lists no association of user \(target.user) with account '\(slurm.account)'")
        }
        let directories = [("home_dir", slurm.homeDir), ("log_dir", slurm.logDir), ("dlg_root", slurm.dlgRoot)]
        await run.command(session, deadline, "directories", "home_dir, log_dir and dlg_root exist and are writable",
                          Self.directoryCheck(directories),
                          hint: "create the directories as \(target.user) (mkdir -p) or fix home_dir, log_dir and dlg_root in the profile") { result in
            let problems = result.stdoutText.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("ok ") }
            return problems.isEmpty ? .passed(directories.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
                : .failed(problems.joined(separator: "; "))
        }
        switch Result(catching: { try commands.importCheck() }) {
        case .success(let importCommand):
            await run.command(session, deadline, "create_dlg_job", "DALiuGE's create_dlg_job imports under the profile's modules and venv",
                              importCommand,
                              hint: "check the profile's modules and venv: the venv must have DALiuGE (daliuge-engine) and its dependencies") { _ in
                .passed("python3 -m dlg.deploy.create_dlg_job can run")
            }
        case .failure(let error):
            run.fail("create_dlg_job", "DALiuGE's create_dlg_job imports under the profile's modules and venv", "\(error)",
                     hint: "set the variable where beamsync runs")
        }
        await session.close()
        return run.report(profile)
    }

    /// One line per directory: `ok NAME`, `missing NAME PATH` or `unwritable NAME PATH` (a file
    /// is created and removed, so read-only mounts and ACLs count).
    static func directoryCheck(_ directories: [(String, String)]) -> String {
        directories.map { name, path in
            let p = ShellQuote.quote(path)
            return "if [ ! -d \(p) ]; then echo \"missing \(name) \"\(p); "
                + "elif t=$(mktemp -p \(p) .beamsync-ping.XXXXXX 2>/dev/null) && rm -f -- \"$t\"; then echo 'ok \(name)'; "
                + "else echo \"unwritable \(name) \"\(p); fi"
        }.joined(separator: "; ")
    }

    static func lines(_ text: String) -> Int {
        text.split(whereSeparator: \.isNewline).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.count
    }
}

/// The report `SlurmPing` builds, step by step.
struct PingSteps {
    enum Verdict {
        case passed(String)
        case failed(String)
    }

    let slurm: SlurmRemoteDeployment
    let target: SSHTarget
    private(set) var steps: [TargetCheckStep] = []
    private var failed = false

    init(slurm: SlurmRemoteDeployment, target: SSHTarget) {
        self.slurm = slurm
        self.target = target
    }

    static let order: [(String, String)] = [
        ("credentials", "SSH key, passphrase and known_hosts resolve under the key policy"),
        ("tcp", "TCP connection"), ("host_key", "host key"), ("auth", "public-key authentication"),
        ("squeue", "squeue answers"), ("sacct", "sacct answers"), ("account", "account"), ("directories", "directories"),
        ("create_dlg_job", "create_dlg_job"),
    ]

    mutating func add(_ name: String, _ description: String, _ outcome: TargetCheckStep.Outcome, _ time: Duration?,
                      detail: String? = nil, hint: String? = nil) {
        let seconds = time.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } ?? 0
        steps.append(TargetCheckStep(name: name, description: description, outcome: outcome, seconds: seconds, detail: detail,
                                     hint: outcome == .failed ? hint : nil))
        if outcome == .failed { failed = true }
    }

    mutating func fail(_ name: String, _ description: String, _ detail: String, hint: String) {
        add(name, description, .failed, nil, detail: detail, hint: hint)
    }

    /// The steps up to the first command, from the SSH preflight (whose command is `squeue`).
    mutating func connectSteps(_ report: SSHPreflight.Report, resolution: SSHCredentialResolution, credentialTime: Duration) {
        let outcome: [SSHStep: SSHPreflight.StepReport] = Dictionary(report.steps.map { ($0.step, $0) }, uniquingKeysWith: { a, _ in a })
        let endpoint = target.endpoint
        func sum(_ parts: [SSHStep]) -> Duration { parts.compactMap { outcome[$0]?.duration }.reduce(.zero, +) }
        func state(_ parts: [SSHStep]) -> (TargetCheckStep.Outcome, String?) {
            for part in parts {
                if case .failed(let message)? = outcome[part]?.outcome { return (.failed, message) }
            }
            return parts.allSatisfy({ outcome[$0]?.outcome == .passed }) ? (.passed, nil) : (.skipped, nil)
        }

        // Credentials: the policy's own findings, warnings included.
        let warnings = resolution.warnings.map { "warning: \($0.message) (fix: \($0.fix))" }
        if resolution.errors.isEmpty {
            let source = resolution.credential.map { "key \($0.keySource)" + ($0.passphraseSource.map { ", passphrase from \($0)" } ?? "")
                + ", " + Self.hostKeyText($0.hostKeyCheck) } ?? ""
            add("credentials", Self.order[0].1, .passed, credentialTime, detail: ([source] + warnings).filter { !$0.isEmpty }.joined(separator: "; "))
        } else {
            add("credentials", Self.order[0].1, .failed, credentialTime,
                detail: resolution.errors.map(\.message).joined(separator: "; "),
                hint: resolution.errors.map(\.fix).joined(separator: "; "))
            return
        }
        let tcp = state([.resolve, .tcpConnect])
        add("tcp", "TCP connection to \(endpoint)", tcp.0, sum([.resolve, .tcpConnect]),
            detail: tcp.1 ?? "connected", hint: "check the profile's login_node and ssh_port, and that \(endpoint) is reachable from here (firewall, VPN)")
        if tcp.0 != .passed { return }
        let hostKey = state([.handshake, .hostKey])
        add("host_key", "host key of \(endpoint)", hostKey.0, sum([.handshake, .hostKey]),
            detail: hostKey.1 ?? report.connect.map { "\($0.hostKeyType) \($0.hostKeyFingerprint)" + ($0.knownHostsLine.map { " (known_hosts line \($0))" } ?? "") + ", \($0.serverBanner)" },
            hint: "compare the server's key with the fingerprint the cluster's administrators publish, then fix the known_hosts entry for \(target.knownHostsName)")
        if hostKey.0 != .passed { return }
        let auth = state([.authentication])
        add("auth", "public-key authentication as \(target.user)", auth.0, sum([.authentication]),
            detail: auth.1 ?? "logged in as \(target.user)",
            hint: "check the profile's remote_user and that the key's public half is in \(target.user)'s ~/.ssh/authorized_keys (ed25519 or ECDSA keys)")
        if auth.0 != .passed { return }
        let command = outcome[.command]
        if case .failed? = command?.outcome {
            let stderr = report.result.map { $0.stderrText.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            add("squeue", "squeue answers", .failed, command?.duration,
                detail: (report.error?.description ?? "squeue failed") + (stderr.isEmpty ? "" : ": \(stderr.prefix(300))"),
                hint: "check that Slurm's commands are on the login shell's PATH and that slurmctld answers (squeue in a login session)")
        } else if command?.outcome == .passed {
            add("squeue", "squeue answers", .passed, command?.duration,
                detail: "answered (\(SlurmPing.lines(report.result?.stdoutText ?? "")) job(s) of \(target.user) queued)")
        }
    }

    /// Runs one remote command as a step (skipped after an earlier failure).
    mutating func command(_ session: SSHSession, _ deadline: ContinuousClock.Instant, _ name: String, _ description: String, _ command: String,
                          hint: String, judge: (SSHCommandResult) -> Verdict) async {
        guard !failed else { return }
        let started = ContinuousClock.now
        do {
            let result = try await session.exec(command, deadline: deadline, label: name)
            let time = started.duration(to: .now)
            guard result.succeeded else {
                let stderr = result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
                let lines = stderr.split(whereSeparator: \.isNewline).suffix(4).joined(separator: " | ")
                add(name, description, .failed, time,
                    detail: "exited with \(result.exitStatus.map(String.init) ?? "signal \(result.exitSignal ?? "?")")" + (lines.isEmpty ? "" : ": \(lines)"),
                    hint: hint)
                return
            }
            switch judge(result) {
            case .passed(let detail): add(name, description, .passed, time, detail: detail)
            case .failed(let detail): add(name, description, .failed, time, detail: detail, hint: hint)
            }
        } catch {
            add(name, description, .failed, started.duration(to: .now), detail: "\(error)", hint: hint)
        }
    }

    /// Every step in order; those not reached are `skipped`.
    func report(_ profile: DeploymentProfile) -> TargetCheckReport {
        let done = Set(steps.map(\.name))
        let rest = Self.order.filter { !done.contains($0.0) }.map {
            TargetCheckStep(name: $0.0, description: $0.1, outcome: .skipped, seconds: 0)
        }
        return TargetCheckReport(profile: profile.name, kind: .slurm, target: "\(target.user)@\(target.endpoint)", steps: steps + rest)
    }

    static func hostKeyText(_ check: SSHCredential.HostKeyCheck) -> String {
        switch check {
        case .knownHosts(let path): "host keys from \(path)"
        case .acceptAny: "any host key accepted (no known_hosts configured)"
        }
    }
}
