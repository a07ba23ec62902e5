import BeamsyncCLI
import BeamsyncModel
import BeamsyncOperations
import Foundation
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs the built `beamsync` binary (built by `swift build` before the tests).
func runBeamsync(_ arguments: [String], environment: [String: String] = [:], in directory: URL = repositoryRoot) throws -> (status: Int32, stdout: String, stderr: String) {
    let binary = repositoryRoot.appendingPathComponent(".build/debug/beamsync")
    let p = Process()
    p.executableURL = binary
    p.arguments = arguments
    p.currentDirectoryURL = directory
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

func temporaryRepository(_ files: [String: String]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-cli-\(UUID().uuidString)")
    for (path, text) in files {
        let url = dir.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
    return dir
}

@Suite("beamsync validate")
struct ValidateCommandTests {
    @Test("the example repository and the seed profiles are valid")
    func examplesAreValid() {
        let report = ValidationRun.run(paths: [repositoryRoot.appendingPathComponent("examples/gitops-repo").path,
                                               repositoryRoot.appendingPathComponent("profiles/rest-remote.yaml").path,
                                               repositoryRoot.appendingPathComponent("profiles/slurm-remote.yaml").path])
        #expect(report.isValid, "\(report.diagnostics)")
        #expect(report.documents == 9)
    }

    @Test("every problem is printed, grouped by file, with positions and hints")
    func textReport() throws {
        let dir = try temporaryRepository([
            "profiles/a.yaml": "name: a\ntranslation: {num_par: 0}\ndeployment: {kind: rest_remote, deploy_host: h, deploy_port: 0}\n",
            "profiles/b.yaml": "name: b b\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h}\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = ValidationRun.run(paths: [dir.path])
        let text = report.text(style: TerminalStyle(colour: false))
        #expect(text.contains("\(dir.path)/profiles/a.yaml:2:24: error: translation.num_par: must be at least 1, found 0"))
        #expect(text.contains("\(dir.path)/profiles/a.yaml:3:62: error: deployment.deploy_port"))
        #expect(text.contains("\(dir.path)/profiles/b.yaml:1:7: error: name:"))
        #expect(text.contains("hint:"))
        #expect(text.contains("✗ invalid: 2 files, 2 documents: 3 errors, 0 warnings"))
        #expect(!text.contains("\u{1B}["), "no colour when colour is off")
    }

    @Test("exit code 0 when valid, 1 when not; JSON output is machine-readable")
    func exitCodesAndJSON() throws {
        let good = try runBeamsync(["validate", "examples/gitops-repo"])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        let dir = try temporaryRepository(["profiles/a.yaml": "name: a\ntranslation: {}\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = try runBeamsync(["validate", dir.path, "--format", "json"])
        #expect(bad.status == 1)
        let json = try JSONValue.parse(bad.stdout)
        #expect(json["valid"] == .bool(false))
        let first = try #require(json["diagnostics"]?.arrayValue?.first)
        #expect(first["code"] == .string("missing_field") && first["path"] == .string("deployment"))
        #expect(first["line"] == .int(1) && first["column"] == .int(1))
    }

    @Test("no colour when stdout is not a terminal or NO_COLOR is set")
    func colour() throws {
        #expect(!TerminalStyle.detect(environment: [:], fileDescriptor: -1).colour)
        #expect(!TerminalStyle.detect(environment: ["NO_COLOR": "1"], fileDescriptor: STDOUT_FILENO).colour)
        let piped = try runBeamsync(["validate", "examples/gitops-repo"])
        #expect(!piped.stdout.contains("\u{1B}["))
    }

    @Test("a missing path is an error, not a crash")
    func missingPath() throws {
        let r = try runBeamsync(["validate", "/nonexistent/beamsync"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("no such file or directory"))
    }

    @Test("symbolic links inside the repository are refused")
    func symlinks() throws {
        let dir = try temporaryRepository(["profiles/a.yaml": "name: a\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h}\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("profiles/link.yaml").path, withDestinationPath: "/etc/passwd")
        let report = ValidationRun.run(paths: [dir.path])
        #expect(report.diagnostics.errors.contains { $0.code == .unsafePath && $0.location?.file.hasSuffix("profiles/link.yaml") == true })
    }

    @Test("beamsync schema prints the JSON Schema the examples reference")
    func schema() throws {
        let r = try runBeamsync(["schema"])
        #expect(r.status == 0)
        let committed = try String(contentsOf: repositoryRoot.appendingPathComponent("examples/gitops-repo/deployment-profile.schema.json"), encoding: .utf8)
        #expect(r.stdout == committed, "regenerate with: beamsync schema > examples/gitops-repo/deployment-profile.schema.json")
    }
}
