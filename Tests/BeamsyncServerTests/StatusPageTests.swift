@testable import BeamsyncServer
import BeamsyncController
import BeamsyncModel
import BeamsyncOperations
import BeamsyncStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// An overview with a hostile value in every place a value can appear.
func hostileOverview(_ text: String) -> StatusOverview {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var row = SourceStatus(id: 3, url: "https://user:pw@git.example.org/\(text)", branch: text, path: text, status: .stalled,
                           reason: .validationFailed, message: text, lastAppliedRevision: "0123456789abcdef", lastAttemptedRevision: text,
                           failures: 1, nextAttemptAt: now)
    row.lastAppliedSubject = text
    row.lastAttemptedSubject = text
    row.reconciledBy = text
    row.lastReconciledAt = now
    row.pollIntervalMilliseconds = 60_000
    row.driftCount = 1
    let drift = DriftedObject(kind: .deploymentProfile, name: text, fields: [text], detectedAt: now, revision: text)
    let run = SyncRun(revision: text, startedAt: now, finishedAt: now.addingTimeInterval(1.5), result: .failed, summary: nil, error: text,
                      trigger: .webhook)
    let status = GitOpsStatus(
        sources: [.init(status: row, history: [run], driftedObjects: [drift], now: now)], liveVersion: 1, leader: true,
        inventory: .init(profiles: 1), executions: ["pending": 1],
        controllers: [ControllerHeartbeat(identity: text, startedAt: now, heartbeatAt: now, leader: true, pollIntervalMilliseconds: 60_000)],
        leaderIdentity: text, runnersActive: 0, generatedAt: now)
    let inventory = InventoryPage(query: InventoryQuery(search: text, page: 1, perPage: 1), rows: [
        InventoryRow(kind: .deploymentProfile, name: text, path: text, line: 3, appliedRevision: text, specSHA256: text, appliedAt: now, drift: drift),
    ], total: 3)
    // Built as the JSON API shows an execution (the record has no public memberwise initialiser).
    let executionJSON = JSONValue.object([
        "id": .string(UUID().uuidString), "name": .string(text), "project_module": .string(text), "deployment_profile_revision": .int(2),
        "deployment_profile_snapshot": .object(["name": .string(text)]), "source_revision": .string(text), "do_submit": .bool(true),
        "status": .string("pending"), "submission_state": .string("not_started"), "step": .string(text), "daliuge_session_id": .string(text),
        "slurm_job_id": .string(text), "last_error": .string(text), "simulated": .bool(false), "poll_failures": .int(0),
        "created_at": .string("2027-01-15T08:00:00Z"),
    ])
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    let execution = try! decoder.decode(ExecutionRecord.self, from: Data(executionJSON.canonicalString.utf8))
    let delivery = WebhookDelivery(receivedAt: now, provider: "github", result: "rejected", httpStatus: 401, event: text, delivery: text,
                                   message: text)
    return StatusOverview(status: status, inventory: inventory, executions: [execution], deliveries: [delivery])
}

@Suite("The status page")
struct StatusPageTests {
    static let hostile = #"<script>alert("x")</script>' onmouseover='a' "><img src=x>"#

    @Test("hostile values are escaped wherever they appear: no tag, attribute or quote gets through")
    func escapesMarkup() throws {
        let html = StatusPage.html(hostileOverview(Self.hostile))
        #expect(!html.contains("<script"), "no script element, ever")
        #expect(!html.contains("<img"))
        #expect(!html.contains("' onmouseover='"))
        #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;a&#39; &quot;&gt;&lt;img src=x&gt;"))
        // Every element the page writes is one of its own.
        let tags = Set(html.matches(of: /<([a-z0-9]+)[\s>]/).map { String($0.output.1) })
        let allowed: Set = ["html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "nav", "a", "table", "tr", "th", "td",
                            "span", "code", "section", "dl", "dt", "dd", "ul", "li", "time", "form", "input", "label", "button"]
        #expect(tags.isSubset(of: allowed), "unexpected elements: \(tags.subtracting(allowed))")
    }

