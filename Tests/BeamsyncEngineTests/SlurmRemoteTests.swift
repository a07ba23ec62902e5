@testable import BeamsyncEngine
import BeamsyncModel
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// A runner configuration for the Slurm tests: the test pacing, the cluster's key and
/// known_hosts under the production key policy.
func slurmRunnerConfiguration(_ cluster: SlurmTestCluster, environment: [String: String]? = nil) -> RunnerConfiguration {
    var c = testRunnerConfiguration()
    c.environment = environment ?? cluster.productionEnvironment
    c.submitAttempts = 3
    return c
}

extension RunnerHarness {
    /// A global default slurm_remote profile on the test cluster.
    @discardableResult
    func slurmProfile(_ cluster: SlurmTestCluster, name: String = "slurm", user: String? = nil, minutes: Int = 5,
                      extra: [String: String] = [:]) async throws -> UUID {
        try await insertProfile(name, isDefault: true, translation: try JSONValue.parse(cluster.translationJSON),
                                deployment: try JSONValue.parse(cluster.deploymentJSON(user: user, minutes: minutes, extra: extra)))
    }

    /// Steps in order, each run of repeats shown once (a status change at `submitted` repeats it).
    func distinctSteps(_ id: UUID) async throws -> [String] {
        var result: [String] = []
        for step in try await steps(id) where result.last != step { result.append(step) }
        return result
    }
}

