import Foundation

/// Decodes and validates a DeploymentProfile document with beampipe 0.1.6's rules (plus the
/// stricter URL and length checks beamsync adds), reporting every problem with its position.
public enum ProfileDecoder {
    public static let apiVersion = "beampipe.dev/v1"

    static let nameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-".unicodeScalars)

    public static func decode(_ root: SourceNode, origin: DocumentOrigin, sink: inout DiagnosticSink) -> DeploymentProfile? {
        guard var doc = FieldReader(root, path: "", sink: &sink, what: "a DeploymentProfile mapping") else { return nil }
        let errorsBefore = sink.diagnostics.errors.count

        // Optional headers, accepted so profiles can sit beside other beampipe documents.
        if case .value(let v, let n) = doc.string("apiVersion", sink: &sink), v != apiVersion {
            sink.error(.invalidValue, at: n, path: "apiVersion", "apiVersion '\(DisplayText.value(v))' is not supported for DeploymentProfile; expected \(apiVersion)",
                       hint: "write `apiVersion: \(apiVersion)` or leave the line out")
        }
        if case .value(let v, let n) = doc.string("kind", sink: &sink), v != DocumentKind.deploymentProfile.rawValue {
            sink.error(.kindMismatch, at: n, path: "kind", "kind '\(DisplayText.value(v))' is not DeploymentProfile", hint: "write `kind: DeploymentProfile`")
        }

        let name = validatedName(doc.string("name", sink: &sink, required: true), path: "name", sink: &sink)
        let description = doc.string("description", sink: &sink, rule: .freeText)
        // PostgreSQL's VARCHAR(255) counts Unicode scalars, not what a person sees as one character.
        if case .value(let d, let n) = description, d.utf8.count > 255, d.unicodeScalars.count > 255 {
            sink.error(.outOfRange, at: n, path: "description", "description is \(d.unicodeScalars.count) characters; at most 255 are stored",
                       hint: "shorten the description")
        }
        let projectModule = doc.string("project_module", sink: &sink)
        if case .value(let p, let n) = projectModule {
            checkProjectModule(p, node: n, path: "project_module", sink: &sink)
        }
        let isDefault = doc.bool("is_default", sink: &sink).value ?? false
        let maxConcurrent = doc.int("max_concurrent_executions", sink: &sink)
        if case .value(let m, let n) = maxConcurrent, m < 1 {
            sink.error(.outOfRange, at: n, path: "max_concurrent_executions", "must be at least 1, found \(m)",
                       hint: "leave it out for no limit, or set a positive number")
        }

        var translation: TranslationConfig? = nil
        if let t = doc.entry("translation")?.value {
            translation = decodeTranslation(t, sink: &sink)
        } else {
            sink.error(.missingField, at: root, path: "translation", "required section 'translation' is missing",
                       hint: "add `translation: {}` to take the defaults (algo metis, num_par 1, num_islands 0)")
        }
        var deployment: DeploymentTarget? = nil
        if let d = doc.entry("deployment")?.value {
            deployment = decodeDeployment(d, sink: &sink)
        } else {
            sink.error(.missingField, at: root, path: "deployment", "required section 'deployment' is missing",
                       hint: "add a `deployment:` section with `kind: rest_remote` or `kind: slurm_remote`")
        }
        doc.reportUnknownKeys(sink: &sink)

        guard sink.diagnostics.errors.count == errorsBefore, let name, let translation, let deployment else { return nil }
        if case .restRemote(let r) = deployment, !r.verifySSL {
            sink.warning(.insecureSetting, at: root, path: "deployment.verify_ssl",
                         "TLS verification is off for profile '\(name)'; the DIM's certificate is not checked",
                         hint: "set verify_ssl: true and give the DIM a certificate the controller trusts")
        }
        return DeploymentProfile(name: name, description: description.value, projectModule: projectModule.value,
                                 isDefault: isDefault, maxConcurrentExecutions: maxConcurrent.value,
                                 translation: translation, deployment: deployment)
    }

