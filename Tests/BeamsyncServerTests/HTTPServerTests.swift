import BeamsyncController
import BeamsyncModel
import BeamsyncOperations
import BeamsyncServer
import BeamsyncStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Counts wake-ups the server asks for.
final class WakeCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func wake() { lock.lock(); n += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return n }
}

func makeApp(secrets: WebhookSecrets, wakes: WakeCounter, metrics: ControllerMetrics = ControllerMetrics(), ready: Bool = true,
             maxBody: Int = 1 << 20) -> some ApplicationProtocol {
    var deps = ServerDependencies(metrics: metrics, secrets: secrets, wake: { wakes.wake() },
                                  status: {
                                      GitOpsStatus(sources: [.init(status: SourceStatus(id: 1, url: "file:///r", branch: "main", path: "", status: .ready),
                                                                   history: [])],
                                                   liveVersion: 1, leader: true, inventory: .init(), executions: [:])
                                  },
                                  databaseReady: { ready })
    deps.maxBodyBytes = maxBody
    deps.access = AccessPolicy(publicStatus: true)
    return Application(router: BeamsyncHTTP.router(deps), logger: Logger(label: "test"))
}

let secret = Array("s3cret-webhook".utf8)
let payload = Array(#"{"ref":"refs/heads/main","after":"abc"}"#.utf8)

@Suite("HTTP endpoints")
struct HTTPServerTests {
    @Test("a GitHub push with a valid signature wakes the controller; a bad one gets 401 and does nothing")
    func githubSignature() async throws {
        let wakes = WakeCounter()
        let metrics = ControllerMetrics()
        try await makeApp(secrets: WebhookSecrets(github: secret), wakes: wakes, metrics: metrics).test(.router) { client in
            var headers = HTTPFields()
            headers[.init("X-Hub-Signature-256")!] = WebhookAuthenticator.signature(body: payload, secret: secret)
            try await client.execute(uri: "/hooks/github", method: .post, headers: headers, body: ByteBuffer(bytes: payload)) { r in
                #expect(r.status == .accepted)
            }
            headers[.init("X-Hub-Signature-256")!] = WebhookAuthenticator.signature(body: payload, secret: Array("wrong".utf8))
            try await client.execute(uri: "/hooks/github", method: .post, headers: headers, body: ByteBuffer(bytes: payload)) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/hooks/github", method: .post, body: ByteBuffer(bytes: payload)) { r in
                #expect(r.status == .unauthorized)
            }
        }
        #expect(wakes.count == 1)
        #expect(metrics.render().contains(#"beamsync_webhook_requests_total{provider="github",result="rejected"} 2"#))
    }

    @Test("GitLab tokens and generic HMAC webhooks are checked too")
    func gitlabAndGeneric() async throws {
        let wakes = WakeCounter()
        try await makeApp(secrets: WebhookSecrets(gitlab: secret, generic: secret), wakes: wakes).test(.router) { client in
            var headers = HTTPFields()
            headers[.init("X-Gitlab-Token")!] = "s3cret-webhook"
            try await client.execute(uri: "/hooks/gitlab", method: .post, headers: headers, body: ByteBuffer(bytes: payload)) { r in
                #expect(r.status == .accepted)
            }
            headers[.init("X-Gitlab-Token")!] = "s3cret-webhooK"
            try await client.execute(uri: "/hooks/gitlab", method: .post, headers: headers, body: ByteBuffer(bytes: payload)) { r in
                #expect(r.status == .unauthorized)
            }
            var generic = HTTPFields()
            generic[.init("X-Beamsync-Signature-256")!] = WebhookAuthenticator.signature(body: payload, secret: secret)
            try await client.execute(uri: "/hooks/generic", method: .post, headers: generic, body: ByteBuffer(bytes: payload)) { r in
                #expect(r.status == .accepted)
            }
            try await client.execute(uri: "/hooks/github", method: .post, body: ByteBuffer(bytes: payload)) { r in
                #expect(r.status == .notFound, "no GitHub secret configured: the endpoint is off")
            }
        }
        #expect(wakes.count == 2)
    }

    @Test("bodies over the cap get 413 without waking anything")
    func bodyCap() async throws {
        let wakes = WakeCounter()
        try await makeApp(secrets: WebhookSecrets(github: secret), wakes: wakes, maxBody: 1024).test(.router) { client in
            let big = [UInt8](repeating: 0x41, count: 4096)
            var headers = HTTPFields()
            headers[.init("X-Hub-Signature-256")!] = WebhookAuthenticator.signature(body: big, secret: secret)
            try await client.execute(uri: "/hooks/github", method: .post, headers: headers, body: ByteBuffer(bytes: big)) { r in
                #expect(r.status == .contentTooLarge)
            }
        }
        #expect(wakes.count == 0)
    }

    @Test("health, readiness, metrics and status")
    func probes() async throws {
        let metrics = ControllerMetrics()
        metrics.reconciled(result: "applied", seconds: 0.02)
        metrics.leader(true)
        try await makeApp(secrets: WebhookSecrets(), wakes: WakeCounter(), metrics: metrics).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(buffer: r.body)
                #expect(text.contains(#"beamsync_reconciles_total{result="applied"} 1"#))
                #expect(text.contains("beamsync_reconcile_duration_seconds_bucket"))
                #expect(text.contains("beamsync_leader_state 1"))
            }
            try await client.execute(uri: "/api/v2/gitops/status", method: .get) { r in
                let json = try JSONValue.parse(String(buffer: r.body))
                #expect(json["sources"]?.arrayValue?.first?["status"] == .string("Ready"))
            }
            try await client.execute(uri: "/", method: .get) { r in #expect(String(buffer: r.body).contains("file:///r")) }
        }
        try await makeApp(secrets: WebhookSecrets(), wakes: WakeCounter(), ready: false).test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { r in #expect(r.status == .serviceUnavailable) }
        }
    }

    @Test("constant-time comparison and hex parsing reject near misses")
    func verifier() {
        #expect(WebhookAuthenticator.verify(.github, headers: ["x-hub-signature-256": "sha256=zz"], body: payload, secrets: .init(github: secret))
                == .rejected("malformed X-Hub-Signature-256"))
        #expect(WebhookAuthenticator.verify(.gitlab, headers: ["x-gitlab-token": "s3cret-webhook-longer"], body: [], secrets: .init(gitlab: secret))
                != .accepted)
    }
}