@Suite("slurm_remote against a real Slurm cluster and login node", .serialized, .requires(.postgres, .daliuge, .slurm))
struct SlurmRemoteTests {
    @Test("HelloWorld runs to completed through every step; sshd restarted while the job runs is ridden out on a new session")
    func helloWorldAcrossAnSSHDRestart() async throws {
        let cluster = try SlurmTestCluster.required(translator: true)
        try await RunnerHarness.with { h in
            try await h.slurmProfile(cluster)
            let e = try await h.create("HelloWorld", name: "slurm-hello")
            let runner = h.runner(slurmRunnerConfiguration(cluster))
            let running = try await h.drive(runner, e.id) { $0.status == .running && $0.step == "submitted" || $0.isTerminal }
            #expect(running.status == .running && running.schedulerState == "RUNNING", "\(running.lastError ?? "")")
            try cluster.restartSSHD()
            let done = try await h.drive(runner, e.id)
            let statistics = await runner.slurm.pool.statistics
            await runner.close()

            #expect(done.status == .completed, "\(done.lastError ?? "")")
            #expect(done.backend == .slurmRemote && !done.simulated && done.submissionState == .submitted)
            #expect(done.schedulerState == "COMPLETED" && done.daliugeState == "FINISHED")
            #expect(statistics.reconnects >= 1, "the session was reopened after the restart: \(statistics)")
            let sid = DaliugeSessionID.make(executionID: e.id, createdAt: e.createdAt)
            #expect(done.daliugeSessionID == sid)
            let job = try #require(done.slurmJobID)
            #expect(try cluster.accountedJobs(named: sid, settlingOn: [job]) == [job], "exactly one job carries the execution's name")
            #expect(try cluster.accountedState(job) == "COMPLETED")
            #expect(try await h.distinctSteps(e.id) == ["created", "translating", "staging", "creating_job_script", "submitting", "submitted",
                                                         "completed"])
            let dir = try #require(done.remoteSessionDir)
            #expect(dir.hasPrefix(cluster.dlgRoot + "/workspace/"))
            let output = try String(contentsOfFile: dir + "/beamsync-hello.txt", encoding: .utf8)
            #expect(output == "Hello beamsync")
            let staged = try FileManager.default.contentsOfDirectory(atPath: cluster.dlgRoot + "/staging/" + sid).sorted()
            #expect(staged == ["\(sid).ini", "\(sid).pgt.graph"])
        }
    }

    @Test("a failing application ends failed naming the drop, and its job is cancelled instead of running to its time limit")
    func failingApp() async throws {
        let cluster = try SlurmTestCluster.required(translator: true)
        try await RunnerHarness.with { h in
            try await h.slurmProfile(cluster, minutes: 1)
            let e = try await h.create("FailingApp", name: "slurm-boom")
            let runner = h.runner(slurmRunnerConfiguration(cluster))
            let done = try await h.drive(runner, e.id, timeout: .seconds(150))
            await runner.close()
            #expect(done.status == .failed && done.daliugeState == "FAILED", "\(done.lastError ?? "")")
            #expect(done.lastError?.contains("first failed drop: 'boom'") == true, "\(done.lastError ?? "")")
            #expect(done.failedDrops?.arrayValue?.first?["name"]?.stringValue == "boom")
            let steps = try await h.distinctSteps(e.id)
            #expect(steps.suffix(2) == ["stopping_failed_graph", "failed"], "\(steps)")
            let job = try #require(done.slurmJobID)
            #expect(SlurmJobState(raw: try cluster.accountedState(job)) == .cancelled, "cancelled early, not TIMEOUT")
        }
    }

    @Test("cancel while the job runs: scancel, the execution ends cancelled and the job is gone from squeue")
    func cancelRunningJob() async throws {
        let cluster = try SlurmTestCluster.required(translator: true)
        try await RunnerHarness.with { h in
            try await h.slurmProfile(cluster)
            let e = try await h.create("Sleep", name: "slurm-nap")
            let runner = h.runner(slurmRunnerConfiguration(cluster))
            let running = try await h.drive(runner, e.id) { $0.status == .running && $0.step == "submitted" || $0.isTerminal }
            let job = try #require(running.slurmJobID, "\(running.lastError ?? "")")
            #expect(try cluster.queuedJobs([job]) == [job])
            try await h.ledger.requestCancel(idOrName: "slurm-nap", actor: "test")
            let done = try await h.drive(runner, e.id, timeout: .seconds(60))
            await runner.close()
            #expect(done.status == .cancelled && done.lastError == nil, "\(done.lastError ?? "")")
            #expect(try cluster.queuedJobs([job]).isEmpty, "squeue no longer lists job \(job)")
            #expect(SlurmJobState(raw: try cluster.accountedState(job)) == .cancelled)
            #expect(try await h.distinctSteps(e.id).suffix(3) == ["cancel_requested", "cancelling", "cancelled"])
        }
    }

    @Test("sbatch printing more than the job id makes the submission uncertain; it is reconciled by name and exactly one job exists")
    func uncertainSubmission() async throws {
        let cluster = try SlurmTestCluster.required(translator: true)
        try await RunnerHarness.with { h in
            try await h.slurmProfile(cluster, user: cluster.noisyUser)
            let e = try await h.create("Sleep", name: "slurm-noisy")
            let runner = h.runner(slurmRunnerConfiguration(cluster))
            let submitted = try await h.drive(runner, e.id) { $0.step == "submitted" || $0.isTerminal }
            #expect(submitted.submissionState == .submitted, "\(submitted.lastError ?? "")")
            let events = try await h.ledger.events(of: e.id)
            let uncertain = try #require(events.first { $0.step == "reconciling" })
            #expect(uncertain.message?.contains("sbatch printed something other than exactly one job id") == true)
            #expect(uncertain.message?.contains("NOTICE: scratch purge runs on Fridays") == true)
            let reconciled = try #require(events.first { $0.step == "submitted" })
            #expect(reconciled.message?.hasPrefix("found job \(submitted.slurmJobID ?? "?") by its name") == true, "\(reconciled.message ?? "")")
            let sid = try #require(submitted.daliugeSessionID)
            // squeue knows a job the moment sbatch returns; sacct may lag by a few seconds.
            #expect(try cluster.listedJobs(named: sid) == [try #require(submitted.slurmJobID)])
            // Done with it: cancel rather than wait for the graph.
            try await h.ledger.requestCancel(idOrName: "slurm-noisy", actor: "test")
            let done = try await h.drive(runner, e.id, timeout: .seconds(60))
            await runner.close()
            #expect(done.status == .cancelled)
            #expect(try cluster.listedJobs(named: sid).count == 1 && cluster.accountedJobs(named: sid).count <= 1)
        }
    }

    @Test("an RSA key fails before anything is submitted, explaining libssh2's SHA-1 signatures")
    func rsaKey() async throws {
        let cluster = try SlurmTestCluster.required(translator: true)
        try await RunnerHarness.with { h in
            try await h.slurmProfile(cluster)
            let e = try await h.create("HelloWorld", name: "slurm-rsa")
            var environment = cluster.productionEnvironment
            environment["SLURM_SSH_PRIVATE_KEY_FILE"] = cluster.rsaKey
            let runner = h.runner(slurmRunnerConfiguration(cluster, environment: environment))
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .failed && done.slurmJobID == nil)
            let error = try #require(done.lastError)
            #expect(error.hasPrefix("uploading to \(cluster.host):\(cluster.port):"), "\(error)")
            #expect(error.contains("ssh \(cluster.user)@\(cluster.host):\(cluster.port) refused the RSA key SLURM_SSH_PRIVATE_KEY_FILE (\(cluster.rsaKey)): "
                                   + "libssh2 1.10 signs only with ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse"), "\(error)")
            #expect(error.hasSuffix("use an ed25519 or ECDSA key; nothing was submitted"), "\(error)")
            let translating = try #require(try await h.ledger.events(of: e.id).first { $0.step == "translating" })
            #expect(translating.message?.contains("SSH key policy warnings: SLURM_SSH_PRIVATE_KEY_FILE (\(cluster.rsaKey)): the private key is RSA") == true)
        }
    }

    @Test("concurrent readings of a target's jobs share poll cycles of one squeue each; sacct runs only for ended jobs")
    func pollerCoalesces() async throws {
        let cluster = try SlurmTestCluster.required()
        let backend = SlurmBackend(environment: cluster.productionEnvironment)
        let target = backend.policy.target(for: .init(loginNode: cluster.host, sshPort: cluster.port, remoteUser: cluster.user))
        let name = "beamsync-poller-\(UUID().uuidString.prefix(8))"
        var jobs: [String] = []
        for _ in 0..<5 {
            let answer = try await backend.pool.exec("sbatch --parsable --hold --job-name=\(name) --account=\(cluster.account) --wrap 'sleep 60'",
                                                     on: target, timeout: .seconds(30))
            jobs.append(try #require(SlurmOutput.sbatchJobID(answer.stdoutText), "\(answer.stderrText)"))
        }
        let poller = SlurmJobPoller(target: target, pool: backend.pool)
        let readings = try await withThrowingTaskGroup(of: SlurmJobReading.self) { group in
            for job in jobs { group.addTask { try await poller.reading(of: job, sessionDir: nil) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var statistics = await poller.statistics
        #expect(readings.count == 5 && readings.allSatisfy { $0.state == .pending && $0.reason == "JobHeldUser" && $0.source == .squeue })
        #expect(statistics.cycles <= 2 && statistics.remoteCommands == statistics.cycles, "one squeue per cycle: \(statistics)")
        let firstCycles = statistics.cycles
        _ = try await backend.pool.exec("scancel --name=\(name)", on: target, timeout: .seconds(30))
        try await Task.sleep(for: .seconds(1.5))
        let ended = try await poller.reading(of: jobs[0], sessionDir: nil)
        statistics = await poller.statistics
        #expect(ended.state == .cancelled && ended.exitCode == "0:0", "\(ended)")
        #expect(statistics.cycles == firstCycles + 1 && statistics.remoteCommands == firstCycles + 2, "squeue, then sacct for the ended jobs: \(statistics)")
        await backend.close()
    }
}
