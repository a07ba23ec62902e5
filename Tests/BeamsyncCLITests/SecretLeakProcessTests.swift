import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing


/// GETs a page of a running controller with the curl CLI.
func fetchPage(_ port: Int, _ path: String) throws -> String {
    try tool("/usr/bin/curl", ["-s", "-m", "10", "http://127.0.0.1:\(port)\(path)"])
}

@Suite("Planted secrets never come out", .serialized, .requires(.postgres))
struct SecretLeakProcessTests {
    static let secrets = ["SECRET-tm-4242", "SECRET-pw-9191", "SECRET-pem-7373", "SECRET-url-5656", "SECRET-token-2828"]

    func expectNoSecret(_ text: String, _ where_: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in Self.secrets {
            #expect(!text.contains(secret), "\(secret) leaked into \(where_): \(text.prefix(2000))", sourceLocation: sourceLocation)
        }
    }

    @Test("text, JSON and Markdown output, logs, the status JSON, the page at / and a pg_dump of the database hold no planted secret")
    func plantedSecrets() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let repo = try TestRepository()
        defer { repo.remove() }
        let files = [
            "profiles/tm.yaml": "name: tm\ntranslation: {tm_url: \"http://admin:SECRET-tm-4242@tm.example:8084\"}\n"
                + "deployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: 8001}\n",
            "profiles/pw.yaml": "name: pw\ntranslation: {}\n"
                + "deployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: 8001, password: SECRET-pw-9191}\n",
            "profiles/pem.yaml": "name: pem\ndescription: \"-----BEGIN OPENSSH PRIVATE KEY-----\\nSECRET-pem-7373\\n-----END OPENSSH PRIVATE KEY-----\"\n"
                + "translation: {}\ndeployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: 8001}\n",
        ]
        try repo.commit(files)
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        var outputs: [(String, String)] = []
        for arguments in [["validate", repo.dir.path], ["validate", "--format", "json", repo.dir.path],
                          ["plan", "--dir", repo.dir.path], ["plan", "--dir", repo.dir.path, "--format", "json"],
                          ["plan", "--dir", repo.dir.path, "--format", "markdown"],
                          ["plan", "--repo", repo.url, "--ref", "main", "--format", "markdown"]] {
            let r = try runBeamsync(arguments, environment: env)
            #expect(r.status == 1, "\(arguments): the documents are refused")
            outputs.append((arguments.joined(separator: " "), r.stdout + r.stderr))
        }
        #expect(outputs[0].1.contains("profiles/tm.yaml"), "the errors still name the file: \(outputs[0].1)")

        // A token given in the URL, and a token file, against a remote that is not there.
        let tokenFile = repo.dir.deletingLastPathComponent().appendingPathComponent("token-\(UUID().uuidString)")
        try "SECRET-token-2828\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let r = try runBeamsync(["plan", "--repo", "http://user:SECRET-url-5656@127.0.0.1:\(try closedPort())/r.git", "--ref", "main",
                                 "--token-file", tokenFile.path], environment: env)
        #expect(r.status == 1)
        outputs.append(("plan with credentials in the URL", r.stdout + r.stderr))

        let controller = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "500ms")
        #expect(try await eventually(20) { try await sourceStatus(db.url)?.reason == .validationFailed }, "\(controller.logText)")
        outputs.append(("status JSON", try fetchPage(controller.port, "/api/v2/gitops/status")))
        outputs.append(("the page at /", try fetchPage(controller.port, "/")))
        let status = try #require(try await sourceStatus(db.url))
        #expect(status.message?.contains("tm.yaml") == true, "the stored message still says where: \(status.message ?? "")")
        controller.terminate()
        outputs.append(("controller log", controller.logText))

        let remote = try ControllerProcess(repo: "http://user:SECRET-url-5656@127.0.0.1:\(try closedPort())/r.git", databaseURL: db.url,
                                           interval: "500ms", extra: ["--token-file", tokenFile.path])
        #expect(try await eventually(20) {
            try await statuses(db.url).contains { $0.reason == .fetchFailed }
        }, "\(remote.logText)")
        outputs.append(("status JSON (fetch)", try fetchPage(remote.port, "/api/v2/gitops/status")))
        outputs.append(("the page at / (fetch)", try fetchPage(remote.port, "/")))
        remote.terminate()
        outputs.append(("controller log (fetch)", remote.logText))
        outputs.append(("status command", try runBeamsync(["status", "--format", "json"], environment: env).stdout))
        outputs.append(("pg_dump", try tool("/usr/bin/pg_dump", ["--data-only", db.url])))
        for (name, text) in outputs { expectNoSecret(text, name) }
        try? await db.drop()
    }
}

/// A loopback port nothing listens on.
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

func statuses(_ url: String) async throws -> [BeamsyncStore.SourceStatus] {
    let conn = try await BeamsyncPostgres.PGConnection.connect(conninfo: url)
    defer { Task { await conn.close() } }
    return (try? await BeamsyncStore.SourceStatusStore(conn: conn).all()) ?? []
}
