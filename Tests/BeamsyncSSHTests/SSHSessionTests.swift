import Foundation
import Testing
@testable import BeamsyncSSH

/// Against the private sshd of scripts/sshd.sh (see its header for the variables).
@Suite("SSHSession against a real sshd", .enabled(if: TestSSHD.enabled, "needs scripts/sshd.sh (BEAMSYNC_TEST_SSH*)"))
struct SSHSessionTests {
    @Test("connects with an ed25519 key, checks the host key and runs a command: exit status, stdout and stderr")
    func execBasics() async throws {
        let sshd = try TestSSHD.required()
        let session = try await sshd.connect()
        defer { Task { await session.close() } }
        #expect(session.report.knownHostsLine == 1)
        #expect(session.report.hostKeyType == "ssh-ed25519")
        #expect(session.report.serverBanner.contains("OpenSSH"))
        let result = try await session.exec("echo out; echo err >&2; exit 3", timeout: .seconds(10))
        #expect(result.exitStatus == 3)
        #expect(result.stdoutText == "out\n")
        #expect(result.stderrText == "err\n")
        #expect(!result.stdoutTruncated)
    }
}
