import Foundation

/// Verifies SSH commit signatures exactly as git does with gpg.format=ssh:
///
///     ssh-keygen -Y find-principals -f ALLOWED_SIGNERS -s SIG -Overify-time=COMMITTER_TIME
///     ssh-keygen -Y verify -n git -f ALLOWED_SIGNERS -I PRINCIPAL -s SIG -Overify-time=... < PAYLOAD
///
/// trying each principal found until one verifies. ssh-keygen applies the allowed_signers
/// options itself: `valid-after`/`valid-before` against the committer time (as git passes it),
/// `namespaces` against `git`, `cert-authority`.
struct SSHSignatureCheck: Sendable {
    let sshKeygen: String
    /// The snapshot in the workspace that ssh-keygen reads.
    let allowedSigners: String
    /// The operator's file, named in messages instead of the snapshot.
    let sourcePath: String
    let runner: ToolRunner

    func verify(_ signature: CommitSignature, signatureFile: String, payloadFile: String) async -> CommitVerification {
        let key = SSHSignatureKey(armored: signature.armored)
        func result(_ outcome: CommitVerification.Outcome, signer: String? = nil, fingerprint: String? = nil,
                    detail: String? = nil) -> CommitVerification {
            CommitVerification(commit: signature.commit, format: .ssh, signer: signer,
                               keyFingerprint: fingerprint ?? key?.fingerprint, outcome: outcome, detail: detail)
        }
        guard key != nil else {
            return result(.failed(.badSignature), detail: "the SSH signature cannot be parsed (not an OpenSSH SSHSIG block)")
        }
        let verifyTime = "-Overify-time=" + Self.verifyTime(signature.committerTime)

        let found: ToolProcess.Result
        do {
            found = try await runner.run(sshKeygen, ["-Y", "find-principals", "-f", allowedSigners, "-s", signatureFile, verifyTime])
        } catch {
            return result(.failed(.verifierFailed), detail: ToolRunner.explain(error, tool: "ssh-keygen", timeout: runner.timeout))
        }
        if found.stderrText.contains("usage:") {
            return result(.failed(.verifierFailed), detail: "ssh-keygen does not support -Y find-principals with verify-time "
                          + "(OpenSSH 8.9 or newer is needed)")
        }
        let principals = found.succeeded
            ? found.stdoutText.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            : []
        if principals.isEmpty {
            let (reason, detail) = classifyLookupFailure(found)
            return result(.failed(reason), detail: detail)
        }

        var last = result(.failed(.badSignature))
        for principal in principals {
            let verified: ToolProcess.Result
            do {
                verified = try await runner.run(sshKeygen, ["-Y", "verify", "-n", "git", "-f", allowedSigners, "-I", principal,
                                                            "-s", signatureFile, verifyTime], stdin: payloadFile)
            } catch {
                return result(.failed(.verifierFailed), signer: principal,
                              detail: ToolRunner.explain(error, tool: "ssh-keygen", timeout: runner.timeout))
            }
            let said = verified.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            if verified.succeeded && said.hasPrefix("Good") {
                // Good "git" signature for PRINCIPAL with TYPE key FINGERPRINT
                let fingerprint = said.range(of: " key ", options: .backwards).map { String(said[$0.upperBound...]) }
                return result(.verified, signer: principal, fingerprint: fingerprint)
            }
            last = result(.failed(classifyVerifyFailure(verified)), signer: principal, detail: detail(verified))
        }
        return last
    }

    /// `YYYYMMDDHHMMSSZ` in UTC, the form ssh-keygen's verify-time option takes.
    static func verifyTime(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d%02d%02d%02d%02d%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    private func classifyLookupFailure(_ run: ToolProcess.Result) -> (CommitVerificationReason, String?) {
        let text = run.stderrText
        if text.contains("key has expired") || text.contains("key is not yet valid") {
            return (.expired, detail(run))
        }
        if text.contains("No principal matched") {
            return (.unknownKey, "no entry of \(sourcePath) lists this key")
        }
        if text.contains("parse") || text.contains("invalid format") {
            return (.badSignature, detail(run))
        }
        return (.verifierFailed, detail(run) ?? "ssh-keygen -Y find-principals failed")
    }

    private func classifyVerifyFailure(_ run: ToolProcess.Result) -> CommitVerificationReason {
        let text = run.stderrText
        if text.contains("not permitted for use in signature namespace") { return .namespaceNotAllowed }
        if text.contains("key has expired") || text.contains("key is not yet valid") { return .expired }
        if text.contains("revoked") { return .revoked }
        return .badSignature
    }

    /// ssh-keygen's explanation on one line, naming the operator's file instead of the snapshot.
    private func detail(_ run: ToolProcess.Result) -> String? {
        let lines = run.stderrText.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && $0 != "No principal matched." }
            .map { $0.replacingOccurrences(of: allowedSigners, with: sourcePath) }
        return lines.isEmpty ? nil : lines.joined(separator: "; ")
    }
}
