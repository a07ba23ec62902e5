/// Reads what Slurm's commands and DALiuGE's `create_dlg_job` print (Slurm 22.05 formats).
enum SlurmOutput {
    /// `sbatch --parsable`: the job id when stdout is exactly one line `ID` or `ID;cluster`
    /// (a trailing newline allowed); nil for anything else, which makes the submission uncertain.
    static func sbatchJobID(_ stdout: String) -> String? {
        var text = Substring(stdout)
        if text.hasSuffix("\n") { text = text.dropLast() }
        if text.hasSuffix("\r") { text = text.dropLast() }
        guard !text.isEmpty, !text.contains("\n") else { return nil }
        let parts = text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        let id = parts[0]
        guard !id.isEmpty, id.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if parts.count == 2 {
            let cluster = parts[1]
            guard !cluster.isEmpty, cluster.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else { return nil }
        }
        return String(id)
    }

    /// The path in DALiuGE's `Created job submission script <path>` line.
    static func jobScriptPath(_ output: String) -> String? {
        let marker = "Created job submission script "
        for line in output.split(whereSeparator: \.isNewline) {
            guard let range = line.range(of: marker) else { continue }
            let path = line[range.upperBound...].trimmingCharacters(in: .whitespaces)
            if !path.isEmpty { return path }
        }
        return nil
    }

    /// Numeric job ids, one per line (the name look-up's output); duplicates removed, sorted.
    static func jobIDs(_ output: String) -> [String] {
        let ids = Set(output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } })
        return ids.sorted { Int($0) ?? 0 < Int($1) ?? 0 }
    }

    /// One `squeue -o '<prefix>%i|%T|%r'` line.
    struct QueueLine: Sendable, Hashable {
        var state: String
        var reason: String
    }

    /// squeue lines `id|state|reason`, by job id.
    static func squeue(_ lines: [Substring]) -> [String: QueueLine] {
        var jobs: [String: QueueLine] = [:]
        for line in lines {
            let fields = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2 else { continue }
            let id = fields[0].trimmingCharacters(in: .whitespaces)
            guard !id.isEmpty else { continue }
            jobs[id] = QueueLine(state: fields[1].trimmingCharacters(in: .whitespaces),
                                 reason: fields.count > 2 ? fields[2].trimmingCharacters(in: .whitespaces) : "")
        }
        return jobs
    }

    /// squeue exits 1 when every id it was given is unknown (finished longer ago than MinJobAge);
    /// that answer means "none of them", not a failure.
    static func onlyUnknownJobIDs(_ errorLines: [Substring]) -> Bool {
        let lines = errorLines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return !lines.isEmpty && lines.allSatisfy { $0.lowercased().hasSuffix("invalid job id specified") }
    }

    /// One job's accounting record.
    struct AccountingLine: Sendable, Hashable {
        var state: String
        var exitCode: String
    }

    /// `sacct -n -P -j IDS --format=JobID,State,ExitCode`: the job's own row is authoritative; its
    /// steps (`ID.batch`, `ID.0`) count only when the job row is missing, and then the
    /// highest-ranked step state.
    static func sacct(_ text: String) -> [String: AccountingLine] {
        var roots: [String: AccountingLine] = [:]
        var steps: [String: AccountingLine] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2, !fields[0].isEmpty else { continue }
            let record = AccountingLine(state: fields[1], exitCode: fields.count > 2 ? fields[2] : "")
            if let dot = fields[0].firstIndex(of: ".") {
                let id = String(fields[0][..<dot])
                if let known = steps[id], SlurmJobState(raw: known.state).rank >= SlurmJobState(raw: record.state).rank { continue }
                steps[id] = record
            } else {
                roots[fields[0]] = record
            }
        }
        return steps.merging(roots) { _, root in root }
    }
}