    /// Profile names: 1-50 ASCII letters, digits, '.', '_' or '-'.
    static func validatedName(_ p: FieldReader.Presence<String>, path: String, sink: inout DiagnosticSink, limit: Int = 50) -> String? {
        guard case .value(let name, let node) = p else { return nil }
        if name.isEmpty || name.unicodeScalars.count > limit || !name.unicodeScalars.allSatisfy(nameCharacters.contains) {
            let why = name.isEmpty ? "it is empty"
                : name.unicodeScalars.count > limit ? "it is \(name.unicodeScalars.count) characters long"
                : "it contains '\(name.unicodeScalars.first { !nameCharacters.contains($0) }!)'"
            sink.error(.invalidValue, at: node, path: path,
                       "name must be 1-\(limit) ASCII letters, digits, '.', '_' or '-'; \(why)",
                       hint: "for example: \(suggestedName(name, limit: limit))")
            return nil
        }
        return name
    }

    static func suggestedName(_ name: String, limit: Int) -> String {
        // A name written with '@' may be a URL or user:password@host: suggest nothing built from it.
        if name.utf8.contains(UInt8(ascii: "@")) { return "my-profile" }
        let cleaned = String(name.unicodeScalars.map { nameCharacters.contains($0) ? Character($0) : "-" }.prefix(limit))
        return cleaned.isEmpty ? "my-profile" : cleaned
    }

    static func checkProjectModule(_ p: String, node: SourceNode, path: String, sink: inout DiagnosticSink) {
        if TextScan.isBlank(p) {
            sink.error(.invalidValue, at: node, path: path, "project_module is blank",
                       hint: "name a project (its ProjectConfig metadata.id), or leave the field out for a global profile")
        } else if TextScan.hasOuterWhitespace(p) {
            sink.error(.invalidValue, at: node, path: path, "project_module '\(DisplayText.value(p))' has leading or trailing spaces",
                       hint: "remove the spaces; project ids are matched exactly")
        } else if p.utf8.count > 50, p.unicodeScalars.count > 50 {
            sink.error(.outOfRange, at: node, path: path, "project_module is \(p.unicodeScalars.count) characters; at most 50 are stored",
                       hint: "use a shorter project id")
        }
    }

    static func decodeTranslation(_ node: SourceNode, sink: inout DiagnosticSink) -> TranslationConfig? {
        guard var r = FieldReader(node, path: "translation", sink: &sink) else { return nil }
        let before = sink.diagnostics.errors.count
        var t = TranslationConfig()
        if let algo = r.enumeration("algo", PartitionAlgorithm.self, sink: &sink).value { t.algo = algo }
        if let n = atLeast(1, r.int("num_par", sink: &sink), path: "translation.num_par", sink: &sink) { t.numPar = n }
        if let n = atLeast(0, r.int("num_islands", sink: &sink), path: "translation.num_islands", sink: &sink) { t.numIslands = n }
        if case .value(let url, let n) = r.string("tm_url", sink: &sink) {
            if let problem = URLCheck.problem(with: url) {
                sink.error(.invalidValue, at: n, path: "translation.tm_url", "tm_url '\(DisplayText.value(url))' is not an absolute http(s) URL: \(problem)",
                           hint: "write the Translator Manager's address, e.g. http://dlg-tm.example.org:8084")
            } else {
                t.tmURL = url
            }
        }
        r.reportUnknownKeys(sink: &sink)
        return sink.diagnostics.errors.count == before ? t : nil
    }

    static func atLeast(_ minimum: Int, _ p: FieldReader.Presence<Int>, path: String, sink: inout DiagnosticSink) -> Int? {
        guard case .value(let v, let n) = p else { return nil }
        if v < minimum {
            sink.error(.outOfRange, at: n, path: path, "must be at least \(minimum), found \(v)",
                       hint: minimum == 1 ? "use a positive number" : "use \(minimum) or more")
            return nil
        }
        return v
    }

    static func port(_ p: FieldReader.Presence<Int>, path: String, sink: inout DiagnosticSink) -> Int? {
        guard case .value(let v, let n) = p else { return nil }
        guard (1...65535).contains(v) else {
            sink.error(.outOfRange, at: n, path: path, "port must be between 1 and 65535, found \(v)", hint: "use a TCP port number")
            return nil
        }
        return v
    }

