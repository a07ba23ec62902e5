import BeamsyncModel

/// Why a translation failed.
public enum TranslatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The profile lacks what translation needs (`dim_host_for_tm`, `tm_url`, ...).
    case misconfigured(EngineConfigurationError)
    /// The Translator Manager could not be reached (refused, timeout, TLS, ...).
    case unreachable(HTTPError)
    /// The Translator Manager answered with an error; `HTTPError.message` is its `detail` verbatim.
    case rejected(HTTPError)
    /// A 2xx answer that is not the graph we asked for.
    case invalidResponse(String)
    case cancelled

    public var description: String {
        switch self {
        case .misconfigured(let e): "deployment profile: \(e)"
        case .unreachable(let e): "Translator Manager unreachable: \(e)"
        case .rejected(let e): "Translator Manager rejected the graph: \(e)"
        case .invalidResponse(let why): "Translator Manager: \(why)"
        case .cancelled: "translation cancelled"
        }
    }

    /// The TM's own message when it rejected the request.
    public var serverMessage: String? {
        if case .rejected(let e) = self { return e.message }
        return nil
    }
}

/// Talks to DALiuGE's Translator Manager (`dlg tm`): unroll and partition a logical graph,
/// then map the partitions onto a DIM's nodes.
public struct TranslatorClient: Sendable {
    public var endpoint: TranslatorEndpoint
    public var http: HTTPClient
    public var connectTimeout: Duration = .seconds(10)
    /// The TM retries a dead DIM for 10 s during `/map`; large graphs take a while to partition.
    public var timeout: Duration = .seconds(120)

    public init(endpoint: TranslatorEndpoint, http: HTTPClient) {
        self.endpoint = endpoint
        self.http = http
    }

    /// `POST /unroll_and_partition` (form `lg_content`, `num_partitions`, `num_islands`,
    /// `algorithm`). Returns the partitioned graph template (a JSON array whose drops carry
    /// `node: "#k"`, `island: "#j"`) exactly as the TM sent it.
    public func unrollAndPartition(logicalGraph: [UInt8], settings: PartitionSettings) async throws(TranslatorError) -> [UInt8] {
        let fields = [
            FormField("lg_content", String(decoding: logicalGraph, as: UTF8.self)),
            FormField("num_partitions", String(settings.numPartitions)),
            FormField("num_islands", String(settings.numIslands)),
            FormField("algorithm", settings.algorithm.rawValue),
        ]
        return try await post("/unroll_and_partition", fields)
    }

    /// `POST /map` (form `pgt_content`, `host`, `port`, `num_islands`, `co_host_dim`): the TM asks
    /// the DIM at host:port for its nodes and returns the physical graph.
    public func map(partitionedGraph: [UInt8], settings: MapSettings) async throws(TranslatorError) -> [UInt8] {
        let fields = [
            FormField("pgt_content", String(decoding: partitionedGraph, as: UTF8.self)),
            FormField("host", settings.dimHost),
            FormField("port", String(settings.dimPort)),
            FormField("num_islands", String(settings.numIslands)),
            FormField("co_host_dim", settings.coHostDIM ? "true" : "false"),
        ]
        return try await post("/map", fields)
    }

    /// Both steps for a `rest_remote` profile, then beampipe's preparation (`PhysicalGraph`).
    /// The profile is checked before any call.
    public func translate(logicalGraph: [UInt8], profile: DeploymentProfile) async throws(TranslatorError) -> PhysicalGraph {
        guard case .restRemote(let rest) = profile.deployment else {
            throw .misconfigured(EngineConfigurationError(
                field: "deployment.kind", message: "'\(profile.deployment.kind.rawValue)' is not rest_remote; "
                    + "a Slurm deployment maps the graph on the cluster"))
        }
        let mapSettings: MapSettings
        do {
            mapSettings = try MapSettings(rest: rest, translation: profile.translation)
        } catch {
            throw .misconfigured(error)
        }
        let pgt = try await unrollAndPartition(logicalGraph: logicalGraph, settings: PartitionSettings(profile.translation))
        let pg = try await map(partitionedGraph: pgt, settings: mapSettings)
        do {
            return try PhysicalGraph(mapOutput: pg)
        } catch {
            throw .invalidResponse("/map: \(error.message)")
        }
    }

    private func post(_ path: String, _ fields: [FormField]) async throws(TranslatorError) -> [UInt8] {
        let request = HTTPRequest(.post, endpoint.baseURL + path, headers: [HTTPHeader("Accept", "application/json")],
                                  body: .form(fields), connectTimeout: connectTimeout, timeout: timeout, tls: endpoint.tls)
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch {
            throw error.kind == .cancelled ? .cancelled : .unreachable(error)
        }
        guard response.isSuccess else {
            throw .rejected(HTTPError(method: .post, url: request.url, response: response))
        }
        guard response.body.first(where: { !$0.isASCIIWhitespace }) == UInt8(ascii: "[") else {
            throw .invalidResponse("\(path) answered \(response.status) without a JSON array: "
                                   + String(decoding: response.body.prefix(200), as: UTF8.self))
        }
        return response.body
    }
}

extension UInt8 {
    var isASCIIWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}