    @Test("bidirectional overrides, zero-width and control characters are shown as code points, not obeyed")
    func escapesInvisibleCharacters() {
        let sneaky = "admin\u{202E}lmth.exe\u{2066}x\u{200B}y\u{0007}z\u{FEFF}"
        let html = StatusPage.html(hostileOverview(sneaky))
        for scalar: Unicode.Scalar in ["\u{202E}", "\u{2066}", "\u{200B}", "\u{0007}", "\u{FEFF}"] {
            #expect(!html.unicodeScalars.contains(scalar), "U+\(String(scalar.value, radix: 16, uppercase: true)) reached the page")
        }
        #expect(html.contains(#"admin\u{202E}lmth.exe\u{2066}x\u{200B}y\u{7}z\u{FEFF}"#))
        #expect(HTMLText.escape("emoji 👩‍💻 and Ελληνικά") == "emoji 👩‍💻 and Ελληνικά", "ordinary text and joiners stay as they are")
        #expect(HTMLText.escape("line 1\nline 2\r") == "line 1\nline 2\\r")
    }

    @Test("the page shows each section: source conditions with colour, drift, sync runs with trigger and duration, executions, deliveries")
    func sections() {
        let html = StatusPage.html(hostileOverview("value"))
        #expect(html.contains(#"id="sources""#) && html.contains(#"id="runs""#) && html.contains(#"id="inventory""#))
        #expect(html.contains(#"id="executions""#) && html.contains(#"id="webhooks""#))
        #expect(html.contains(#"<tr data-condition="Ready" data-status="False">"#))
        #expect(html.contains(#"<span class="badge bad">False</span>"#), "Ready=False is red")
        #expect(html.contains(#"<tr data-condition="Drifted" data-status="True">"#))
        #expect(html.contains(#"<span class="badge warn">True</span>"#), "Drifted=True is amber")
        #expect(html.contains(#"data-kind="DeploymentProfile" data-name="value" data-drift="true""#))
        #expect(html.contains(#"<tr class="run" data-result="failed" data-trigger="webhook">"#))
        #expect(html.contains("1.5 s"), "the run's duration")
        #expect(html.contains(#"<tr data-execution="value" data-status="pending">"#))
        #expect(html.contains("no runner active"))
        #expect(html.contains("value (revision 2)"), "the profile and its pinned revision")
        #expect(html.contains("DALiuGE session value") && html.contains("Slurm job value"))
        #expect(html.contains(#"<tr data-provider="github" data-result="rejected">"#))
        #expect(html.contains("https://REDACTED@git.example.org/value"), "no credentials of the repository URL")
        #expect(!html.contains("user:pw"))
        #expect(html.contains("0123456789ab"), "short revision ids")
        #expect(html.contains("1–1 of 3 managed objects"))
        #expect(html.contains(#"<a href="/?page=2&amp;per_page=1&amp;q=value#inventory">"#), "paging keeps the search")
    }

