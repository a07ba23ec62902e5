@testable import BeamsyncEngine
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("HTTPClient against a loopback server")
struct HTTPClientTests {
    let http = HTTPClient(threads: 2)

    @Test("a GET returns the status, headers and body the server sent")
    func getReturnsStatusHeadersAndBody() async throws {
        let server = try LoopbackServer { _ in
            .init(status: 200, headers: [("Content-Type", "application/json"), ("X-Beamsync", "yes")],
                  body: Array(#"{"hosts": ["a"]}"#.utf8))
        }
        defer { server.stop() }
        let response = try await http.send(HTTPRequest(.get, server.baseURL + "/api"))
        #expect(response.status == 200)
        #expect(response.header("x-beamsync") == "yes")
        #expect(response.text == #"{"hosts": ["a"]}"#)
        #expect(server.requests.first?.method == "GET")
        #expect(server.requests.first?.path == "/api")
    }

    @Test("form fields are sent URL-encoded, so a form parser reads back the exact values, and without Expect: 100-continue")
    func postsFormFieldsEncoded() async throws {
        let server = try LoopbackServer { _ in .json(200, "[]") }
        defer { server.stop() }
        let value = #"{"a": "b&c=d", "ü": "+ /"}"#
        _ = try await http.send(HTTPRequest(.post, server.baseURL + "/map",
                                            body: .form([FormField("lg_content", value), FormField("n", "1")])))
        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(request.header("Expect") == nil)
        // Decode as a form parser would: '+' is a space, then percent-decoding.
        let pairs = request.text.split(separator: "&").map { pair -> (String, String) in
            let kv = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding!
            }
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }
        #expect(pairs.map(\.0) == ["lg_content", "n"])
        #expect(pairs[0].1 == value)
        #expect(pairs[1].1 == "1")
    }

    @Test("a JSON body is sent with its content type; a DELETE sends no body and an empty POST sends Content-Length 0")
    func postsJSONAndDeletes() async throws {
        let server = try LoopbackServer { _ in .json(200, #"{"Status": "Success"}"#) }
        defer { server.stop() }
        let body = Array(#"{"sessionId":"s-1"}"#.utf8)
        _ = try await http.send(HTTPRequest(.post, server.baseURL + "/api/sessions", body: .json(body)))
        _ = try await http.send(HTTPRequest(.delete, server.baseURL + "/api/sessions/s-1"))
        _ = try await http.send(HTTPRequest(.post, server.baseURL + "/api/sessions/s-1/cancel"))
        let requests = server.requests
        #expect(requests.count == 3)
        #expect(requests[0].header("Content-Type") == "application/json")
        #expect(requests[0].body == body)
        #expect(requests[1].method == "DELETE")
        #expect(requests[1].body.isEmpty)
        #expect(requests[2].method == "POST")
        #expect(requests[2].header("Content-Length") == "0")
    }

    @Test("a non-2xx answer is a response, and sendExpectingSuccess turns it into an error carrying the server's detail")
    func non2xxIsAResponseButSendExpectingSuccessThrowsWithTheDetail() async throws {
        let server = try LoopbackServer { _ in .json(400, #"{"detail":"LG content is malformed"}"#) }
        defer { server.stop() }
        let request = HTTPRequest(.post, server.baseURL + "/unroll_and_partition", body: .form([]))
        let response = try await http.send(request)
        #expect(response.status == 400)
        let error = await #expect(throws: HTTPError.self) { try await http.sendExpectingSuccess(request) }
        #expect(error?.kind == .status)
        #expect(error?.status == 400)
        #expect(error?.message == "LG content is malformed")
        #expect(error?.description == "POST \(server.baseURL)/unroll_and_partition: HTTP 400: LG content is malformed")
    }

    @Test("the server's message is taken from detail, error, a DALiuGE exception body, plain text or an HTML error page", arguments: [
        (##"{"detail": "#nodes (2) should be larger than the number of islands (2)"}"##,
         "#nodes (2) should be larger than the number of islands (2)"),
        (#"{"error": "bad token"}"#, "bad token"),
        (#"{"detail": [{"loc": ["body", "algorithm"], "msg": "bad"}]}"#, #"[{"loc":["body","algorithm"],"msg":"bad"}]"#),
        (#"{"type": "SubManagerException", "args": {"n:1": {"type": "NoSessionException", "args": "dummy"}}}"#,
         #"SubManagerException: {"n:1":{"args":"dummy","type":"NoSessionException"}}"#),
        ("Internal Server Error\n", "Internal Server Error"),
        ("<!DOCTYPE HTML><html><head><title>Error: 500</title></head><body><pre>Internal &#039;x&#039;</pre></body></html>",
         "Internal 'x'"),
    ])
    func serverMessagesAreExtracted(body: String, expected: String) {
        #expect(HTTPError.serverMessage(HTTPResponse(status: 500, body: Array(body.utf8))) == expected)
    }

    @Test("a refused connection is an error of its own kind, counted as unreachable")
    func connectionRefusedIsItsOwnKind() async throws {
        let port = try closedLoopbackPort()
        let error = await #expect(throws: HTTPError.self) {
            try await http.send(HTTPRequest(.get, "http://127.0.0.1:\(port)/api"))
        }
        #expect(error?.kind == .connectionRefused)
        #expect(error?.isUnreachable == true)
        #expect(error?.description.hasPrefix("GET http://127.0.0.1:\(port)/api: connection refused") == true)
    }

    @Test("a server slower than the request's timeout gives a timed-out error when the timeout ends")
    func totalTimeoutIsTimedOut() async throws {
        let server = try LoopbackServer { _ in var r = LoopbackServer.Response.json(200, "{}"); r.delay = 3; return r }
        defer { server.stop() }
        let started = ContinuousClock.now
        let error = await #expect(throws: HTTPError.self) {
            try await http.send(HTTPRequest(.get, server.baseURL + "/slow", timeout: .milliseconds(300)))
        }
        #expect(error?.kind == .timedOut)
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test("cancelling the calling task aborts the transfer at once with a cancelled error")
    func cancellingTheTaskAbortsTheTransfer() async throws {
        let server = try LoopbackServer { _ in var r = LoopbackServer.Response.json(200, "{}"); r.delay = 5; return r }
        defer { server.stop() }
        let started = ContinuousClock.now
        let task = Task { try await http.send(HTTPRequest(.get, server.baseURL + "/slow", timeout: .seconds(30))) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let result = await task.result
        #expect(throws: HTTPError.self) { try result.get() }
        if case .failure(let error as HTTPError) = result { #expect(error.kind == .cancelled) }
        #expect(ContinuousClock.now - started < .seconds(4))
    }

    @Test("a host name that does not resolve is a host-not-found error")
    func unresolvableHostIsHostNotFound() async throws {
        let error = await #expect(throws: HTTPError.self) {
            try await http.send(HTTPRequest(.get, "http://beamsync-no-such-host.invalid/", timeout: .seconds(10)))
        }
        #expect(error?.kind == .hostNotFound)
    }

    @Test("credentials in a URL never reach an error's URL or text")
    func credentialsInURLsNeverReachErrors() async throws {
        let port = try closedLoopbackPort()
        let error = await #expect(throws: HTTPError.self) {
            try await http.send(HTTPRequest(.get, "http://admin:s3cret@127.0.0.1:\(port)/api"))
        }
        #expect(error?.url == "http://127.0.0.1:\(port)/api")
        #expect(error?.description.contains("s3cret") == false)
        #expect(HTTPError.redact("https://u:p@h:1/x?y=@z") == "https://h:1/x?y=@z")
        #expect(HTTPError.redact("http://h/a@b") == "http://h/a@b")
    }

    @Test("twenty concurrent requests through a one-thread client are queued on it and all complete")
    func requestsRunOnTheClientsOwnThreads() async throws {
        let server = try LoopbackServer { _ in .json(200, "{}") }
        defer { server.stop() }
        // Many concurrent requests through a one-thread client all complete (queued, FIFO).
        let client = HTTPClient(threads: 1)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 { group.addTask { try await client.send(HTTPRequest(.get, server.baseURL + "/")).status } }
            for try await status in group { #expect(status == 200) }
        }
        #expect(server.requests.count == 20)
    }
}
