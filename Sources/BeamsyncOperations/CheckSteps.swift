import BeamsyncPlan
import BeamsyncTime

/// Runs a target check's steps in order under one deadline: times each step, and once a step
/// has failed records every later one as skipped, so a report always lists all its steps.
struct CheckSteps {
    enum Result {
        case passed(String?)
        /// What went wrong, and what to check.
        case failed(String, hint: String)
    }

    let deadline: ContinuousClock.Instant
    let timeout: Duration
    private(set) var steps: [TargetCheckStep] = []

    init(timeout: Duration) {
        self.timeout = timeout
        deadline = .now + timeout
    }

    var hasFailed: Bool { steps.contains { $0.outcome == .failed } }

    /// Runs `body` with the time left before the deadline, unless an earlier step failed.
    mutating func run(_ name: String, _ description: String, _ body: (Duration) async -> Result) async {
        if hasFailed {
            steps.append(TargetCheckStep(name: name, description: description, outcome: .skipped, seconds: 0,
                                         detail: "not run: an earlier step failed"))
            return
        }
        let left = deadline - .now
        guard left > .zero else {
            steps.append(TargetCheckStep(name: name, description: description, outcome: .failed, seconds: 0,
                                         detail: "the check's \(Int(timeout.inSeconds.rounded(.up))) s deadline passed before this step",
                                         hint: "the earlier steps were slow; allow more time (--timeout) or look at the slow peer"))
            return
        }
        let start = ContinuousClock.now
        let result = await body(left)
        let seconds = (ContinuousClock.now - start).inSeconds
        switch result {
        case .passed(let detail):
            steps.append(TargetCheckStep(name: name, description: description, outcome: .passed, seconds: seconds, detail: detail))
        case .failed(let detail, let hint):
            steps.append(TargetCheckStep(name: name, description: description, outcome: .failed, seconds: seconds,
                                         detail: detail, hint: hint))
        }
    }
}