    static func nonBlank(_ p: FieldReader.Presence<String>, path: String, sink: inout DiagnosticSink, what: String) -> String? {
        guard case .value(let v, let n) = p else { return nil }
        if TextScan.isBlank(v, newlines: true) {
            sink.error(.invalidValue, at: n, path: path, "\(path) is required and must not be blank", hint: "give \(what)")
            return nil
        }
        return v
    }

    /// A host field: a DNS name or an IP literal (`ValueSyntax.hostProblem`), never quoted back.
    static func host(_ v: String?, node: SourceNode?, path: String, sink: inout DiagnosticSink) -> String? {
        guard let v else { return nil }
        if let problem = ValueSyntax.hostProblem(v) {
            sink.error(.invalidValue, at: node, path: path, "\(FieldReader.lastComponent(path)) must be a host name or an IP address: \(problem)",
                       hint: "write a DNS name such as dim.example.org, an IPv4 address such as 10.0.0.5, or an IPv6 address such as fd00::5; "
                           + "no scheme, port, path or user")
            return nil
        }
        return v
    }

    /// A value that becomes one word of a command on the login node; `problem` is a `ValueSyntax` check.
    static func word(_ v: String?, node: SourceNode?, path: String, problem: (String) -> String?, example: String,
                     sink: inout DiagnosticSink) -> String? {
        guard let v else { return nil }
        if let reason = problem(v) {
            sink.error(.invalidValue, at: node, path: path, reason,
                       hint: "write it as the cluster knows it, e.g. \(example); it is passed to commands on the login node, "
                           + "so shell syntax is refused")
            return nil
        }
        return v
    }

    static func decodeDeployment(_ node: SourceNode, sink: inout DiagnosticSink) -> DeploymentTarget? {
        guard var r = FieldReader(node, path: "deployment", sink: &sink) else { return nil }
        let kindPresence = r.enumeration("kind", DeploymentKind.self, sink: &sink, required: true)
        guard let kind = kindPresence.value else {
            // Without a kind the rest cannot be checked; do not pile unknown-field errors on top.
            return nil
        }
        switch kind {
        case .restRemote: return decodeRest(&r, sink: &sink).map(DeploymentTarget.restRemote)
        case .slurmRemote: return decodeSlurm(&r, sink: &sink).map(DeploymentTarget.slurmRemote)
        }
    }

    static func decodeRest(_ r: inout FieldReader, sink: inout DiagnosticSink) -> RestRemoteDeployment? {
        let before = sink.diagnostics.errors.count
        let dimHost = r.string("dim_host_for_tm", sink: &sink)
        if case .value = dimHost {
            _ = host(nonBlank(dimHost, path: "deployment.dim_host_for_tm", sink: &sink, what: "the DIM host name the Translator Manager can reach"),
                     node: dimHost.node, path: "deployment.dim_host_for_tm", sink: &sink)
        }
        let dimPort = r.int("dim_port_for_tm", sink: &sink)
        _ = port(dimPort, path: "deployment.dim_port_for_tm", sink: &sink)
        let deployHostPresence = r.string("deploy_host", sink: &sink, required: true)
        let deployHost = host(nonBlank(deployHostPresence, path: "deployment.deploy_host", sink: &sink, what: "the DIM host name beamsync deploys to"),
                              node: deployHostPresence.node, path: "deployment.deploy_host", sink: &sink)
        let deployPort = r.int("deploy_port", sink: &sink)
        _ = port(deployPort, path: "deployment.deploy_port", sink: &sink)
        let useHTTPS = r.bool("use_https", sink: &sink)
        let verify = r.bool("verify_ssl", sink: &sink)
        r.reportUnknownKeys(sink: &sink)
        guard sink.diagnostics.errors.count == before, let deployHost else { return nil }
        var d = RestRemoteDeployment(deployHost: deployHost)
        d.dimHostForTM = dimHost.value
        switch dimPort { case .null: d.dimPortForTM = nil; case .value(let v, _): d.dimPortForTM = v; default: break }
        switch deployPort { case .null: d.deployPort = nil; case .value(let v, _): d.deployPort = v; default: break }
        d.useHTTPS = useHTTPS.value ?? false
        d.verifySSL = verify.value ?? true
        return d
    }

