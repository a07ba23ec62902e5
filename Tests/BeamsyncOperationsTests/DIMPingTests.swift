import BeamsyncEngine
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import BeamsyncTestSupport
import Foundation
import Testing

/// The DALiuGE stack of `scripts/dlg.sh start DIR` (TM, DIM with one NM, and a second DIM whose
/// only NM is down), with the Node Manager's port that `TestServices.DALiuGE` does not carry.
struct DALiuGEStack {
    var tmURL: String
    var host: String
    var dimPort: Int
    var nmPort: Int
    var otherDIMPort: Int

    static func get() throws -> DALiuGEStack {
        let dlg = try TestServices.requireDALiuGE()
        let nm = try #require(TestServices.environment["BEAMSYNC_TEST_NM_URL"].flatMap { URLComponents(string: $0)?.port },
                              "BEAMSYNC_TEST_NM_URL is not set; run scripts/dlg.sh start DIR and export the variables it prints")
        let other = try #require(dlg.deadNodeDIMPort, "BEAMSYNC_TEST_DEAD_NM_DIM_PORT is not set (scripts/dlg.sh start DIR)")
        return DALiuGEStack(tmURL: dlg.tmURL, host: dlg.dimHost, dimPort: dlg.dimPort, nmPort: nm, otherDIMPort: other)
    }

    func profile(name: String = "dlg", tmURL: String? = nil, dimHostForTM: String? = nil, dimPortForTM: Int? = nil,
                 deployPort: Int? = nil) -> DeploymentProfile {
        DeploymentProfile(name: name, translation: TranslationConfig(tmURL: tmURL ?? self.tmURL),
                          deployment: .restRemote(RestRemoteDeployment(dimHostForTM: dimHostForTM ?? host, dimPortForTM: dimPortForTM ?? dimPort,
                                                                       deployHost: host, deployPort: deployPort ?? dimPort)))
    }
}

