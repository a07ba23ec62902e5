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

/// Two https servers on loopback (Python's http.server behind TLS): the origin redirects every
/// request to the other, which asks for credentials and prints what it receives.
private let redirectingServers = #"""
import http.server, ssl, sys, threading
cert, key = sys.argv[1], sys.argv[2]
def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]
class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args): pass
class Target(Quiet):
    def do_GET(self):
        print("TARGET", self.path, self.headers.get("Authorization") or "-", flush=True)
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()
target = serve(Target)
class Origin(Quiet):
    def do_GET(self):
        print("ORIGIN", self.path, flush=True)
        self.send_response(302)
        self.send_header("Location", "https://127.0.0.1:%d%s" % (target, self.path))
        self.send_header("Content-Length", "0")
        self.end_headers()
origin = serve(Origin)
print("PORTS", origin, target, flush=True)
sys.stdin.read()
"""#

@Suite("An https token does not follow a redirect (TLS on loopback)", .serialized,
       .enabled(if: ["/usr/bin/python3", "/usr/bin/openssl"].allSatisfy(FileManager.default.isExecutableFile(atPath:))))
struct HTTPSRedirectTests {
    @Test("over https, a redirect to another port is refused and the other server never sees a request or the token")
    func httpsRedirect() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try await run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                           "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1"], in: scratch.path)
        let servers = Process()
        servers.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        servers.arguments = ["-c", redirectingServers, scratch.sub("cert.pem"), scratch.sub("key.pem")]
        let input = Pipe(), output = Pipe()
        servers.standardInput = input
        servers.standardOutput = output
        try servers.run()
        defer { if servers.isRunning { servers.terminate() } }
        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let ports = text.split(separator: "\n")[0].split(separator: " ").dropFirst().compactMap { Int($0) }
        try #require(ports.count == 2, "the servers did not start: \(text)")
        let token = try scratch.write("token", "tok-SECRET-456\n")
        let error = await thrownError {
            try await GitMirror.clone(url: "https://127.0.0.1:\(ports[0])/r.git", to: scratch.sub("mirror"),
                                      options: .https(tokenFile: token, insecureSkipTLSVerify: true), timeout: .seconds(20))
        }
        try input.fileHandleForWriting.close()
        servers.waitUntilExit()
        text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect("\(error.map { "\($0)" } ?? "")".contains("redirected to 127.0.0.1:\(ports[1])"), "\(String(describing: error))")
        #expect(text.contains("ORIGIN /r.git/info/refs"), "the origin was reached over TLS: \(text)")
        #expect(!text.contains("TARGET"), "the other server saw nothing: \(text)")
    }
}
