import BeamsyncModel

/// The INI file `create_dlg_job --config_file` reads, laid out as beampipe writes it. DALiuGE reads
/// it with `ConfigParser(interpolation=ExtendedInterpolation())`, flattens every section and sets
/// each key as a command-line option, so values are escaped (`$` as `$$`) to reach the job script
/// verbatim, and multi-line values (modules) continue on indented lines.
struct DaliugeSubmitConfig {
    let slurm: SlurmRemoteDeployment
    /// The remote user (`USER`).
    let user: String
    /// Where the partitioned graph was uploaded (`PHYSICAL_GRAPH`).
    let physicalGraphPath: String

    var text: String {
        var lines: [String] = []
        func section(_ name: String, _ entries: [(String, String?)]) {
            if !lines.isEmpty { lines.append("") }
            lines.append("[\(name)]")
            for (key, value) in entries {
                guard let value else { continue }
                lines.append("\(key) = \(Self.escape(value))")
            }
        }
        section("DEPLOYMENT", [("remote", "False"), ("submit", "False")])
        section("ENGINE", [
            ("NUM_NODES", String(slurm.effectiveNodes)), ("NUM_ISLANDS", String(slurm.effectiveIslands)),
            ("JOB_DUR", String(slurm.effectiveWallTimeMinutes)), ("MAX_THREADS", String(slurm.maxThreads)),
            ("VERBOSE_LEVEL", String(slurm.verboseLevel)), ("ALL_NICS", slurm.allNICs ? "True" : "False"),
        ])
        section("GRAPH", [("PHYSICAL_GRAPH", physicalGraphPath)])
        // MODULES is pasted into the job script as it is; `:` (a no-op) when the profile has none,
        // where a missing key would paste the word `None`.
        section("FACILITY", [
            ("USER", user), ("ACCOUNT", slurm.account), ("LOGIN_NODE", slurm.loginNode), ("HOME_DIR", slurm.homeDir),
            ("DLG_ROOT", slurm.dlgRoot), ("LOG_DIR", slurm.logDir), ("EXEC_PREFIX", slurm.execPrefix),
            ("MODULES", Self.nonBlank(slurm.modules) ?? ":"), ("VENV", Self.nonBlank(slurm.venv)),
        ])
        return lines.joined(separator: "\n") + "\n"
    }

    /// `$` doubled for ExtendedInterpolation; every line after the first indented (an INI
    /// continuation line); trailing blanks dropped.
    static func escape(_ value: String) -> String {
        let lines = value.replacingOccurrences(of: "$", with: "$$").split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return lines.joined(separator: "\n    ")
    }

    static func nonBlank(_ value: String?) -> String? {
        guard let value, !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return value
    }
}
