@testable import BeamsyncGit
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("An https token goes only to its origin", .serialized)
struct RedirectTests {
    /// Answers every request with 401 and a Basic challenge, recording what arrives.
    static func challenging() throws -> LoopbackServer {
        try LoopbackServer { _ in
            LoopbackServer.Response(status: 401, headers: [("WWW-Authenticate", "Basic realm=\"git\""), ("Content-Type", "text/plain")],
                                    body: Array("authentication required\n".utf8))
        }
    }

    @Test("a redirect to another port is refused before any request reaches it, and the token is never sent there")
    func redirectToAnotherPortIsRefused() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let elsewhere = try Self.challenging()
        defer { elsewhere.stop() }
        let target = "http://127.0.0.1:\(elsewhere.port)/r.git/info/refs?service=git-upload-pack"
        let origin = try LoopbackServer { _ in
            LoopbackServer.Response(status: 302, headers: [("Location", target), ("Content-Type", "text/plain")], body: [])
        }
        defer { origin.stop() }
        let token = try scratch.write("token", "tok-SECRET-123\n")
        let url = "\(origin.baseURL)/r.git"
        let error = await thrownError {
            try await GitMirror.clone(url: url, to: scratch.sub("mirror"), options: .https(tokenFile: token), timeout: .seconds(20))
        }
        let text = "\(error.map { "\($0)" } ?? "no error")"
        #expect(text.contains("redirected to 127.0.0.1:\(elsewhere.port)"), "\(text)")
        #expect(!text.contains("tok-SECRET-123"))
        #expect(origin.requests.count == 1)
        #expect(elsewhere.requests.isEmpty, "nothing reaches the other origin: \(elsewhere.requests.map { $0.headers })")
    }

    @Test("the origin itself still gets the token when it asks for it")
    func originGetsTheToken() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let origin = try Self.challenging()
        defer { origin.stop() }
        let token = try scratch.write("token", "tok-SECRET-123\n")
        let error = await thrownError {
            try await GitMirror.clone(url: "\(origin.baseURL)/r.git", to: scratch.sub("mirror"), options: .https(tokenFile: token),
                                      timeout: .seconds(20))
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("refused the token"))
        let sent = origin.requests.compactMap { $0.header("Authorization") }
        let expected = "Basic " + Data("\(GitCredentials.defaultTokenUser):tok-SECRET-123".utf8).base64EncodedString()
        #expect(sent == [expected], "\(sent)")
    }
}
