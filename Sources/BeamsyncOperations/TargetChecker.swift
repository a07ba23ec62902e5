import BeamsyncModel
import BeamsyncPlan

/// Runs the live checks of one kind of target. `slurm ping` and `dim ping` are checkers; `plan
/// --check-targets` runs the checker of each profile the plan creates or changes.
public protocol TargetChecker: Sendable {
    /// Whether this checker checks profiles of `kind`.
    func handles(_ kind: DeploymentKind) -> Bool
    /// Checks `profile`'s target; never throws: a failure is a failed step.
    func check(_ profile: DeploymentProfile) async -> TargetCheckReport
}
