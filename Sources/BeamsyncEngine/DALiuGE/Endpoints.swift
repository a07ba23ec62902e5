import BeamsyncModel

/// A profile that cannot drive DALiuGE as it stands. The message names the field to fix.
public struct EngineConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// Where the Translator Manager is and how to talk to it.
public struct TranslatorEndpoint: Sendable, Hashable {
    /// `http(s)://host:port` without a trailing slash.
    public var baseURL: String
    public var tls: TLSOptions

    public init(baseURL: String, tls: TLSOptions = .default) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.tls = tls
    }

    /// The profile's `translation.tm_url`. Unlike beampipe (which falls back to
    /// `http://localhost:9000`), an unset URL is an error. TLS verification follows the
    /// deployment's `verify_ssl` (for Slurm only when it is set).
    public init(profile: DeploymentProfile, caFile: String? = nil) throws(EngineConfigurationError) {
        guard let url = profile.translation.tmURL?.trimmingCharacters(in: .whitespaces), !url.isEmpty else {
            throw EngineConfigurationError(field: "translation.tm_url",
                                           message: "not set; the Translator Manager's URL is required to translate a graph")
        }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw EngineConfigurationError(field: "translation.tm_url", message: "'\(url)' is not an http(s) URL")
        }
        let verify: Bool
        switch profile.deployment {
        case .restRemote(let rest): verify = rest.verifySSL
        case .slurmRemote(let slurm): verify = slurm.verifySSL ?? true
        }
        self.init(baseURL: url, tls: TLSOptions(verify: verify, caFile: caFile))
    }
}

/// The partitioning request of `/unroll_and_partition`.
public struct PartitionSettings: Sendable, Hashable {
    public var numPartitions: Int
    public var numIslands: Int
    public var algorithm: PartitionAlgorithm

    /// Clamps both counts to at least 1, as beampipe does (a profile's default `num_islands: 0`
    /// would make the TM fail).
    public init(numPartitions: Int, numIslands: Int, algorithm: PartitionAlgorithm) {
        self.numPartitions = max(1, numPartitions)
        self.numIslands = max(1, numIslands)
        self.algorithm = algorithm
    }

    public init(_ translation: TranslationConfig) {
        self.init(numPartitions: translation.numPar, numIslands: translation.numIslands, algorithm: translation.algo)
    }
}

/// The `/map` request: the DIM as the Translator Manager sees it.
public struct MapSettings: Sendable, Hashable {
    public var dimHost: String
    public var dimPort: Int
    public var numIslands: Int
    public var coHostDIM: Bool

    public init(dimHost: String, dimPort: Int, numIslands: Int = 1, coHostDIM: Bool = true) {
        self.dimHost = dimHost
        self.dimPort = dimPort
        self.numIslands = max(1, numIslands)
        self.coHostDIM = coHostDIM
    }

    /// From `dim_host_for_tm`/`dim_port_for_tm`. An unset host is an error: beampipe silently
    /// sends `localhost`, which is the TM's own machine and rarely the DIM.
    public init(rest: RestRemoteDeployment, translation: TranslationConfig) throws(EngineConfigurationError) {
        guard let host = rest.dimHostForTM?.trimmingCharacters(in: .whitespaces), !host.isEmpty else {
            throw EngineConfigurationError(
                field: "deployment.dim_host_for_tm",
                message: "not set; the Translator Manager needs the DIM's host as it sees it "
                    + "(deploy_host '\(rest.deployHost)' is how beamsync sees it; not assuming 'localhost')")
        }
        guard Self.isPlainHost(host) else {
            throw EngineConfigurationError(field: "deployment.dim_host_for_tm",
                                           message: "'\(host)' is not a host name or address (no scheme, port or path)")
        }
        guard let port = rest.dimPortForTM else {
            throw EngineConfigurationError(field: "deployment.dim_port_for_tm",
                                           message: "is null; the Translator Manager needs the DIM's port")
        }
        guard (1...65535).contains(port) else {
            throw EngineConfigurationError(field: "deployment.dim_port_for_tm", message: "\(port) is not a port (1-65535)")
        }
        self.init(dimHost: host, dimPort: port, numIslands: translation.numIslands, coHostDIM: true)
    }

    static func isPlainHost(_ host: String) -> Bool {
        !host.contains { $0 == "/" || $0 == "@" || $0 == "?" || $0 == "#" || $0.isWhitespace }
            && !(host.contains(":") && !host.contains("::") && host.filter { $0 == ":" }.count == 1)
    }
}

/// Where the Data Island Manager is, as beamsync reaches it.
public struct DIMEndpoint: Sendable, Hashable {
    /// `http(s)://host[:port]` without a trailing slash.
    public var baseURL: String
    public var tls: TLSOptions

    public init(baseURL: String, tls: TLSOptions = .default) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.tls = tls
    }

    /// `{http|https}://deploy_host[:deploy_port]`: the port is left out when it is the scheme's
    /// default (80 or 443) or null; IPv6 literals get brackets.
    public init(rest: RestRemoteDeployment, caFile: String? = nil) throws(EngineConfigurationError) {
        let host = rest.deployHost.trimmingCharacters(in: .whitespaces)
        guard !host.isEmpty else {
            throw EngineConfigurationError(field: "deployment.deploy_host", message: "is empty")
        }
        guard MapSettings.isPlainHost(host) else {
            throw EngineConfigurationError(field: "deployment.deploy_host",
                                           message: "'\(host)' is not a host name or address (no scheme, port or path)")
        }
        let scheme = rest.useHTTPS ? "https" : "http"
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        var url = "\(scheme)://\(hostPart)"
        if let port = rest.deployPort {
            guard (1...65535).contains(port) else {
                throw EngineConfigurationError(field: "deployment.deploy_port", message: "\(port) is not a port (1-65535)")
            }
            if port != (rest.useHTTPS ? 443 : 80) { url += ":\(port)" }
        }
        self.init(baseURL: url, tls: TLSOptions(verify: rest.verifySSL, caFile: caFile))
    }
}
