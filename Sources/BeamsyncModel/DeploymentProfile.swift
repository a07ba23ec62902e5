/// Where a document came from: the file, its position, and the git blob it was read from.
public struct DocumentOrigin: Sendable, Hashable, Codable {
    public var file: String
    public var line: Int
    public var column: Int
    /// Position of the document in a multi-document file.
    public var documentIndex: Int
    /// The git blob id when the file was read from a commit.
    public var blobID: String?

    enum CodingKeys: String, CodingKey {
        case file, line, column, documentIndex = "document_index", blobID = "blob_id"
    }

    public init(file: String, line: Int = 1, column: Int = 1, documentIndex: Int = 0, blobID: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.documentIndex = documentIndex
        self.blobID = blobID
    }

    public var location: SourceLocation { SourceLocation(file: file, line: line, column: column) }
}

public enum PartitionAlgorithm: String, Sendable, Codable, CaseIterable {
    case metis
    case mysarkar
}

/// How DALiuGE's Translator Manager partitions the graph (`translation`).
public struct TranslationConfig: Sendable, Hashable {
    public var algo: PartitionAlgorithm = .metis
    public var numPar: Int = 1
    public var numIslands: Int = 0
    public var tmURL: String? = nil

    public init(algo: PartitionAlgorithm = .metis, numPar: Int = 1, numIslands: Int = 0, tmURL: String? = nil) {
        self.algo = algo
        self.numPar = numPar
        self.numIslands = numIslands
        self.tmURL = tmURL
    }

    /// Serialised exactly as beampipe stores it: defaults filled in, an absent `tm_url` omitted.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["algo": .string(algo.rawValue), "num_par": .int(Int64(numPar)),
                                      "num_islands": .int(Int64(numIslands))]
        if let tmURL { o["tm_url"] = .string(tmURL) }
        return .object(o)
    }
}

/// A Data Island Manager reached over REST (`deployment.kind: rest_remote`).
public struct RestRemoteDeployment: Sendable, Hashable {
    /// DIM host as the Translator Manager sees it (for `/map`).
    public var dimHostForTM: String? = nil
    /// nil when the document says `null`; 8001 when it says nothing (beampipe's serde default).
    public var dimPortForTM: Int? = 8001
    public var deployHost: String
    public var deployPort: Int? = 8001
    public var useHTTPS: Bool = false
    public var verifySSL: Bool = true

    public init(dimHostForTM: String? = nil, dimPortForTM: Int? = 8001, deployHost: String, deployPort: Int? = 8001,
                useHTTPS: Bool = false, verifySSL: Bool = true) {
        self.dimHostForTM = dimHostForTM
        self.dimPortForTM = dimPortForTM
        self.deployHost = deployHost
        self.deployPort = deployPort
        self.useHTTPS = useHTTPS
        self.verifySSL = verifySSL
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["kind": .string(DeploymentKind.restRemote.rawValue),
                                      "deploy_host": .string(deployHost),
                                      "use_https": .bool(useHTTPS), "verify_ssl": .bool(verifySSL)]
        if let dimHostForTM { o["dim_host_for_tm"] = .string(dimHostForTM) }
        if let dimPortForTM { o["dim_port_for_tm"] = .int(Int64(dimPortForTM)) }
        if let deployPort { o["deploy_port"] = .int(Int64(deployPort)) }
        return .object(o)
    }
}

/// `deployment.resources`: the sbatch resource request (all optional).
public struct SlurmResources: Sendable, Hashable {
    public var partition: String? = nil
    public var nodes: Int? = nil
    public var tasks: Int? = nil
    public var cpusPerTask: Int? = nil
    public var memory: String? = nil
    public var wallTimeMinutes: Int? = nil
    public var constraint: String? = nil
    public var qualityOfService: String? = nil

