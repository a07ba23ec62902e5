import Foundation
import Testing
@testable import BeamsyncSSH
import BeamsyncTestSupport

/// The key policy, reading a production environment, against the real sshd.
@Suite("SSH preflight against a real sshd", .requires(.sshd))
struct SSHPreflightTests {
    private func production(_ sshd: TestServices.SSHServer, knownHosts: String? = nil) -> (SSHKeyPolicy, SSHProfileFields) {
        let env = ["BEAMPIPE_ENV": "production", "SLURM_SSH_PRIVATE_KEY_FILE": sshd.key,
                   "SLURM_SSH_KNOWN_HOSTS_SOURCE": knownHosts ?? sshd.knownHosts]
        return (SSHKeyPolicy(environment: env),
                SSHProfileFields(loginNode: sshd.host, sshPort: sshd.port, remoteUser: sshd.user))
    }

    @Test("every step passes in order with a timing, and the session stays open for more commands")
    func passes() async throws {
        let sshd = try TestServices.requireSSHServer()
        let (policy, profile) = production(sshd)
        let (report, session) = await SSHPreflight.run(profile: profile, policy: policy)
        #expect(report.passed, "\(String(describing: report.error))")
        #expect(report.steps.map(\.step) == SSHStep.allCases)
        #expect(report.steps.allSatisfy { $0.outcome == .passed })
        #expect(report.steps.filter { $0.step != .credentials }.allSatisfy { $0.duration != nil })
        #expect(report.result?.stdoutText == "ok\n")
        let open = try #require(session)
        #expect(try await open.exec("echo again", timeout: .seconds(10)).stdoutText == "again\n")
        await open.close()
    }

    @Test("a wrong host key fails at host_key, after resolve, tcp_connect and handshake passed; the rest is skipped")
    func failsAtHostKey() async throws {
        let sshd = try TestServices.requireSSHServer()
        let scratch = try Scratch()
        defer { scratch.remove() }
        let knownHosts = try scratch.write("known_hosts", Fixture.knownHostsLine("[\(sshd.host)]:\(sshd.port)") + "\n", mode: 0o644)
        let (policy, profile) = production(sshd, knownHosts: knownHosts)
        let (report, session) = await SSHPreflight.run(profile: profile, policy: policy)
        #expect(session == nil)
        #expect(report.failedStep == .hostKey)
        #expect(report.steps.map(\.step) == SSHStep.allCases)
        #expect(report.steps.map(\.outcome).prefix(4) == [.passed, .passed, .passed, .passed])
        guard case .failed(let message) = report.steps[4].outcome else {
            Issue.record("host_key should fail: \(report.steps[4])")
            return
        }
        #expect(message.contains("HOST KEY MISMATCH"))
        #expect(report.steps[5...].allSatisfy { $0.outcome == .skipped })
    }

    @Test("a policy finding fails the credentials step before any connection")
    func failsAtCredentials() async throws {
        let sshd = try TestServices.requireSSHServer()
        let scratch = try Scratch()
        defer { scratch.remove() }
        let key = try scratch.write("key", try String(contentsOfFile: sshd.key, encoding: .utf8), mode: 0o644)
        let env = ["BEAMPIPE_ENV": "production", "SLURM_SSH_PRIVATE_KEY_FILE": key, "SLURM_SSH_KNOWN_HOSTS_SOURCE": sshd.knownHosts]
        let (report, session) = await SSHPreflight.run(profile: SSHProfileFields(loginNode: sshd.host, sshPort: sshd.port, remoteUser: sshd.user),
                                                       policy: SSHKeyPolicy(environment: env))
        #expect(session == nil)
        #expect(report.failedStep == .credentials)
        #expect(report.findings.map(\.rule) == [.secretFilePermissions])
        #expect(report.steps.dropFirst().allSatisfy { $0.outcome == .skipped })
        #expect(report.error?.description == "ssh \(sshd.host):\(sshd.port): the SSH credentials are not usable: "
            + "SLURM_SSH_PRIVATE_KEY_FILE (\(key)): the private key file is readable or writable by group or others (mode 0644) (fix: chmod 600 \(key))")
    }

    @Test("a pool fed by the policy resolves credentials per target and runs commands")
    func poolWithPolicy() async throws {
        let sshd = try TestServices.requireSSHServer()
        let (policy, profile) = production(sshd)
        let pool = SSHSessionPool { target in
            try policy.resolve(SSHProfileFields(loginNode: target.host, sshPort: target.port, remoteUser: target.user,
                                                credentialSlot: target.credential)).requireCredential()
        }
        defer { Task { await pool.closeAll() } }
        let result = try await pool.exec("echo pooled", on: policy.target(for: profile), timeout: .seconds(20))
        #expect(result.stdoutText == "pooled\n")
    }
}
