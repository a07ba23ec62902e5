/// JSON Schema (draft-07, which YAML language servers understand) for DeploymentProfile
/// documents. It mirrors `ProfileDecoder`; a test runs both over the same valid and invalid cases.
public enum ProfileSchema {
    public static let id = "https://beamsync.dev/schemas/deployment-profile.json"

    private static func str(_ description: String, pattern: String? = nil, minLength: Int? = nil, maxLength: Int? = nil,
                            format: String? = nil, defaultValue: String? = nil) -> JSONValue {
        var o: [String: JSONValue] = ["type": .string("string"), "description": .string(description)]
        if let pattern { o["pattern"] = .string(pattern) }
        if let minLength { o["minLength"] = .int(Int64(minLength)) }
        if let maxLength { o["maxLength"] = .int(Int64(maxLength)) }
        if let format { o["format"] = .string(format) }
        if let defaultValue { o["default"] = .string(defaultValue) }
        return .object(o)
    }

    private static func int(_ description: String, minimum: Int? = nil, maximum: Int? = nil, defaultValue: Int? = nil,
                            nullable: Bool = false) -> JSONValue {
        var o: [String: JSONValue] = ["type": nullable ? .array([.string("integer"), .string("null")]) : .string("integer"),
                                      "description": .string(description)]
        o["minimum"] = .int(Int64(minimum ?? Int(Int32.min)))
        o["maximum"] = .int(Int64(maximum ?? Int(Int32.max)))
        if let defaultValue { o["default"] = .int(Int64(defaultValue)) }
        return .object(o)
    }

    private static func bool(_ description: String, defaultValue: Bool? = nil) -> JSONValue {
        var o: [String: JSONValue] = ["type": .string("boolean"), "description": .string(description)]
        if let defaultValue { o["default"] = .bool(defaultValue) }
        return .object(o)
    }

    private static func object(_ description: String, properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        var o: [String: JSONValue] = ["type": .string("object"), "description": .string(description),
                                      "additionalProperties": .bool(false), "properties": .object(properties)]
        if !required.isEmpty { o["required"] = .array(required.map(JSONValue.string)) }
        return .object(o)
    }

    /// Non-blank: at least one non-space character.
    private static let nonBlank = "\\S"
    private static let absolutePath = "^/"
    private static let notRoot = "[^/]"
    /// An optional `:port` in 1-65535.
    private static let portPattern = "(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"

    private static var translation: JSONValue {
        object("How the Translator Manager partitions the graph.", properties: [
            "algo": .object(["type": .string("string"), "enum": .array([.string("metis"), .string("mysarkar")]),
                             "default": .string("metis"), "description": .string("Partitioning algorithm.")]),
            "num_par": int("Number of partitions (>= 1).", minimum: 1, defaultValue: 1),
            "num_islands": int("Number of data islands (>= 0).", minimum: 0, defaultValue: 0),
            "tm_url": str("Translator Manager URL (absolute http or https).", pattern: "^[hH][tT][tT][pP][sS]?://[^\\s/@:?#]+" + portPattern + "([/?#]\\S*)?$"),
        ])
    }

    private static var rest: JSONValue {
        object("A Data Island Manager reached over REST.", properties: [
            "kind": .object(["const": .string("rest_remote")]),
            "dim_host_for_tm": str("DIM host as the Translator Manager sees it.", pattern: nonBlank),
            "dim_port_for_tm": int("DIM port as the Translator Manager sees it; null for none.", minimum: 1, maximum: 65535, defaultValue: 8001, nullable: true),
            "deploy_host": str("DIM host beamsync deploys to.", pattern: nonBlank),
            "deploy_port": int("DIM port; null for none.", minimum: 1, maximum: 65535, defaultValue: 8001, nullable: true),
            "use_https": bool("Talk to the DIM over https.", defaultValue: false),
            "verify_ssl": bool("Verify the DIM's TLS certificate.", defaultValue: true),
        ], required: ["kind", "deploy_host"])
    }