    public init() {}

    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        if let partition { o["partition"] = .string(partition) }
        if let nodes { o["nodes"] = .int(Int64(nodes)) }
        if let tasks { o["tasks"] = .int(Int64(tasks)) }
        if let cpusPerTask { o["cpus_per_task"] = .int(Int64(cpusPerTask)) }
        if let memory { o["memory"] = .string(memory) }
        if let wallTimeMinutes { o["wall_time_minutes"] = .int(Int64(wallTimeMinutes)) }
        if let constraint { o["constraint"] = .string(constraint) }
        if let qualityOfService { o["quality_of_service"] = .string(qualityOfService) }
        return .object(o)
    }
}

/// `deployment.manager_topology`: how DALiuGE managers are laid out in the allocation.
public struct ManagerTopology: Sendable, Hashable {
    public var nodes: Int? = nil
    public var islands: Int? = nil
    public var coHostDIM: Bool = false

    public init(nodes: Int? = nil, islands: Int? = nil, coHostDIM: Bool = false) {
        self.nodes = nodes
        self.islands = islands
        self.coHostDIM = coHostDIM
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["co_host_dim": .bool(coHostDIM)]
        if let nodes { o["nodes"] = .int(Int64(nodes)) }
        if let islands { o["islands"] = .int(Int64(islands)) }
        return .object(o)
    }
}

/// A Slurm cluster reached over SSH (`deployment.kind: slurm_remote`).
public struct SlurmRemoteDeployment: Sendable, Hashable {
    public var loginNode: String
    public var sshPort: Int = 22
    public var remoteUser: String? = nil
    public var account: String
    public var homeDir: String
    public var logDir: String
    public var dlgRoot: String
    public var execPrefix: String = "srun -l"
    public var facility: String = "setonix"
    public var jobDurationMinutes: Int = 30
    public var numNodes: Int = 1
    public var numIslands: Int = 1
    public var verboseLevel: Int = 1
    public var maxThreads: Int = 0
    public var allNICs: Bool = false
    public var zerorun: Bool = false
    public var sleepncopy: Bool = false
    public var checkWithSession: Bool = false
    public var venv: String? = nil
    public var modules: String? = nil
    public var verifySSL: Bool? = nil
    public var slurmTemplate: String? = nil
    /// A credential slot name; the key itself lives outside the repository.
    public var sshCredential: String? = nil
    public var resources = SlurmResources()
    public var managerTopology = ManagerTopology()
    public var containerRuntime: String? = nil
    public var environmentSetup: String? = nil

    public init(loginNode: String, account: String, homeDir: String, logDir: String, dlgRoot: String) {
        self.loginNode = loginNode
        self.account = account
        self.homeDir = homeDir
        self.logDir = logDir
        self.dlgRoot = dlgRoot
    }

    public var effectiveNodes: Int { resources.nodes ?? numNodes }
    public var effectiveIslands: Int { managerTopology.islands ?? numIslands }
    public var effectiveWallTimeMinutes: Int { resources.wallTimeMinutes ?? jobDurationMinutes }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "kind": .string(DeploymentKind.slurmRemote.rawValue),
            "login_node": .string(loginNode), "ssh_port": .int(Int64(sshPort)),
            "account": .string(account), "home_dir": .string(homeDir), "log_dir": .string(logDir),
            "dlg_root": .string(dlgRoot), "exec_prefix": .string(execPrefix), "facility": .string(facility),
            "job_duration_minutes": .int(Int64(jobDurationMinutes)), "num_nodes": .int(Int64(numNodes)),
            "num_islands": .int(Int64(numIslands)), "verbose_level": .int(Int64(verboseLevel)),
            "max_threads": .int(Int64(maxThreads)), "all_nics": .bool(allNICs), "zerorun": .bool(zerorun),
            "sleepncopy": .bool(sleepncopy), "check_with_session": .bool(checkWithSession),
            "resources": resources.json, "manager_topology": managerTopology.json,
        ]
        if let remoteUser { o["remote_user"] = .string(remoteUser) }
        if let venv { o["venv"] = .string(venv) }
        if let modules { o["modules"] = .string(modules) }
        if let verifySSL { o["verify_ssl"] = .bool(verifySSL) }
        if let slurmTemplate { o["slurm_template"] = .string(slurmTemplate) }
        if let sshCredential { o["ssh_credential"] = .string(sshCredential) }
        if let containerRuntime { o["container_runtime"] = .string(containerRuntime) }
        if let environmentSetup { o["environment_setup"] = .string(environmentSetup) }
        return .object(o)
    }
}

