import BeamsyncModel

/// `GET /api/sessions/{id}/graph/status`: each drop's state (DROPStates) and, for applications,
/// its execution state (AppDROPStates).
public struct GraphStatus: Sendable, Hashable {
    public struct DropState: Sendable, Hashable {
        /// DROPStates: 0 INITIALIZED, 1 WRITING, 2 COMPLETED, 3 ERROR, 4 EXPIRED, 5 DELETED,
        /// 6 CANCELLED, 7 SKIPPED; or a string.
        public var status: JSONValue?
        /// AppDROPStates: 0 NOT_RUN, 1 RUNNING, 2 FINISHED, 3 ERROR, 4 CANCELLED, 5 SKIPPED.
        public var execStatus: JSONValue?

        public init(status: JSONValue?, execStatus: JSONValue? = nil) {
            self.status = status
            self.execStatus = execStatus
        }

        /// Status 3 (ERROR), or a string containing ERROR or FAILED; for an application also an
        /// execStatus of 3 (ERROR).
        public var isError: Bool { Self.isError(status) || Self.isError(execStatus) }

        /// An application that itself failed (as opposed to a drop in error downstream of it).
        public var isFailedApplication: Bool { Self.isError(execStatus) }

        static func isError(_ value: JSONValue?) -> Bool {
            switch value {
            case .int(let n)?: n == 3
            case .double(let d)?: d == 3
            case .string(let s)?:
                s.uppercased().contains("ERROR") || s.uppercased().contains("FAILED") || Int(s) == 3
            default: false
            }
        }
    }

    public var drops: [String: DropState]

    public init(drops: [String: DropState]) { self.drops = drops }

    /// Reads `{"oid": {"status": n, "execStatus": m}, ...}` and the bare form `{"oid": n}`.
    public init(json: JSONValue) {
        var drops: [String: DropState] = [:]
        for (oid, value) in json.objectValue ?? [:] {
            if let object = value.objectValue {
                drops[oid] = DropState(status: object["status"], execStatus: object["execStatus"])
            } else {
                drops[oid] = DropState(status: value)
            }
        }
        self.init(drops: drops)
    }

    /// Drops in error, sorted: failed applications first, then the other error drops.
    public var errorDrops: [String] {
        let errors = drops.filter { $0.value.isError }
        let apps = errors.filter { $0.value.isFailedApplication }.keys.sorted()
        let others = errors.filter { !$0.value.isFailedApplication }.keys.sorted()
        return apps + others
    }
}
