@testable import BeamsyncEngine
import BeamsyncTestSupport
import Foundation
import Testing

/// A real TLS peer: `openssl s_server -www` with a self-signed certificate for 127.0.0.1.
private final class OpenSSLServer: @unchecked Sendable {
    let port: Int
    let certificate: String
    private let process: ChildProcess
    private let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let made = try ChildProcess.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1"])
        guard made == 0 else { throw POSIXError(.EIO) }
        port = try closedLoopbackPort()
        process = try ChildProcess("/usr/bin/openssl", [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificate, "-key", key, "-www", "-quiet"])
    }

    func waitUntilListening(http: HTTPClient) async throws {
        let probe = HTTPRequest(.get, "https://127.0.0.1:\(port)/", timeout: .seconds(2), tls: TLSOptions(verify: false))
        for _ in 0..<100 {
            if (try? await http.send(probe)) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func stop() {
        process.terminate()
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite("HTTPClient TLS against openssl s_server",
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")), .serialized)
struct HTTPClientTLSTests {
    @Test("a self-signed certificate is refused when verifying, accepted with verification off or as the CA file; a missing CA file is a TLS error")
    func verificationOnOffAndCAFile() async throws {
        let http = HTTPClient(threads: 1)
        let server = try OpenSSLServer()
        defer { server.stop() }
        try await server.waitUntilListening(http: http)
        let url = "https://127.0.0.1:\(server.port)/"

        // Verification on, system trust store: the self-signed certificate is refused.
        let error = await #expect(throws: HTTPError.self) {
            try await http.send(HTTPRequest(.get, url, timeout: .seconds(5), tls: TLSOptions(verify: true)))
        }
        #expect(error?.kind == .tls)
        #expect(error?.isUnreachable == false)

        // verify_ssl: false → accepted.
        let insecure = try await http.send(HTTPRequest(.get, url, timeout: .seconds(5), tls: TLSOptions(verify: false)))
        #expect(insecure.status == 200)

        // Verification on with the certificate as CA file → accepted (IP SAN matches).
        let pinned = try await http.send(HTTPRequest(.get, url, timeout: .seconds(5),
                                                     tls: TLSOptions(verify: true, caFile: server.certificate)))
        #expect(pinned.status == 200)

        // A CA file that does not exist is a TLS failure, not a silent fallback.
        let missing = await #expect(throws: HTTPError.self) {
            try await http.send(HTTPRequest(.get, url, timeout: .seconds(5),
                                            tls: TLSOptions(verify: true, caFile: "/nonexistent/ca.pem")))
        }
        #expect(missing?.kind == .tls)
    }
}