public enum DeploymentKind: String, Sendable, Codable, CaseIterable {
    case restRemote = "rest_remote"
    case slurmRemote = "slurm_remote"
}

public enum DeploymentTarget: Sendable, Hashable {
    case restRemote(RestRemoteDeployment)
    /// Boxed: a Slurm deployment is eight times the size of a REST one, and an unboxed case would
    /// make every profile (10,000 of them in a large repository's parse cache) that large.
    indirect case slurmRemote(SlurmRemoteDeployment)

    public var kind: DeploymentKind {
        switch self {
        case .restRemote: .restRemote
        case .slurmRemote: .slurmRemote
        }
    }

    public var json: JSONValue {
        switch self {
        case .restRemote(let r): r.json
        case .slurmRemote(let s): s.json
        }
    }
}

/// A beampipe deployment profile: where and how an execution's graph is translated and deployed.
public struct DeploymentProfile: Sendable, Hashable {
    public var name: String
    public var description: String?
    /// nil: a global profile usable by every project.
    public var projectModule: String?
    public var isDefault: Bool
    public var maxConcurrentExecutions: Int?
    public var translation: TranslationConfig
    public var deployment: DeploymentTarget

    public init(name: String, description: String? = nil, projectModule: String? = nil, isDefault: Bool = false,
                maxConcurrentExecutions: Int? = nil, translation: TranslationConfig = .init(), deployment: DeploymentTarget) {
        self.name = name
        self.description = description
        self.projectModule = projectModule
        self.isDefault = isDefault
        self.maxConcurrentExecutions = maxConcurrentExecutions
        self.translation = translation
        self.deployment = deployment
    }

    public var scope: ProfileScope { projectModule.map(ProfileScope.project) ?? .global }

    /// The object beampipe hashes: `{name, description, project_module, is_default,
    /// max_concurrent_executions, translation, deployment}` with absent options as null.
    public var canonicalSpec: JSONValue {
        Self.canonicalSpec(name: name, description: description, projectModule: projectModule, isDefault: isDefault,
                           maxConcurrentExecutions: maxConcurrentExecutions, translation: translation.json, deployment: deployment.json)
    }

    /// The hashed object from its parts; live rows (whose translation and deployment are stored
    /// JSON) are hashed through the same function, so git and the database cannot disagree on shape.
    public static func canonicalSpec(name: String, description: String?, projectModule: String?, isDefault: Bool,
                                     maxConcurrentExecutions: Int?, translation: JSONValue, deployment: JSONValue) -> JSONValue {
        .object([
            "name": .string(name),
            "description": description.map(JSONValue.string) ?? .null,
            "project_module": projectModule.map(JSONValue.string) ?? .null,
            "is_default": .bool(isDefault),
            "max_concurrent_executions": maxConcurrentExecutions.map { .int(Int64($0)) } ?? .null,
            "translation": translation,
            "deployment": deployment,
        ])
    }

    /// `spec_sha256` exactly as beampipe computes it (sorted keys, compact, `/` unescaped).
    public var specSHA256: String { SHA256Digest.hex(canonicalSpec.canonicalBytes) }
}

/// Where a default applies: everywhere, or inside one project.
public enum ProfileScope: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    case global
    case project(String)

    public var projectModule: String? {
        if case .project(let p) = self { return p }
        return nil
    }

    public var description: String {
        switch self {
        case .global: "the global scope"
        case .project(let p): "project '\(p)'"
        }
    }

    public static func < (lhs: ProfileScope, rhs: ProfileScope) -> Bool {
        switch (lhs, rhs) {
        case (.global, .project): true
        case (.project(let a), .project(let b)): a < b
        default: false
        }
    }
}