    static func decodeSlurm(_ r: inout FieldReader, sink: inout DiagnosticSink) -> SlurmRemoteDeployment? {
        let before = sink.diagnostics.errors.count
        let loginPresence = r.string("login_node", sink: &sink, required: true)
        let loginNode = host(nonBlank(loginPresence, path: "deployment.login_node", sink: &sink, what: "the login node's host name"),
                             node: loginPresence.node, path: "deployment.login_node", sink: &sink)
        let sshPort = r.int("ssh_port", sink: &sink)
        _ = port(sshPort, path: "deployment.ssh_port", sink: &sink)
        let remoteUser = r.string("remote_user", sink: &sink)
        if case .value = remoteUser {
            _ = word(nonBlank(remoteUser, path: "deployment.remote_user", sink: &sink, what: "the remote account name"), node: remoteUser.node,
                     path: "deployment.remote_user", problem: ValueSyntax.userNameProblem, example: "jsmith", sink: &sink)
        }
        let accountPresence = r.string("account", sink: &sink, required: true)
        let account = word(nonBlank(accountPresence, path: "deployment.account", sink: &sink, what: "the Slurm account to charge"),
                           node: accountPresence.node, path: "deployment.account", problem: ValueSyntax.accountProblem, example: "pawsey0411", sink: &sink)
        func absolute(_ key: String) -> String? {
            let path = "deployment.\(key)"
            guard let v = nonBlank(r.string(key, sink: &sink, required: true), path: path, sink: &sink, what: "an absolute remote path") else { return nil }
            guard v.hasPrefix("/") else {
                let shown = DisplayText.value(v)
                sink.error(.invalidValue, at: r.mapping.value(for: key), path: path, "\(key) must be an absolute remote path, found '\(shown)'",
                           hint: "start it with '/', e.g. /scratch/project/\(shown)")
                return nil
            }
            if let problem = ValueSyntax.remotePathProblem(v) {
                sink.error(.invalidValue, at: r.mapping.value(for: key), path: path, problem,
                           hint: "write the directory out in full, e.g. /scratch/project/user/dlg: shell characters, $VARIABLES and '..' "
                               + "would mean different things where beampipe quotes the path and where DALiuGE's job script does not")
                return nil
            }
            return v
        }
        let homeDir = absolute("home_dir")
        let logDir = absolute("log_dir")
        var dlgRoot = absolute("dlg_root")
        if let root = dlgRoot, root.allSatisfy({ $0 == "/" }) {
            sink.error(.invalidValue, at: r.mapping.value(for: "dlg_root"), path: "deployment.dlg_root",
                       "dlg_root must be a dedicated directory, not the remote filesystem root",
                       hint: "use a directory such as /scratch/project/dlg")
            dlgRoot = nil
        }
        let execPrefix = r.string("exec_prefix", sink: &sink)
        let facility = r.string("facility", sink: &sink)
        _ = word(facility.value, node: facility.node, path: "deployment.facility", problem: ValueSyntax.facilityProblem, example: "setonix", sink: &sink)
        let jobDuration = r.int("job_duration_minutes", sink: &sink)
        let numNodes = r.int("num_nodes", sink: &sink)
        let numIslands = r.int("num_islands", sink: &sink)
        let verbose = r.int("verbose_level", sink: &sink)
        let maxThreads = r.int("max_threads", sink: &sink)
        if case .value(let v, let n) = maxThreads, v < 0 {
            sink.error(.outOfRange, at: n, path: "deployment.max_threads", "must be 0 or more, found \(v)", hint: "0 lets DALiuGE choose")
        }
        let allNICs = r.bool("all_nics", sink: &sink)
        let zerorun = r.bool("zerorun", sink: &sink)
        let sleepncopy = r.bool("sleepncopy", sink: &sink)
        let checkWithSession = r.bool("check_with_session", sink: &sink)
        let venv = r.string("venv", sink: &sink, rule: .shellText)
        let modules = r.string("modules", sink: &sink, rule: .shellText)
        let verify = r.bool("verify_ssl", sink: &sink)
        let template = r.string("slurm_template", sink: &sink, rule: .shellText)
        let credential = r.string("ssh_credential", sink: &sink)
        if case .value(let slot, let n) = credential { checkCredentialSlot(slot, node: n, sink: &sink) }
        let containerRuntime = r.string("container_runtime", sink: &sink)
        let environmentSetup = r.string("environment_setup", sink: &sink, rule: .shellText)

        var resources = SlurmResources()
        if let node = r.child("resources") { resources = decodeResources(node, sink: &sink) ?? resources }
        var topology = ManagerTopology()
        if let node = r.child("manager_topology") { topology = decodeTopology(node, sink: &sink) ?? topology }
        r.reportUnknownKeys(sink: &sink)

        // Effective values must be positive; report at the field that supplies the value.
        func positive(_ value: Int?, _ path: String, _ node: SourceNode?) {
            if let value, value < 1 {
                sink.error(.outOfRange, at: node ?? r.node, path: path, "must be at least 1, found \(value)", hint: "use a positive number")
            }
        }
        if resources.nodes == nil { positive(numNodes.value, "deployment.num_nodes", numNodes.node) }
        if topology.islands == nil { positive(numIslands.value, "deployment.num_islands", numIslands.node) }
        if resources.wallTimeMinutes == nil { positive(jobDuration.value, "deployment.job_duration_minutes", jobDuration.node) }

        guard sink.diagnostics.errors.count == before, let loginNode, let account, let homeDir, let logDir, let dlgRoot else { return nil }
        var d = SlurmRemoteDeployment(loginNode: loginNode, account: account, homeDir: homeDir, logDir: logDir, dlgRoot: dlgRoot)
        if let v = sshPort.value { d.sshPort = v }
        d.remoteUser = remoteUser.value
        if let v = execPrefix.value { d.execPrefix = v }
        if let v = facility.value { d.facility = v }
        if let v = jobDuration.value { d.jobDurationMinutes = v }
        if let v = numNodes.value { d.numNodes = v }
        if let v = numIslands.value { d.numIslands = v }
        if let v = verbose.value { d.verboseLevel = v }
        if let v = maxThreads.value { d.maxThreads = v }
        d.allNICs = allNICs.value ?? false
        d.zerorun = zerorun.value ?? false
        d.sleepncopy = sleepncopy.value ?? false
        d.checkWithSession = checkWithSession.value ?? false
        d.venv = venv.value
        d.modules = modules.value
        d.verifySSL = verify.value
        d.slurmTemplate = template.value
        d.sshCredential = credential.value
        d.resources = resources
        d.managerTopology = topology
        d.containerRuntime = containerRuntime.value
        d.environmentSetup = environmentSetup.value
        return d
    }

