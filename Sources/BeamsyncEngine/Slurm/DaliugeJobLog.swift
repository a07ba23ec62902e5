/// What the DALiuGE managers inside a Slurm job write to the session directory, read over SSH.
///
/// `start_dlg_cluster` logs its session's status every 10 s into
/// `<session dir>/<node address>/start_dlg_cluster.log` (`... Session status: [4]`, one number
/// per node) and stops the job only when the session is FINISHED or CANCELLED, so a FAILED graph
/// keeps its job running until Slurm kills it at the time limit. The managers' logs name the
/// drops that failed.
enum DaliugeJobLog {
    /// The session state in a `Session status: [n, ...]` line: any FAILED node fails it, all
    /// FINISHED (or all CANCELLED) ends it, anything else is RUNNING. nil without such a line.
    static func sessionState(_ line: Substring) -> DIMSessionState? {
        guard let marker = line.range(of: "Session status:") else { return nil }
        let rest = line[marker.upperBound...]
        guard let open = rest.firstIndex(of: "["), let close = rest[open...].firstIndex(of: "]") else { return nil }
        let numbers = rest[rest.index(after: open)..<close].split(separator: ",")
            .compactMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        guard !numbers.isEmpty else { return nil }
        let states = numbers.map(DIMSessionState.init(number:))
        if states.contains(.failed) { return .failed }
        if states.allSatisfy({ $0 == .finished }) { return .finished }
        if states.allSatisfy({ $0 == .cancelled }) { return .cancelled }
        if states.contains(.running) { return .running }
        return states.first
    }

    /// Drops in error, from manager log lines: applications that raised (`Error while executing
    /// <BashShellApp oid=OID, uid=...>`) first, then data drops moved to ERROR (`Moving <FileDROP
    /// oid=OID, ...> to ERROR`); each oid once, named from `names` (the graph's oid → name).
    static func failedDrops(_ text: String, names: [String: String]) -> [FailedDrop] {
        var applications: [String] = []
        var data: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            if line.contains("Error while executing <"), let oid = oid(in: line) {
                applications.append(oid)
            } else if line.contains("Moving <"), line.contains("> to ERROR"), let oid = oid(in: line) {
                data.append(oid)
            }
        }
        var seen = Set<String>()
        return (applications + data).filter { seen.insert($0).inserted }.map { FailedDrop(oid: $0, name: names[$0]) }
    }

    /// The `oid=...` value of a drop's description (up to `,` or `>`).
    private static func oid(in line: Substring) -> String? {
        guard let range = line.range(of: " oid=") else { return nil }
        let value = line[range.upperBound...].prefix { $0 != "," && $0 != ">" && !$0.isWhitespace }
        return value.isEmpty ? nil : String(value)
    }
}