    private static var slurm: JSONValue {
        object("A Slurm cluster reached over SSH.", properties: [
            "kind": .object(["const": .string("slurm_remote")]),
            "login_node": str("Login node host name.", pattern: nonBlank),
            "ssh_port": int("SSH port.", minimum: 1, maximum: 65535, defaultValue: 22),
            "remote_user": str("Remote account (default: SLURM_REMOTE_USER, then USER).", pattern: nonBlank),
            "account": str("Slurm account to charge.", pattern: nonBlank),
            "home_dir": str("Absolute remote home directory.", pattern: absolutePath),
            "log_dir": str("Absolute remote log directory.", pattern: absolutePath),
            "dlg_root": .object(["type": .string("string"), "description": .string("Absolute DALiuGE root; not '/'."),
                                 "allOf": .array([.object(["pattern": .string(absolutePath)]), .object(["pattern": .string(notRoot)])])]),
            "exec_prefix": str("Launcher prefix.", defaultValue: "srun -l"),
            "facility": str("DALiuGE facility name.", defaultValue: "setonix"),
            "job_duration_minutes": int("Wall time in minutes.", minimum: 1, defaultValue: 30),
            "num_nodes": int("Nodes to allocate.", minimum: 1, defaultValue: 1),
            "num_islands": int("Data islands.", minimum: 1, defaultValue: 1),
            "verbose_level": int("DALiuGE verbosity.", defaultValue: 1),
            "max_threads": int("Threads per node manager (0: automatic).", minimum: 0, defaultValue: 0),
            "all_nics": bool("Listen on all network interfaces.", defaultValue: false),
            "zerorun": bool("DALiuGE zero-run mode.", defaultValue: false),
            "sleepncopy": bool("DALiuGE sleep-and-copy mode.", defaultValue: false),
            "check_with_session": bool("Check with the session.", defaultValue: false),
            "venv": str("Remote virtualenv to activate."),
            "modules": str("Module load lines."),
            "verify_ssl": bool("Verify TLS for the Translator Manager."),
            "slurm_template": str("Slurm script template body."),
            "ssh_credential": str("Credential slot name (the key lives on the controller, never in git).",
                                  pattern: "^(?!.*\\.\\.)[A-Za-z0-9._-]{1,50}$"),
            "resources": object("sbatch resource request.", properties: [
                "partition": str("Partition.", pattern: nonBlank),
                "nodes": int("Nodes.", minimum: 1),
                "tasks": int("Tasks.", minimum: 1),
                "cpus_per_task": int("CPUs per task.", minimum: 1),
                "memory": str("Memory, e.g. 64G.", pattern: nonBlank),
                "wall_time_minutes": int("Wall time in minutes.", minimum: 1),
                "constraint": str("Node constraint.", pattern: nonBlank),
                "quality_of_service": str("QOS.", pattern: nonBlank),
            ]),
            "manager_topology": object("DALiuGE manager layout.", properties: [
                "nodes": int("Node managers.", minimum: 1),
                "islands": int("Data islands.", minimum: 1),
                "co_host_dim": bool("Run the DIM on a compute node.", defaultValue: false),
            ]),
            "container_runtime": str("Container runtime."),
            "environment_setup": str("Shell snippet run before DALiuGE starts."),
        ], required: ["kind", "login_node", "account", "home_dir", "log_dir", "dlg_root"])
    }

    public static var document: JSONValue {
        var root = object("A beampipe deployment profile managed by beamsync.", properties: [
            "apiVersion": .object(["const": .string(ProfileDecoder.apiVersion)]),
            "kind": .object(["const": .string(DocumentKind.deploymentProfile.rawValue)]),
            "name": str("Unique profile name.", pattern: "^[A-Za-z0-9._-]{1,50}$"),
            "description": str("Free text.", maxLength: 255),
            "project_module": str("Project this profile belongs to (its ProjectConfig metadata.id); omit for a global profile.",
                                  pattern: "^\\S(.*\\S)?$", maxLength: 50),
            "is_default": bool("Default profile of its scope; at most one per scope.", defaultValue: false),
            "max_concurrent_executions": int("Admission cap.", minimum: 1, nullable: true),
            "translation": translation,
            "deployment": .object(["description": .string("Where graphs are deployed."),
                                   "oneOf": .array([rest, slurm])]),
        ], required: ["name", "translation", "deployment"])
        if case .object(var o) = root {
            o["$schema"] = .string("http://json-schema.org/draft-07/schema#")
            o["$id"] = .string(id)
            o["title"] = .string("beamsync DeploymentProfile")
            root = .object(o)
        }
        return root
    }
}
