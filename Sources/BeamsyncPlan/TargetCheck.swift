/// Live checks of a deployment profile's target (`beamsync slurm ping`, `beamsync dim ping`,
/// `plan --check-targets`): each step in order, how it went and how long it took.
public struct TargetCheckStep: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        case passed, failed, skipped
    }

    /// A stable machine name: `credentials`, `tcp`, `host_key`, `auth`, `squeue`, `tm`, `dim`, ...
    public var name: String
    /// What was checked, for people: "TCP connection to login.example.org:22".
    public var description: String
    public var outcome: Outcome
    public var seconds: Double
    /// What was found (passed) or what went wrong (failed); never a secret.
    public var detail: String?
    /// What to check when the step failed.
    public var hint: String?

    public init(name: String, description: String, outcome: Outcome, seconds: Double, detail: String? = nil, hint: String? = nil) {
        self.name = name
        self.description = description
        self.outcome = outcome
        self.seconds = seconds
        self.detail = detail
        self.hint = hint
    }
}

/// One profile's target check. Steps after the first failure are `skipped`.
public struct TargetCheckReport: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case dim, slurm
    }

    public var profile: String
    public var kind: Kind
    /// The target as people name it: `login.example.org:22 as hpcuser`, `http://dim.example.org:8001`.
    public var target: String
    public var steps: [TargetCheckStep]

    public init(profile: String, kind: Kind, target: String, steps: [TargetCheckStep]) {
        self.profile = profile
        self.kind = kind
        self.target = target
        self.steps = steps
    }

    public var passed: Bool { !steps.contains { $0.outcome == .failed } }
    public var firstFailure: TargetCheckStep? { steps.first { $0.outcome == .failed } }
}
