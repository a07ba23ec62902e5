import BeamsyncEngine
import BeamsyncModel
import BeamsyncPlan
import BeamsyncTime

/// `dim ping`: whether a `rest_remote` profile's DALiuGE path works, checked step by step with
/// read-only calls that create, store and deploy nothing:
///
/// 1. `profile`: the profile names a Translator Manager, a DIM, and the DIM as the TM sees it;
/// 2. `tm`: the Translator Manager answers here (`/openapi.json`: its DALiuGE version);
/// 3. `dim`: the DIM answers here (`GET /api`) and lists at least one Node Manager;
/// 4. `tm_to_dim`: the TM reaches a DALiuGE manager at `dim_host_for_tm:dim_port_for_tm`
///    (`/api/submission_method`, which the TM forwards to that address);
/// 5. `tm_map`: what the TM finds there is the same DIM: `/map` of a one-drop template reads
///    that DIM's node list, and the node it picks must be one the DIM at `deploy_host` lists.
///
/// DALiuGE has no call that makes the TM report on a DIM directly; steps 4 and 5 use the two
/// calls that make the TM contact one. Not checked: whether the Node Managers behind the DIM
/// answer (the DIM lists them without asking them), and whether a real graph partitions.
public struct DIMPing: TargetChecker {
    public var http: HTTPClient
    /// CA bundle for https Translator Managers and DIMs (`BEAMSYNC_CA_FILE`).
    public var caFile: String?
    /// The longest the whole check may take; each call gets what is left of it.
    public var timeout: Duration

    public init(http: HTTPClient, caFile: String? = nil, timeout: Duration = .seconds(30)) {
        self.http = http
        self.caFile = caFile
        self.timeout = timeout
    }

    public func handles(_ kind: DeploymentKind) -> Bool { kind == .restRemote }

    public func check(_ profile: DeploymentProfile) async -> TargetCheckReport {
        var run = CheckSteps(timeout: timeout)
        guard case .restRemote(let rest) = profile.deployment else {
            await run.run("profile", "the profile is a rest_remote profile") { _ in
                .failed("deployment.kind is \(profile.deployment.kind.rawValue); dim ping checks rest_remote profiles",
                        hint: "use slurm ping for slurm_remote profiles")
            }
            return TargetCheckReport(profile: profile.name, kind: .dim, target: profile.deployment.kind.rawValue, steps: run.steps)
        }

        var tmEndpoint: TranslatorEndpoint?
        var dimEndpoint: DIMEndpoint?
        var mapSettings: MapSettings?
        await run.run("profile", "the profile names the Translator Manager, the DIM, and the DIM as the Translator Manager sees it") { _ in
            do throws(EngineConfigurationError) {
                tmEndpoint = try TranslatorEndpoint(profile: profile, caFile: caFile)
                dimEndpoint = try DIMEndpoint(rest: rest, caFile: caFile)
                mapSettings = try MapSettings(rest: rest, translation: profile.translation)
            } catch {
                return .failed("\(error)", hint: "correct \(error.field) in the profile")
            }
            return .passed(nil)
        }
        let tmURL = DisplayURL.withoutUserInfo(tmEndpoint?.baseURL ?? profile.translation.tmURL ?? "(tm_url not set)")
        let dimURL = dimEndpoint?.baseURL ?? "deploy_host '\(rest.deployHost)'"
        let tmSees = mapSettings.map { "\($0.dimHost):\($0.dimPort)" }
            ?? "\(rest.dimHostForTM ?? "(dim_host_for_tm not set)"):\(rest.dimPortForTM.map(String.init) ?? "null")"

        await run.run("tm", "Translator Manager \(tmURL) answers") { left in
            guard let tmEndpoint else { return .failed("the Translator Manager's address is not known", hint: "correct translation.tm_url") }
            return await translatorAnswers(translator(tmEndpoint, left, callTimeout: .seconds(10)), url: tmURL)
        }
        var nodes: [String] = []
        await run.run("dim", "DIM \(dimURL) answers here and lists its Node Managers") { left in
            guard let dimEndpoint else { return .failed("the DIM's address is not known", hint: "correct deploy_host in the profile") }
            var dim = DIMClient(endpoint: dimEndpoint, http: http)
            dim.connectTimeout = min(.seconds(5), left)
            dim.statusTimeout = min(.seconds(10), left)
            do throws(DIMError) {
                nodes = try await dim.info().hosts
            } catch {
                return .failed(dimFailure(error), hint: "check deployment.deploy_host, deploy_port and use_https, and that `dlg dim` "
                                   + "runs there and is reachable from this machine")
            }
            guard !nodes.isEmpty else {
                return .failed("the DIM lists no Node Managers, so no graph can be deployed to it",
                               hint: "start the DIM with its Node Managers (`dlg dim -N host:port:events:rpc,...`)")
            }
            return .passed("\(nodes.count) Node Manager\(nodes.count == 1 ? "" : "s"): \(nodes.joined(separator: ", "))")
        }
        await run.run("tm_to_dim", "the Translator Manager reaches a DALiuGE manager at \(tmSees) (dim_host_for_tm:dim_port_for_tm)") { left in
            guard let tmEndpoint, let mapSettings else { return .failed("the profile is not usable", hint: "correct it") }
            do throws(TranslatorError) {
                let methods = try await translator(tmEndpoint, left, callTimeout: .seconds(30))
                    .submissionMethods(managerHost: mapSettings.dimHost, managerPort: mapSettings.dimPort)
                guard !methods.isEmpty else {
                    return .failed("the Translator Manager got no answer from \(tmSees) (it tries for about 10 s)",
                                   hint: "dim_host_for_tm and dim_port_for_tm must be the DIM's address as the Translator Manager's "
                                       + "machine resolves and reaches it (which may differ from deploy_host); check the name, "
                                       + "the port and any firewall between the two")
                }
                return .passed("answers with submission methods \(methods.joined(separator: ", "))")
            } catch {
                return translatorLost(error, url: tmURL, left: left)
            }
        }
        await run.run("tm_map", "the Translator Manager maps graphs onto the same DIM's Node Managers") { left in
            guard let tmEndpoint, let mapSettings else { return .failed("the profile is not usable", hint: "correct it") }
            do throws(TranslatorError) {
                let node = try await translator(tmEndpoint, left, callTimeout: .seconds(30))
                    .mappedNode(settings: MapSettings(dimHost: mapSettings.dimHost, dimPort: mapSettings.dimPort))
                guard nodes.contains(node) else {
                    return .failed("the Translator Manager maps onto Node Manager \(node), which the DIM at \(dimURL) does not list "
                                   + "(it lists \(nodes.joined(separator: ", "))): \(tmSees) is another island, so deploys would be refused",
                                   hint: "dim_host_for_tm/dim_port_for_tm and deploy_host/deploy_port must name the same DIM")
                }
                return .passed("it maps onto \(node), one of the DIM's Node Managers")
            } catch {
                if let message = error.serverMessage, message.contains("should be larger than the number of islands") {
                    return .failed("the manager at \(tmSees) lists no Node Managers to the Translator Manager (\(message))",
                                   hint: "dim_host_for_tm/dim_port_for_tm must name the DIM, with its Node Managers")
                }
                if case .rejected = error {
                    return .failed("the Translator Manager could not read a Node Manager list from \(tmSees) "
                                   + "(\(translatorFailure(error, url: tmURL))): a DALiuGE manager answers there, but not a Data Island Manager",
                                   hint: "dim_port_for_tm is perhaps a Node Manager's port; give the DIM's (8001 by default)")
                }
                return translatorLost(error, url: tmURL, left: left)
            }
        }
        return TargetCheckReport(profile: profile.name, kind: .dim, target: dimURL, steps: run.steps)
    }

