import BeamsyncCLI
import BeamsyncModel
import BeamsyncOperations
import Foundation
import Testing

/// Every entry where a document could be is read or refused: a FIFO, a socket or a directory named
/// like a document under profiles/ is an error naming it (so `--prune` never plans deleting the
/// profile that file used to hold), and reading never blocks on a FIFO.
@Suite("Reading a working tree")
struct DirectoryTreeTests {
    static let profile = "name: a\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: dim.example.org}\n"

    /// `DirectoryTree.read` on another thread, failing instead of hanging if it blocks.
    func readWithDeadline(_ root: String) throws -> DirectoryTree.Result {
        final class Box: @unchecked Sendable { var result: DirectoryTree.Result? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            box.result = DirectoryTree.read(root: root)
            done.signal()
        }
        try #require(done.wait(timeout: .now() + 20) == .success, "DirectoryTree.read blocked")
        return try #require(box.result)
    }

    func bindSocket(at path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        try #require(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, b) in bytes.enumerated() { buffer[i] = b }
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(status == 0, "bind: \(errno)")
        return fd
    }

    @Test("a FIFO, a socket and a directory named like a document under profiles/ are errors that name them")
    func specialEntries() throws {
        let dir = try temporaryRepository(["profiles/a.yaml": Self.profile, "graphs/g.graph": "[]"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let profiles = dir.appendingPathComponent("profiles")
        try #require(mkfifo(profiles.appendingPathComponent("fifo.yaml").path, 0o644) == 0)
        try FileManager.default.createDirectory(at: profiles.appendingPathComponent("dir.yaml"), withIntermediateDirectories: false)
        let fd = try bindSocket(at: profiles.appendingPathComponent("sock.yml").path)
        defer { close(fd) }
        try #require(mkfifo(dir.appendingPathComponent("beamsync.yaml").path, 0o644) == 0)

        let tree = try readWithDeadline(dir.path)
        #expect(tree.files.map(\.path) == ["graphs/g.graph", "profiles/a.yaml"])
        for path in ["profiles/fifo.yaml", "profiles/dir.yaml", "profiles/sock.yml", "beamsync.yaml"] {
            let e = tree.diagnostics.errors.first { $0.location?.file == path }
            #expect(e != nil, "no error for \(path): \(tree.diagnostics)")
            #expect(e?.hint?.isEmpty == false)
        }
    }

    @Test("a FIFO or a subdirectory elsewhere in the tree is left alone")
    func unrelatedEntries() throws {
        let dir = try temporaryRepository(["profiles/a.yaml": Self.profile, "notes/readme.txt": "x"])
        defer { try? FileManager.default.removeItem(at: dir) }
        try #require(mkfifo(dir.appendingPathComponent("notes/pipe").path, 0o644) == 0)
        try #require(mkfifo(dir.appendingPathComponent("profiles/README").path, 0o644) == 0)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("profiles/team"), withIntermediateDirectories: false)
        let tree = try readWithDeadline(dir.path)
        #expect(tree.diagnostics.isEmpty, "\(tree.diagnostics)")
        #expect(tree.files.map(\.path) == ["profiles/a.yaml"])
    }

    @Test("validate's text and JSON reports name the fields of planted secrets but never show them")
    func validateNeverEchoesSecrets() throws {
        let dir = try temporaryRepository([
            "profiles/a.yaml": """
                name: a
                description: "-----BEGIN RSA PRIVATE KEY-----\\nS3CR3T-PEM\\n-----END RSA PRIVATE KEY-----"
                translation: {tm_url: "http://admin:S3CR3T-TM@tm.example.org"}
                deployment: {kind: rest_remote, deploy_host: "ops:S3CR3T-HOST@dim", token: S3CR3T-TOKEN}

                """,
            "profiles/b.json": #"{"name": "b", "translation": {}, "deployment": {"kind": "slurm_remote", "login_node": "l", "account": "a", "home_dir": "u:S3CR3T-PATH@h:/x", "log_dir": "/l", "dlg_root": "/d"}}"#,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = ValidationRun.run(paths: [dir.path])
        #expect(report.diagnostics.errors.count >= 5, "\(report.diagnostics)")
        let text = report.text(style: TerminalStyle(colour: false))
        let json = report.json().canonicalString
        let cli = try runBeamsync(["validate", dir.path, "--format", "json"])
        for rendering in [text, json, cli.stdout, cli.stderr] {
            #expect(!rendering.contains("S3CR3T"), "\(rendering)")
        }
        for field in ["description", "translation.tm_url", "deployment.deploy_host", "deployment.token", "deployment.home_dir"] {
            #expect(text.contains(field), "\(field) not named:\n\(text)")
        }
    }

    @Test("beamsync validate exits 1 and names a profile file that became a FIFO")
    func validateReportsFIFO() throws {
        let dir = try temporaryRepository(["profiles/a.yaml": Self.profile])
        defer { try? FileManager.default.removeItem(at: dir) }
        try #require(mkfifo(dir.appendingPathComponent("profiles/b.yaml").path, 0o644) == 0)
        let r = try runBeamsync(["validate", dir.path, "--format", "json"])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let json = try JSONValue.parse(r.stdout)
        let files = json["diagnostics"]?.arrayValue?.compactMap { $0["file"]?.stringValue } ?? []
        #expect(files.contains { $0.hasSuffix("profiles/b.yaml") }, "\(r.stdout)")
    }
}
