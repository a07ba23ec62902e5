@testable import BeamsyncEngine
import BeamsyncModel
import Foundation
import Testing

@Suite("Profile → endpoints and translation settings")
struct EndpointTests {
    func profile(_ rest: RestRemoteDeployment, tm: String? = "http://tm:8084", numPar: Int = 1, numIslands: Int = 0) -> DeploymentProfile {
        DeploymentProfile(name: "p", translation: TranslationConfig(algo: .metis, numPar: numPar, numIslands: numIslands, tmURL: tm),
                          deployment: .restRemote(rest))
    }

    @Test("an unset dim_host_for_tm is an error naming the field rather than localhost, and translate refuses before any network call")
    func unsetDimHostForTMIsAnErrorNotLocalhost() async {
        let p = profile(RestRemoteDeployment(dimHostForTM: nil, deployHost: "dim.example"))
        let error = #expect(throws: EngineConfigurationError.self) {
            try MapSettings(rest: RestRemoteDeployment(dimHostForTM: nil, deployHost: "dim.example"), translation: p.translation)
        }
        #expect(error?.field == "deployment.dim_host_for_tm")
        #expect(error?.message.contains("not assuming 'localhost'") == true)
        // translate() refuses before any network call (the TM URL points nowhere).
        let client = TranslatorClient(endpoint: TranslatorEndpoint(baseURL: "http://127.0.0.1:1"), http: HTTPClient(threads: 1))
        let translateError = await #expect(throws: TranslatorError.self) {
            try await client.translate(logicalGraph: Array("{}".utf8), profile: p)
        }
        guard case .misconfigured(let config)? = translateError else {
            Issue.record("expected misconfigured, got \(String(describing: translateError))")
            return
        }
        #expect(config.field == "deployment.dim_host_for_tm")
    }

    @Test("the map settings come from the profile; a missing or out-of-range port or a URL as host is refused")
    func mapSettingsFromProfile() throws {
        let rest = RestRemoteDeployment(dimHostForTM: "dim.internal", dimPortForTM: 8001, deployHost: "dim.example")
        let settings = try MapSettings(rest: rest, translation: TranslationConfig(numIslands: 0))
        #expect(settings == MapSettings(dimHost: "dim.internal", dimPort: 8001, numIslands: 1, coHostDIM: true))
        #expect(throws: EngineConfigurationError.self) {
            try MapSettings(rest: RestRemoteDeployment(dimHostForTM: "h", dimPortForTM: nil, deployHost: "d"),
                            translation: TranslationConfig())
        }
        #expect(throws: EngineConfigurationError.self) {
            try MapSettings(rest: RestRemoteDeployment(dimHostForTM: "h", dimPortForTM: 70000, deployHost: "d"),
                            translation: TranslationConfig())
        }
        #expect(throws: EngineConfigurationError.self) {
            try MapSettings(rest: RestRemoteDeployment(dimHostForTM: "http://h:8001", deployHost: "d"), translation: TranslationConfig())
        }
    }

    @Test("zero partitions or islands are sent as one")
    func partitionSettingsClampToOne() {
        #expect(PartitionSettings(TranslationConfig(algo: .mysarkar, numPar: 0, numIslands: 0))
                == PartitionSettings(numPartitions: 1, numIslands: 1, algorithm: .mysarkar))
    }

    @Test("the Translator Manager endpoint needs a tm_url, drops a trailing slash and follows verify_ssl and the CA file")
    func translatorEndpointNeedsATMURLAndFollowsVerifySSL() throws {
        #expect(throws: EngineConfigurationError.self) {
            try TranslatorEndpoint(profile: profile(RestRemoteDeployment(deployHost: "d"), tm: nil))
        }
        let endpoint = try TranslatorEndpoint(profile: profile(RestRemoteDeployment(deployHost: "d", verifySSL: false), tm: "https://tm:9000/"),
                                              caFile: "/ca.pem")
        #expect(endpoint.baseURL == "https://tm:9000")
        #expect(endpoint.tls == TLSOptions(verify: false, caFile: "/ca.pem"))
    }

    @Test("the DIM's base URL leaves out default ports, brackets IPv6 addresses and refuses a blank host")
    func dimBaseURL() throws {
        #expect(try DIMEndpoint(rest: RestRemoteDeployment(deployHost: "dim", deployPort: 8001)).baseURL == "http://dim:8001")
        #expect(try DIMEndpoint(rest: RestRemoteDeployment(deployHost: "dim", deployPort: 80)).baseURL == "http://dim")
        #expect(try DIMEndpoint(rest: RestRemoteDeployment(deployHost: "dim", deployPort: 443, useHTTPS: true)).baseURL == "https://dim")
        #expect(try DIMEndpoint(rest: RestRemoteDeployment(deployHost: "dim", deployPort: nil)).baseURL == "http://dim")
        #expect(try DIMEndpoint(rest: RestRemoteDeployment(deployHost: "::1", deployPort: 8001)).baseURL == "http://[::1]:8001")
        let tls = try DIMEndpoint(rest: RestRemoteDeployment(deployHost: "dim", useHTTPS: true, verifySSL: false)).tls
        #expect(tls.verify == false)
        #expect(throws: EngineConfigurationError.self) { try DIMEndpoint(rest: RestRemoteDeployment(deployHost: " ")) }
    }

    @Test("the DALiuGE session id is beampipe's: the execution id and its creation time")
    func sessionIDMatchesBeampipe() {
        let id = UUID(uuidString: "0B5B2C3A-1111-4222-8333-944455556666")!
        let date = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18T11:06:40Z
        #expect(DaliugeSessionID.make(executionID: id, createdAt: date)
                == "BeampipeExecution-0b5b2c3a-1111-4222-8333-944455556666-2026-11-18T11-06-40")
    }

    @Test("session ids are percent-escaped in URL paths")
    func sessionIDsAreEscapedInPaths() {
        #expect(FormEncoding.pathSegment("a/b?c#d e") == "a%2Fb%3Fc%23d%20e")
        #expect(FormEncoding.pathSegment("BeampipeExecution-x-2026-11-18T07-06-40") == "BeampipeExecution-x-2026-11-18T07-06-40")
    }
}