/// A loopback port nothing listens on: bound, then released.
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw LabError("cannot bind a loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

@Suite("dim ping against DALiuGE 6.6.0", .requires(.daliuge), .serialized)
struct DIMPingTests {
    let ping = DIMPing(http: HTTPClient(threads: 2, name: "dim-ping-test"), timeout: .seconds(40))

    func outcomes(_ report: TargetCheckReport) -> [String] {
        report.steps.map { "\($0.name) \($0.outcome.rawValue)" }
    }

    @Test("a working profile passes every step: the TM's version, the DIM's Node Manager, the TM reaching and mapping onto that DIM")
    func passes() async throws {
        let stack = try DALiuGEStack.get()
        let report = await ping.check(stack.profile())
        #expect(outcomes(report) == ["profile passed", "tm passed", "dim passed", "tm_to_dim passed", "tm_map passed"], "\(report)")
        #expect(report.passed && report.kind == .dim && report.target == "http://\(stack.host):\(stack.dimPort)")
        let node = "\(stack.host):\(stack.nmPort):"
        #expect(report.steps[1].detail == "DALiuGE 6.6.0 (DALiuGE LG Web Interface)")
        #expect(report.steps[2].detail?.hasPrefix("1 Node Manager: \(node)") == true)
        #expect(report.steps[3].detail == "answers with submission methods BROWSER, SERVER")
        #expect(report.steps[4].detail?.hasPrefix("it maps onto \(node)") == true)
        #expect(report.steps.allSatisfy { $0.seconds < 5 }, "\(report.steps.map(\.seconds))")
    }

    @Test("TM down: the tm step fails with what to check, and the later steps are skipped")
    func translatorDown() async throws {
        let stack = try DALiuGEStack.get()
        let port = try closedPort()
        let report = await ping.check(stack.profile(tmURL: "http://127.0.0.1:\(port)"))
        #expect(outcomes(report) == ["profile passed", "tm failed", "dim skipped", "tm_to_dim skipped", "tm_map skipped"])
        let failed = try #require(report.firstFailure)
        #expect(failed.description == "Translator Manager http://127.0.0.1:\(port) answers")
        #expect(failed.detail?.hasPrefix("no answer from http://127.0.0.1:\(port): connection refused") == true, "\(failed.detail ?? "")")
        #expect(failed.hint == "check translation.tm_url and that `dlg tm` runs there and is reachable from this machine")
    }

    @Test("DIM down: the dim step fails naming deploy_host, deploy_port and use_https")
    func dimDown() async throws {
        let stack = try DALiuGEStack.get()
        let port = try closedPort()
        let report = await ping.check(stack.profile(deployPort: port))
        #expect(outcomes(report) == ["profile passed", "tm passed", "dim failed", "tm_to_dim skipped", "tm_map skipped"])
        let failed = try #require(report.firstFailure)
        #expect(failed.detail?.hasPrefix("no answer: connection refused") == true, "\(failed.detail ?? "")")
        #expect(failed.hint == "check deployment.deploy_host, deploy_port and use_https, and that `dlg dim` runs there and is reachable from this machine")
    }

    @Test("a Node Manager's port as deploy_port: the dim step says it is not a Data Island Manager")
    func nodeManagerAsDIM() async throws {
        let stack = try DALiuGEStack.get()
        let report = await ping.check(stack.profile(deployPort: stack.nmPort))
        #expect(report.firstFailure?.name == "dim")
        #expect(report.firstFailure?.detail == "GET /api answered without a `hosts` list, so this is not a Data Island Manager (a Node Manager answers like this)")
    }

    @Test("a dim_host_for_tm the TM cannot resolve: tm_to_dim fails, telling that the address is the TM's view")
    func wrongHostForTM() async throws {
        let stack = try DALiuGEStack.get()
        let report = await ping.check(stack.profile(dimHostForTM: "dim-host.invalid"))
        #expect(outcomes(report) == ["profile passed", "tm passed", "dim passed", "tm_to_dim failed", "tm_map skipped"])
        let failed = try #require(report.firstFailure)
        #expect(failed.detail == "the Translator Manager got no answer from dim-host.invalid:\(stack.dimPort) (it tries for about 10 s)")
        #expect(failed.hint?.hasPrefix("dim_host_for_tm and dim_port_for_tm must be the DIM's address as the Translator Manager's machine") == true)
    }

    @Test("dim_port_for_tm of another DIM: the TM reaches it, but maps onto a Node Manager this DIM does not have")
    func anotherIsland() async throws {
        let stack = try DALiuGEStack.get()
        let report = await ping.check(stack.profile(dimPortForTM: stack.otherDIMPort))
        #expect(outcomes(report) == ["profile passed", "tm passed", "dim passed", "tm_to_dim passed", "tm_map failed"])
        let failed = try #require(report.firstFailure)
        #expect(failed.detail?.contains("which the DIM at http://\(stack.host):\(stack.dimPort) does not list") == true, "\(failed.detail ?? "")")
        #expect(failed.detail?.hasSuffix("\(stack.host):\(stack.otherDIMPort) is another island, so deploys would be refused") == true)
        #expect(failed.hint == "dim_host_for_tm/dim_port_for_tm and deploy_host/deploy_port must name the same DIM")
    }

    @Test("dim_port_for_tm of a Node Manager: the TM reaches a DALiuGE manager there, but not a Data Island Manager")
    func nodeManagerForTM() async throws {
        let stack = try DALiuGEStack.get()
        let report = await ping.check(stack.profile(dimPortForTM: stack.nmPort))
        #expect(outcomes(report) == ["profile passed", "tm passed", "dim passed", "tm_to_dim passed", "tm_map failed"])
        #expect(report.firstFailure?.detail?.hasSuffix("a DALiuGE manager answers there, but not a Data Island Manager") == true,
                "\(report.firstFailure?.detail ?? "")")
        #expect(report.firstFailure?.hint == "dim_port_for_tm is perhaps a Node Manager's port; give the DIM's (8001 by default)")
    }

    @Test("the check's deadline bounds every call: a TM still trying an unreachable DIM is reported as out of time")
    func deadline() async throws {
        let stack = try DALiuGEStack.get()
        let short = DIMPing(http: HTTPClient(threads: 2, name: "dim-ping-deadline-test"), timeout: .seconds(3))
        let start = ContinuousClock.now
        let report = await short.check(stack.profile(dimPortForTM: try closedPort()))
        #expect(ContinuousClock.now - start < .seconds(5), "the TM retries an unreachable DIM for 10 s; the check gives up at 3")
        #expect(outcomes(report) == ["profile passed", "tm passed", "dim passed", "tm_to_dim failed", "tm_map skipped"])
        #expect(report.firstFailure?.detail?.hasPrefix("the Translator Manager did not answer in the ") == true, "\(report.firstFailure?.detail ?? "")")
        #expect(report.firstFailure?.hint == "allow more time (--timeout, --target-timeout), or check dim_host_for_tm and dim_port_for_tm")
    }

    @Test("a profile without dim_host_for_tm fails at the profile step, before any call")
    func misconfigured() async throws {
        let stack = try DALiuGEStack.get()
        var profile = stack.profile()
        guard case .restRemote(var rest) = profile.deployment else { return }
        rest.dimHostForTM = nil
        profile.deployment = .restRemote(rest)
        let report = await ping.check(profile)
        #expect(outcomes(report) == ["profile failed", "tm skipped", "dim skipped", "tm_to_dim skipped", "tm_map skipped"])
        #expect(report.firstFailure?.detail?.hasPrefix("deployment.dim_host_for_tm: not set") == true)
        #expect(report.firstFailure?.hint == "correct deployment.dim_host_for_tm in the profile")
    }
}
