import BeamsyncModel
import BeamsyncTestSupport
import Foundation
import Testing


/// Runs the built binary with exactly `environment` (plus PATH), so nothing of the test runner's
/// own environment (a DATABASE_URL, SLURM_* variables) leaks into a check of the environment.
func runBeamsyncIsolated(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = repositoryRoot.appendingPathComponent(".build/debug/beamsync")
    p.arguments = arguments
    p.currentDirectoryURL = repositoryRoot
    p.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "NO_COLOR": "1"].merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// A scratch directory with a repository of profiles, secret files and a real SSH key.
private struct Setup {
    let root: URL
    var path: String { root.path }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-security-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("home"), withIntermediateDirectories: true)
        try write("repo/profiles/hpc.yaml", """
            name: hpc
            translation: {tm_url: "https://tm.example.org"}
            deployment: {kind: slurm_remote, login_node: login.example.org, account: acct, home_dir: /h, log_dir: /h/l, dlg_root: /h/d}

            """, mode: 0o644)
        try write("repo/profiles/dim.yaml", """
            name: dim
            translation: {tm_url: "https://tm.example.org"}
            deployment: {kind: rest_remote, dim_host_for_tm: dim.internal, deploy_host: dim.example.org, deploy_port: 443, use_https: true}

            """, mode: 0o644)
        let key = sub("slurm_key")
        let keygen = Process()
        keygen.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        keygen.arguments = ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", key]
        try keygen.run()
        keygen.waitUntilExit()
        let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try write("known_hosts", "login.example.org \(publicKey)\n", mode: 0o644)
        try write("github", "github-secret-content\n", mode: 0o600)
    }

    func sub(_ name: String) -> String { root.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String, mode: Int) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
        chmod(url.path, mode_t(mode))
    }

    var environment: [String: String] {
        ["HOME": sub("home"), "BEAMPIPE_ENV": "production", "BEAMPIPE_USE_REAL_BACKENDS": "true",
         "SLURM_SSH_PRIVATE_KEY_FILE": sub("slurm_key"), "SLURM_SSH_KNOWN_HOSTS": sub("known_hosts")]
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

@Suite("beamsync security check as a process")
struct SecurityCheckProcessTests {
    @Test("a clean production setup exits 0 and says what it checked")
    func clean() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let r = try runBeamsyncIsolated(["security", "check", "--dir", setup.sub("repo"), "--skip-database",
                                         "--github-secret-file", setup.sub("github"), "--known-hosts-file", setup.sub("known_hosts")],
                                        environment: setup.environment)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout == """
            Security check (production rules: BEAMPIPE_ENV is production)
            ✓ no errors, 0 warnings (checked 2 profiles and 2 files)

            """)
    }

    @Test("a dirty setup exits 1; text and JSON give each finding's message and fix, and no secret value")
    func dirty() throws {
        let setup = try Setup()
        defer { setup.remove() }
        chmod(setup.sub("github"), 0o644)
        chmod(setup.sub("slurm_key"), 0o640)
        var environment = setup.environment
        environment["DATABASE_URL"] = "postgresql://beamsync:hunter2-secret-value@db.example.org/beampipe"
        let arguments = ["security", "check", "--dir", setup.sub("repo"), "--skip-database", "--github-secret-file", setup.sub("github")]
        let r = try runBeamsyncIsolated(arguments, environment: environment)
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let github = setup.sub("github"), key = setup.sub("slurm_key")
        #expect(r.stdout == """
            Security check (production rules: BEAMPIPE_ENV is production)
            error: --github-secret-file (\(github)): the GitHub webhook secret file is readable or writable by group or others (mode 0644)
                fix: chmod 600 \(github)
            error: DATABASE_URL: the connection string contains a password, which process listings, /proc/PID/environ and shell history can show
                fix: remove the password from DATABASE_URL and keep the password in a pgpass file (host:port:database:user:password, mode 0600) and name it with PGPASSFILE
            error: SLURM_SSH_PRIVATE_KEY_FILE (\(key)): the private key file is readable or writable by group or others (mode 0640)
                fix: chmod 600 \(key)
                profile: hpc
            ✗ 3 errors, 0 warnings (checked 2 profiles and 1 file)

            """)

        let j = try runBeamsyncIsolated(arguments + ["--format", "json"], environment: environment)
        #expect(j.status == 1)
        let json = try JSONValue.parse(j.stdout)
        #expect(json["ok"] == .bool(false) && json["production"] == .bool(true) && json["real_backends"] == .bool(true))
        let findings = try #require(json["findings"]?.arrayValue)
        #expect(findings.map { $0["rule"]?.stringValue } == ["secret_file_permissions", "database_password", "secret_file_permissions"])
        #expect(findings[2]["profiles"] == .array([.string("hpc")]))
        #expect(findings[1]["subject"] == .string("DATABASE_URL") && findings[1]["severity"] == .string("error"))
        for output in [r.stdout, r.stderr, j.stdout, j.stderr] {
            #expect(!output.contains("hunter2-secret-value") && !output.contains("github-secret-content") && !output.contains("PRIVATE KEY"))
        }
    }

    @Test("--format offers exactly text and json; --dir must exist")
    func arguments() throws {
        let r = try runBeamsyncIsolated(["security", "check", "--skip-database", "--format", "markdown"], environment: [:])
        #expect(r.status == 64 && r.stderr.contains("'markdown'") && r.stderr.contains("text") && r.stderr.contains("json"), "\(r.stderr)")
        let missing = try runBeamsyncIsolated(["security", "check", "--skip-database", "--dir", "/nonexistent/repo"], environment: [:])
        #expect(missing.status == 64 && missing.stderr.contains("--dir /nonexistent/repo: no such directory"), "\(missing.stderr)")
    }

    @Test("--help prints each command's help on standard output and exits 0")
    func help() throws {
        for command in [["--help"], ["plan", "--help"], ["security", "check", "--help"], ["dim", "ping", "--help"], ["help", "plan"]] {
            let r = try runBeamsyncIsolated(command, environment: [:])
            #expect(r.status == 0 && r.stdout.contains("USAGE: beamsync") && r.stderr.isEmpty, "\(command): \(r.stdout)\(r.stderr)")
        }
    }

    @Test("profiles in the database are checked along with the repository's", .requires(.postgres))
    func databaseProfiles() async throws {
        let setup = try Setup()
        defer { setup.remove() }
        try await TestDatabase.withFreshDatabase { db in
            try setup.write("applied/profiles/old.yaml", """
                name: old
                translation: {tm_url: "http://tm.example.org:8084"}
                deployment: {kind: rest_remote, dim_host_for_tm: d, deploy_host: d, use_https: true}

                """, mode: 0o644)
            let applied = try runBeamsyncIsolated(["apply", "--dir", setup.sub("applied"), "--auto-approve"], environment: ["DATABASE_URL": db.url])
            #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
            var environment = setup.environment
            environment["DATABASE_URL"] = db.url
            let r = try runBeamsyncIsolated(["security", "check", "--dir", setup.sub("repo"), "--format", "json"], environment: environment)
            #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
            let json = try JSONValue.parse(r.stdout)
            #expect(json["profiles"]?.arrayValue?.contains(.string("old (database)")) == true, "\(r.stdout)")
            #expect(json["findings"]?.arrayValue?.map { $0["message"]?.stringValue } == [
                "profile old: translation.tm_url: the Translator Manager is reached over plain http (http://tm.example.org:8084), so graphs travel unencrypted and unauthenticated",
            ])
        }
    }
}
