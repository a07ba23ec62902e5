import BeamsyncModel

/// A Slurm job state normalised the way beampipe normalises it, ranked so that compound states
/// (`COMPLETING+...`) and job steps fold to the most telling one.
public enum SlurmJobState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case unknown = "UNKNOWN"
    case pending = "PENDING"
    case running = "RUNNING"
    case completed = "COMPLETED"
    case cancelled = "CANCELLED"
    case timeout = "TIMEOUT"
    case failed = "FAILED"

    /// UNKNOWN 0 < PENDING 1 < RUNNING 2 < COMPLETED 3 < CANCELLED 4 < TIMEOUT 5 < FAILED 6.
    public var rank: Int {
        switch self {
        case .unknown: 0
        case .pending: 1
        case .running: 2
        case .completed: 3
        case .cancelled: 4
        case .timeout: 5
        case .failed: 6
        }
    }

    /// A state as squeue (`%T`) or sacct (`State`) prints it: `RUNNING`, `CANCELLED by 1001`,
    /// `COMPLETING+...`; the first word counts, and of a compound the highest-ranked member.
    public init(raw: String) {
        let word = raw.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
        let members = word.split(separator: "+").map { Self.member(String($0).uppercased()) }
        self = members.max { $0.rank < $1.rank } ?? .unknown
    }

    private static func member(_ token: String) -> SlurmJobState {
        switch token {
        case "COMPLETED": return .completed
        case "PENDING", "RESV_DEL_HOLD", "REQUEUE_HOLD", "SPECIAL_EXIT", "STOPPED", "SUSPENDED": return .pending
        case "RUNNING", "COMPLETING", "CONFIGURING", "EXPEDITING", "POWER_UP_NODE", "REQUEUED", "REQUEUE_FED", "RESIZING",
             "SIGNALING", "STAGE_OUT", "UPDATE_DB": return .running
        case "BOOT_FAIL", "DEADLINE", "FAILED", "LAUNCH_FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "RECONFIG_FAIL":
            return .failed
        case "TIMEOUT": return .timeout
        case "REVOKED": return .cancelled
        default: return token.hasPrefix("CANCELLED") ? .cancelled : .unknown
        }
    }

    /// COMPLETED, FAILED, TIMEOUT and CANCELLED never change again.
    public var isTerminal: Bool { rank >= SlurmJobState.completed.rank }

    /// The ledger status a job in this state gives its execution (beampipe's mapping): waiting
    /// for the scheduler while pending or not yet known, running, or the end state.
    public var executionStatus: ExecutionStatus {
        switch self {
        case .unknown, .pending: .awaitingScheduler
        case .running: .running
        case .completed: .completed
        case .cancelled: .cancelled
        case .timeout, .failed: .failed
        }
    }

    public var description: String { rawValue }
}