    @Test("the page answers with a policy that allows only its own style sheet, and 400 for bad paging")
    func headersAndBadParameters() async throws {
        var deps = ServerDependencies(metrics: ControllerMetrics(), secrets: WebhookSecrets(), wake: {},
                                      status: { hostileOverview("x").status }, databaseReady: { true })
        deps.access = AccessPolicy(publicStatus: true)  // the page without a token (`run --public-status`)
        let seen = QueryRecorder()
        deps.overview = { query in
            seen.record(query)
            return hostileOverview("x")
        }
        try await Application(router: BeamsyncHTTP.router(deps), logger: Logger(label: "test")).test(.router) { client in
            try await client.execute(uri: "/?q=two+words%21&page=2&per_page=25&drifted=1", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "text/html; charset=utf-8")
                let policy = try #require(r.headers[.contentSecurityPolicy])
                #expect(policy.hasPrefix("default-src 'none'; style-src 'sha256-"))
                #expect(!policy.contains("unsafe-inline") && !policy.contains("script-src"))
                #expect(r.headers[.xContentTypeOptions] == "nosniff")
                let body = String(buffer: r.body)
                #expect(body.contains("<style>" + StatusPageStyle.css + "</style>"), "the hash covers exactly the style element")
            }
            for (uri, name) in [("/?per_page=0", "per_page"), ("/?per_page=abc", "per_page"), ("/?page=-1", "page"), ("/?drifted=maybe", "drifted"),
                                ("/?q=" + String(repeating: "a", count: 201), "q")] {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .badRequest, "\(uri)")
                    #expect(String(buffer: r.body).contains("bad request: \(name)"), "\(uri): the parameter is named")
                }
            }
        }
        #expect(seen.queries.first == InventoryQuery(search: "two words!", driftedOnly: true, page: 2, perPage: 25))
    }

    @Test("a database that does not answer gives 503 and a page that says so, without the error's details")
    func unavailable() async throws {
        struct Down: Error, CustomStringConvertible { var description: String { "password=hunter2 host=db" } }
        var deps = ServerDependencies(metrics: ControllerMetrics(), secrets: WebhookSecrets(), wake: {},
                                      status: { throw Down() }, databaseReady: { false })
        deps.access = AccessPolicy(publicStatus: true)  // the page without a token (`run --public-status`)
        deps.overview = { _ in throw Down() }
        try await Application(router: BeamsyncHTTP.router(deps), logger: Logger(label: "test")).test(.router) { client in
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .serviceUnavailable)
                let body = String(buffer: r.body)
                #expect(body.contains("the status cannot be read now") && !body.contains("hunter2"))
            }
        }
    }

    @Test("webhook deliveries are recorded with provider, event and result, never the signature")
    func deliveriesRecorded() async throws {
        let recorder = DeliveryRecorder()
        var deps = ServerDependencies(metrics: ControllerMetrics(), secrets: WebhookSecrets(github: secret), wake: {},
                                      status: { hostileOverview("x").status }, databaseReady: { true })
        deps.access = AccessPolicy(publicStatus: true)  // the page without a token (`run --public-status`)
        deps.recordDelivery = { recorder.record($0) }
        try await Application(router: BeamsyncHTTP.router(deps), logger: Logger(label: "test")).test(.router) { client in
            var headers = HTTPFields()
            headers[.init("X-GitHub-Event")!] = "push"
            headers[.init("X-GitHub-Delivery")!] = "72d3162e"
            headers[.init("X-Hub-Signature-256")!] = WebhookAuthenticator.signature(body: payload, secret: secret)
            try await client.execute(uri: "/hooks/github", method: .post, headers: headers, body: ByteBuffer(bytes: payload)) { _ in }
            headers[.init("X-Hub-Signature-256")!] = "sha256=" + String(repeating: "0", count: 64)
            try await client.execute(uri: "/hooks/github", method: .post, headers: headers, body: ByteBuffer(bytes: payload)) { _ in }
            try await client.execute(uri: "/hooks/gitlab", method: .post, body: ByteBuffer(bytes: payload)) { _ in }
        }
        let seen = recorder.deliveries
        #expect(seen.map(\.result) == ["accepted", "rejected", "disabled"])
        #expect(seen.map(\.httpStatus) == [202, 401, 404])
        #expect(seen[0].event == "push" && seen[0].delivery == "72d3162e" && seen[0].provider == "github")
        #expect(seen[1].message == "X-Hub-Signature-256 does not match")
        #expect(!seen.contains { ($0.message ?? "").contains("sha256=") })
    }
}

final class QueryRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [InventoryQuery] = []
    func record(_ q: InventoryQuery) { lock.withLock { seen.append(q) } }
    var queries: [InventoryQuery] { lock.withLock { seen } }
}

final class DeliveryRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [WebhookDelivery] = []
    func record(_ d: WebhookDelivery) { lock.withLock { seen.append(d) } }
    var deliveries: [WebhookDelivery] { lock.withLock { seen } }
}