    /// Slot names: 1-50 ASCII letters, digits, '.', '_' or '-', never '..' (they become directory names).
    static func checkCredentialSlot(_ slot: String, node: SourceNode, sink: inout DiagnosticSink) {
        let trimmed = TextScan.trimming(slot)
        if trimmed.isEmpty || trimmed.count > 50 || TextScan.contains(trimmed, "..") || trimmed.contains("/" as Character) || trimmed.contains("\\" as Character)
            || !trimmed.unicodeScalars.allSatisfy(nameCharacters.contains) {
            sink.error(.invalidValue, at: node, path: "deployment.ssh_credential",
                       "ssh_credential must be a slot name of 1-50 ASCII letters, digits, '.', '_' or '-' without '..', '/' or '\\'",
                       hint: "name the slot (e.g. setonix-prod); the key itself is installed on the controller, never in git")
        }
    }

    static func decodeResources(_ node: SourceNode, sink: inout DiagnosticSink) -> SlurmResources? {
        guard var r = FieldReader(node, path: "deployment.resources", sink: &sink) else { return nil }
        let before = sink.diagnostics.errors.count
        var res = SlurmResources()
        func text(_ key: String, _ problem: (String) -> String?, example: String) -> String? {
            let path = "deployment.resources.\(key)"
            let p = r.string(key, sink: &sink)
            return word(nonBlank(p, path: path, sink: &sink, what: "a value or remove the line"), node: p.node, path: path,
                        problem: problem, example: example, sink: &sink)
        }
        res.partition = text("partition", ValueSyntax.partitionProblem, example: "work")
        res.nodes = atLeast(1, r.int("nodes", sink: &sink), path: "deployment.resources.nodes", sink: &sink)
        res.tasks = atLeast(1, r.int("tasks", sink: &sink), path: "deployment.resources.tasks", sink: &sink)
        res.cpusPerTask = atLeast(1, r.int("cpus_per_task", sink: &sink), path: "deployment.resources.cpus_per_task", sink: &sink)
        res.memory = text("memory", ValueSyntax.memoryProblem, example: "64G")
        res.wallTimeMinutes = atLeast(1, r.int("wall_time_minutes", sink: &sink), path: "deployment.resources.wall_time_minutes", sink: &sink)
        res.constraint = text("constraint", ValueSyntax.constraintProblem, example: "amd&gpu")
        res.qualityOfService = text("quality_of_service", ValueSyntax.qosProblem, example: "normal")
        r.reportUnknownKeys(sink: &sink)
        return sink.diagnostics.errors.count == before ? res : nil
    }