    private func translator(_ endpoint: TranslatorEndpoint, _ left: Duration, callTimeout: Duration) -> TranslatorClient {
        var client = TranslatorClient(endpoint: endpoint, http: http)
        client.connectTimeout = min(.seconds(5), left)
        client.timeout = min(callTimeout, left)
        return client
    }

    /// The TM answered the first step but not this one: out of time (it waits about 10 s for an
    /// address it cannot reach), or gone.
    private func translatorLost(_ error: TranslatorError, url: String, left: Duration) -> CheckSteps.Result {
        if case .unreachable(let e) = error, e.kind == .timedOut {
            return .failed("the Translator Manager did not answer in the \(Int(left.inSeconds.rounded())) s left of the check "
                           + "(it waits about 10 s for an address it cannot reach)",
                           hint: "allow more time (--timeout, --target-timeout), or check dim_host_for_tm and dim_port_for_tm")
        }
        return .failed(translatorFailure(error, url: url), hint: "the Translator Manager stopped answering; check it and retry")
    }

    private func translatorAnswers(_ client: TranslatorClient, url: String) async -> CheckSteps.Result {
        do throws(TranslatorError) {
            guard let info = try await client.about() else {
                return .passed("answers HEAD / (it publishes no version)")
            }
            guard info.isDALiuGE else {
                return .failed("\(url) answers, but as '\(info.title)' \(info.version), not as a DALiuGE Translator Manager",
                               hint: "translation.tm_url must point at `dlg tm` (port 8084 by default)")
            }
            let tested = TranslatorInfo.testedVersion
            return .passed("DALiuGE \(info.version) (\(info.title))" + (info.version == tested ? "" : "; beamsync is tested with \(tested)"))
        } catch {
            return .failed(translatorFailure(error, url: url),
                           hint: "check translation.tm_url and that `dlg tm` runs there and is reachable from this machine")
        }
    }

    private func translatorFailure(_ error: TranslatorError, url: String) -> String {
        switch error {
        case .unreachable(let e): "no answer from \(url): \(e.kind.rawValue)" + (e.message.isEmpty ? "" : " (\(e.message))")
        case .rejected(let e): "\(e.url) answered HTTP \(e.status.map(String.init) ?? "?")" + (e.message.isEmpty ? "" : ": \(e.message)")
        default: error.description
        }
    }

    private func dimFailure(_ error: DIMError) -> String {
        switch error {
        case .unreachable(let e): "no answer: \(e.kind.rawValue)" + (e.message.isEmpty ? "" : " (\(e.message))")
        case .rejected(let e): "\(e.url) answered HTTP \(e.status.map(String.init) ?? "?")" + (e.message.isEmpty ? "" : ": \(e.message)")
        case .invalidResponse(let why): why
        default: error.description
        }
    }
}

extension TranslatorInfo {
    /// The DALiuGE release beamsync's tests run against.
    public static let testedVersion = "6.6.0"
}
