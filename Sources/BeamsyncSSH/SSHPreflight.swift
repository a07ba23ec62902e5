import Foundation

/// Checks a profile's SSH path step by step — credentials (the key policy, offline), DNS, TCP,
/// handshake, host key, authentication, a command — and reports each step's outcome and time.
/// The first failure ends the run; later steps are reported as skipped. For `slurm ping` and
/// `security check`-style commands.
public enum SSHPreflight {
    private static let connectSteps: [SSHStep] = [.resolve, .tcpConnect, .handshake, .hostKey, .authentication]

    public enum Outcome: Sendable, Equatable {
        case passed
        case failed(String)
        case skipped
    }

    public struct StepReport: Sendable {
        public let step: SSHStep
        public let outcome: Outcome
        /// nil for skipped steps and for steps that failed before timing started.
        public let duration: Duration?
    }

    public struct Report: Sendable {
        public let target: SSHTarget
        public let steps: [StepReport]
        /// The key policy's findings (warnings too).
        public let findings: [SecurityFinding]
        /// The command's result, when the command ran.
        public let result: SSHCommandResult?
        public let error: SSHError?
        public let connect: SSHConnectReport?

        public var passed: Bool { error == nil }
        public var failedStep: SSHStep? { error?.step }
    }

    /// Runs every step for `profile`; `command` defaults to beampipe's probe, `echo ok`. The
    /// session is returned open when everything passed, for further commands (close it), or nil.
    public static func run(profile: SSHProfileFields, policy: SSHKeyPolicy, command: String = "echo ok",
                           timeout: Duration = .seconds(30), options: SSHSessionOptions = SSHSessionOptions()) async -> (Report, SSHSession?) {
        let deadline = ContinuousClock.now + timeout
        let resolution = policy.resolve(profile)
        let target = resolution.target
        var steps: [StepReport] = []

        func report(_ error: SSHError?, _ connect: SSHConnectReport?, _ result: SSHCommandResult?) -> Report {
            let done = Set(steps.map(\.step))
            for step in SSHStep.allCases where !done.contains(step) {
                steps.append(StepReport(step: step, outcome: .skipped, duration: nil))
            }
            return Report(target: target, steps: steps, findings: resolution.findings, result: result, error: error, connect: connect)
        }

        let credential: SSHCredential
        do {
            credential = try resolution.requireCredential()
            steps.append(StepReport(step: .credentials, outcome: .passed, duration: nil))
        } catch let error as SSHError {
            steps.append(StepReport(step: .credentials, outcome: .failed(error.description), duration: nil))
            return (report(error, nil, nil), nil)
        } catch {
            return (report(.library(message: "\(error)"), nil, nil), nil)
        }

        let (connected, timings) = await SSHSession.connectTimed(to: target, credential: credential, deadline: deadline, options: options)
        let session: SSHSession
        switch connected {
        case .success(let open):
            session = open
            for step in connectSteps { steps.append(StepReport(step: step, outcome: .passed, duration: timings[step])) }
        case .failure(let failure):
            // Steps that ran before the failing one passed; the rest are reported as skipped.
            for step in connectSteps {
                if step == failure.step {
                    steps.append(StepReport(step: step, outcome: .failed(failure.description), duration: timings[step]))
                    break
                }
                if let duration = timings[step] { steps.append(StepReport(step: step, outcome: .passed, duration: duration)) }
            }
            return (report(failure, nil, nil), nil)
        }

        do {
            let result = try await session.exec(command, deadline: deadline)
            let outcome: Outcome = result.succeeded ? .passed : .failed(
                "`\(SSHSession.defaultLabel(command))` exited with \(result.exitStatus.map(String.init) ?? "signal \(result.exitSignal ?? "?")")")
            steps.append(StepReport(step: .command, outcome: outcome, duration: result.duration))
            if !result.succeeded {
                await session.close()
                let error = SSHError.commandFailed(endpoint: target.endpoint, command: SSHSession.defaultLabel(command),
                                                   reason: "exit status \(result.exitStatus.map(String.init) ?? "none"): "
                                                       + result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))
                return (report(error, session.report, result), nil)
            }
            return (report(nil, session.report, result), session)
        } catch {
            let failure = error as? SSHError ?? .library(message: "\(error)")
            steps.append(StepReport(step: .command, outcome: .failed(failure.description), duration: nil))
            await session.close()
            return (report(failure, session.report, nil), nil)
        }
    }
}