    static func decodeTopology(_ node: SourceNode, sink: inout DiagnosticSink) -> ManagerTopology? {
        guard var r = FieldReader(node, path: "deployment.manager_topology", sink: &sink) else { return nil }
        let before = sink.diagnostics.errors.count
        var t = ManagerTopology()
        t.nodes = atLeast(1, r.int("nodes", sink: &sink), path: "deployment.manager_topology.nodes", sink: &sink)
        t.islands = atLeast(1, r.int("islands", sink: &sink), path: "deployment.manager_topology.islands", sink: &sink)
        t.coHostDIM = r.bool("co_host_dim", sink: &sink).value ?? false
        r.reportUnknownKeys(sink: &sink)
        return sink.diagnostics.errors.count == before ? t : nil
    }
}

/// Minimal absolute-URL check (scheme, host, port) without Foundation's lenient parser. The
/// problem it returns never quotes the URL (it may hold credentials).
enum URLCheck {
    /// Characters RFC 3986 never allows unencoded; no real URL needs them.
    private static func isRefused(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\\"), UInt8(ascii: "^"), UInt8(ascii: "`"),
             UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"):
            return true
        default:
            return b <= 0x20 || b == 0x7F
        }
    }

    static func problem(with url: String) -> String? {
        let lower = url.lowercased()
        let rest: Substring
        if lower.hasPrefix("http://") { rest = url.dropFirst(7) }
        else if lower.hasPrefix("https://") { rest = url.dropFirst(8) }
        else { return "it must start with http:// or https://" }
        if url.contains(where: { $0.isWhitespace }) { return "it contains spaces" }
        if let bad = url.utf8.first(where: isRefused) {
            return "'\(DisplayText.escaped(String(Character(Unicode.Scalar(bad)))))' must be percent-encoded in a URL"
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.contains("@" as Character) { return "credentials in URLs are not allowed" }
        var host = Substring(authority)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return "the IPv6 address is not closed with ']'" }
            let after = host[host.index(after: close)...]
            host = host[...close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return "the port is not a number between 1 and 65535" }
            }
        } else if let colon = host.lastIndex(of: ":") {
            let portText = host[host.index(after: colon)...]
            guard let p = Int(portText), (1...65535).contains(p) else { return "the port is not a number between 1 and 65535" }
            host = host[..<colon]
            if host.utf8.contains(UInt8(ascii: ":")) { return "an IPv6 address in a URL goes in brackets, e.g. http://[fd00::1]:8084" }
        }
        if host.isEmpty { return "it has no host name" }
        if let problem = ValueSyntax.hostProblem(String(host)) { return "its host is not a host name or an IP address: \(problem)" }
        return nil
    }
}
