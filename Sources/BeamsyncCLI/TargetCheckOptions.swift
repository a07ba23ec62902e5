import ArgumentParser
import BeamsyncEngine
import BeamsyncOperations
import BeamsyncPlan
import Foundation

/// `plan --check-targets` / `--require-targets`: live checks of the targets of the profiles a plan
/// creates or changes, attached to the plan.
struct TargetCheckOptions: ParsableArguments {
    @Flag(help: "Check the target of each profile the plan creates or changes (dim ping, slurm ping); a failed check is a warning.")
    var checkTargets = false
    @Flag(help: "As --check-targets, but a failed check is an error: the plan exits 1 and a saved copy cannot be applied.")
    var requireTargets = false
    @Option(help: "Deadline of each target check (e.g. 30s, 1m; default 30s).")
    var targetTimeout: String?

    var enabled: Bool { checkTargets || requireTargets }

    func validate() throws {
        guard let targetTimeout else { return }
        guard enabled else { throw ValidationError("--target-timeout needs --check-targets or --require-targets") }
        _ = try DurationText.parse(targetTimeout, option: "--target-timeout")
    }

    /// A checker per deployment kind: `dim ping` for rest_remote, `slurm ping` for slurm_remote.
    func run() throws -> TargetCheckRun {
        let deadline = try DurationText.parse(targetTimeout ?? "30s", option: "--target-timeout")
        let environment = ProcessInfo.processInfo.environment
        // DALiuGE's managers accept 5 pending connections; 4 transfers at once keeps every check honest.
        let http = HTTPClient(threads: 4, name: "beamsync-target-checks", maxPerHost: 4)
        let checkers: [any TargetChecker] = [
            DIMPing(http: http, caFile: RunnerConfiguration(environment: environment).caFile, timeout: deadline),
            {
                var slurm = SlurmPing(environment: environment)
                slurm.timeout = deadline
                return slurm
            }(),
        ]
        return TargetCheckRun(checkers: checkers, deadline: deadline)
    }

    /// `plan` with its target checks, when they were asked for.
    func apply(to plan: Plan, alsoChangedBy others: [Plan] = []) async throws -> Plan {
        // A plan with errors is not applied whatever its targets say.
        guard enabled, !plan.hasErrors else { return plan }
        let checks = try run()
        return await checks.checked(plan, alsoChangedBy: others, require: requireTargets)
    }
}
