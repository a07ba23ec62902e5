import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("slurm ping against the real Slurm cluster and login node", .serialized, .requires(.slurm))
struct SlurmPingTests {
    private func profile(_ cluster: SlurmTestCluster, port: Int? = nil, change: (inout SlurmRemoteDeployment) -> Void = { _ in }) -> DeploymentProfile {
        var slurm = SlurmRemoteDeployment(loginNode: cluster.host, account: cluster.account, homeDir: cluster.homeDir,
                                          logDir: cluster.logDir, dlgRoot: cluster.dlgRoot)
        slurm.sshPort = port ?? cluster.port
        slurm.remoteUser = cluster.user
        slurm.venv = cluster.venvCommand
        change(&slurm)
        return DeploymentProfile(name: "hpc", deployment: .slurmRemote(slurm))
    }

    private func ping(_ profile: DeploymentProfile, _ environment: [String: String]) async -> TargetCheckReport {
        await SlurmPing(environment: environment).check(profile)
    }

    private let order = ["credentials", "tcp", "host_key", "auth", "squeue", "sacct", "account", "directories", "create_dlg_job"]

    /// The report fails at `step`, every step before it passed and every one after it was skipped.
    private func expectFailure(_ report: TargetCheckReport, at step: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(report.steps.map(\.name) == order, sourceLocation: sourceLocation)
        let index = order.firstIndex(of: step)!
        #expect(report.steps[..<index].allSatisfy { $0.outcome == .passed }, "\(report.steps)", sourceLocation: sourceLocation)
        #expect(report.steps[index].outcome == .failed && report.steps[index].hint != nil, "\(report.steps[index])", sourceLocation: sourceLocation)
        #expect(report.steps[(index + 1)...].allSatisfy { $0.outcome == .skipped }, sourceLocation: sourceLocation)
        #expect(!report.passed && report.firstFailure?.name == step, sourceLocation: sourceLocation)
    }

    @Test("every step passes in order, each timed")
    func passes() async throws {
        let cluster = try SlurmTestCluster.required()
        let report = await ping(profile(cluster), cluster.productionEnvironment)
        #expect(report.passed, "\(report.steps.filter { $0.outcome != .passed })")
        #expect(report.steps.map(\.name) == order)
        #expect(report.steps.dropFirst().allSatisfy { $0.seconds > 0 }, "\(report.steps.map(\.seconds))")
        #expect(report.target == "\(cluster.user)@\(cluster.host):\(cluster.port)")
        #expect(report.steps[2].detail?.contains("ssh-ed25519 SHA256:") == true && report.steps[2].detail?.contains("known_hosts line 1") == true)
        #expect(report.steps[6].detail == "\(cluster.user) belongs to account '\(cluster.account)'")
    }

    @Test("a refused key policy fails at credentials, before any connection")
    func failsAtCredentials() async throws {
        let cluster = try SlurmTestCluster.required()
        var environment = cluster.productionEnvironment
        environment["SLURM_SSH_KNOWN_HOSTS_SOURCE"] = nil
        let report = await ping(profile(cluster), environment)
        expectFailure(report, at: "credentials")
        #expect(report.steps[0].detail == "SLURM_SSH_KNOWN_HOSTS_SOURCE: no known_hosts file is configured, so the host key of "
                + "\(cluster.host):\(cluster.port) cannot be checked")
    }

    @Test("the wrong port fails at tcp")
    func failsAtTCP() async throws {
        let cluster = try SlurmTestCluster.required()
        let port = cluster.port == 1 ? 2 : 1   // nothing listens on loopback port 1 or 2
        var environment = cluster.productionEnvironment
        // The known_hosts entry must name the port asked for, or the policy refuses first.
        let scratch = NSTemporaryDirectory() + "beamsync-ping-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let line = try String(contentsOfFile: cluster.knownHosts, encoding: .utf8).replacingOccurrences(of: "]:\(cluster.port) ", with: "]:\(port) ")
        try line.write(toFile: scratch + "/known_hosts", atomically: false, encoding: .utf8)
        environment["SLURM_SSH_KNOWN_HOSTS_SOURCE"] = scratch + "/known_hosts"
        let report = await ping(profile(cluster, port: port), environment)
        expectFailure(report, at: "tcp")
        #expect(report.steps[1].detail?.contains("connection refused") == true, "\(report.steps[1])")
    }

    @Test("a known_hosts entry with another key fails at host_key")
    func failsAtHostKey() async throws {
        let cluster = try SlurmTestCluster.required()
        let scratch = NSTemporaryDirectory() + "beamsync-ping-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try keygen(scratch + "/other")
        let other = try String(contentsOfFile: scratch + "/other.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "[\(cluster.host)]:\(cluster.port) \(other)\n".write(toFile: scratch + "/known_hosts", atomically: false, encoding: .utf8)
        var environment = cluster.productionEnvironment
        environment["SLURM_SSH_KNOWN_HOSTS_SOURCE"] = scratch + "/known_hosts"
        let report = await ping(profile(cluster), environment)
        expectFailure(report, at: "host_key")
        #expect(report.steps[2].detail?.contains("HOST KEY MISMATCH") == true, "\(report.steps[2])")
    }

    @Test("a key the login node does not know fails at auth")
    func failsAtAuth() async throws {
        let cluster = try SlurmTestCluster.required()
        let scratch = NSTemporaryDirectory() + "beamsync-ping-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try keygen(scratch + "/stranger")
        var environment = cluster.productionEnvironment
        environment["SLURM_SSH_PRIVATE_KEY_FILE"] = scratch + "/stranger"
        let report = await ping(profile(cluster), environment)
        expectFailure(report, at: "auth")
        #expect(report.steps[3].detail?.contains("refused public-key authentication") == true, "\(report.steps[3])")
    }

    @Test("an account the user does not belong to fails at account")
    func failsAtAccount() async throws {
        let cluster = try SlurmTestCluster.required()
        let report = await ping(profile(cluster) { $0.account = cluster.foreignAccount }, cluster.productionEnvironment)
        expectFailure(report, at: "account")
        #expect(report.steps[6].detail == "sacctmgr lists no association of user \(cluster.user) with account '\(cluster.foreignAccount)'")
    }

    @Test("a missing or unwritable directory fails at directories, naming each")
    func failsAtDirectories() async throws {
        let cluster = try SlurmTestCluster.required()
        let report = await ping(profile(cluster) { $0.dlgRoot = "/usr"; $0.logDir = cluster.homeDir + "/no-such-dir" }, cluster.productionEnvironment)
        expectFailure(report, at: "directories")
        #expect(report.steps[7].detail == "missing log_dir \(cluster.homeDir)/no-such-dir; unwritable dlg_root /usr", "\(report.steps[7])")
    }

    @Test("a venv that does not exist fails at create_dlg_job")
    func failsAtImport() async throws {
        let cluster = try SlurmTestCluster.required()
        let report = await ping(profile(cluster) { $0.venv = "source /nonexistent/venv/bin/activate" }, cluster.productionEnvironment)
        expectFailure(report, at: "create_dlg_job")
        #expect(report.steps[8].detail?.contains("/nonexistent/venv/bin/activate: No such file or directory") == true, "\(report.steps[8])")
    }

    private func keygen(_ path: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        p.arguments = ["-q", "-t", "ed25519", "-N", "", "-C", "beamsync-test", "-f", path]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
    }
}
