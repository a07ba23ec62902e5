import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

private let signingTools = ["/usr/bin/gpg", "/usr/bin/gpgv", "/usr/bin/ssh-keygen"].allSatisfy(FileManager.default.isExecutableFile(atPath:))

/// Runs a tool and returns its trimmed standard output; throws with its standard error on failure.
@discardableResult
func tool(_ path: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    if let directory { p.currentDirectoryURL = directory }
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw ToolFailure(description: "\(path) \(arguments.joined(separator: " ")): \(String(decoding: e, as: UTF8.self))")
    }
    return String(decoding: o, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

struct ToolFailure: Error, CustomStringConvertible { let description: String }

/// A repository whose commits are really signed: SSH keys made by ssh-keygen, an OpenPGP key made
/// by gpg in a private GNUPGHOME, and the allowed_signers file and keyring beamsync is given.
struct SignedRepository {
    let repo: TestRepository
    let keys: URL
    var gnupgHome: String { keys.appendingPathComponent("gnupg").path }
    let allowedSigners: String
    let keyring: String
    let alice: String      // trusted SSH key (private key path)
    let mallory: String    // SSH key nobody trusts
    let carolFingerprint: String  // trusted OpenPGP key

    init() throws {
        repo = try TestRepository()
        keys = repo.dir.deletingLastPathComponent().appendingPathComponent("beamsync-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: keys.appendingPathComponent("gnupg").path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        alice = keys.appendingPathComponent("alice").path
        mallory = keys.appendingPathComponent("mallory").path
        for (key, name) in [(alice, "alice"), (mallory, "mallory")] {
            try tool("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key])
        }
        let alicePublic = try String(contentsOfFile: alice + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        allowedSigners = keys.appendingPathComponent("allowed_signers").path
        try "alice@example.org namespaces=\"git\" \(alicePublic)\n".write(toFile: allowedSigners, atomically: true, encoding: .utf8)
        let gpgEnv = ["GNUPGHOME": keys.appendingPathComponent("gnupg").path]
        try tool("/usr/bin/gpg", ["--batch", "--quiet", "--passphrase", "", "--quick-gen-key", "Carol Signer <carol@example.org>", "ed25519", "sign", "0"],
                 environment: gpgEnv)
        let listing = try tool("/usr/bin/gpg", ["--batch", "--with-colons", "--list-keys", "carol@example.org"], environment: gpgEnv)
        carolFingerprint = String(try #require(listing.split(separator: "\n").first { $0.hasPrefix("fpr:") }?
            .split(separator: ":", omittingEmptySubsequences: false)[9]))
        keyring = keys.appendingPathComponent("trusted.gpg").path
        try tool("/usr/bin/gpg", ["--batch", "--output", keyring, "--export", carolFingerprint], environment: gpgEnv)
    }

    enum Signer { case none, ssh(String), openPGP }

    /// Writes `files` and commits them, signed as asked.
    @discardableResult
    func commit(_ files: [String: String], _ signer: Signer, message: String = "change") throws -> String {
        for (path, text) in files {
            let url = repo.dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try repo.git("add", "-A")
        var arguments = ["-C", repo.dir.path]
        switch signer {
        case .none: arguments += ["commit", "--no-gpg-sign"]
        case .ssh(let key): arguments += ["-c", "gpg.format=ssh", "-c", "user.signingkey=\(key)", "commit", "-S"]
        case .openPGP: arguments += ["-c", "gpg.format=openpgp", "-c", "user.signingkey=\(carolFingerprint)", "commit", "-S"]
        }
        try tool("/usr/bin/git", arguments + ["-q", "-m", message], environment: ["GNUPGHOME": gnupgHome])
        return try repo.git("rev-parse", "HEAD")
    }

    var flags: [String] { ["--allowed-signers", allowedSigners, "--openpgp-keyring", keyring] }

    func remove() {
        _ = try? tool("/usr/bin/gpgconf", ["--kill", "all"], environment: ["GNUPGHOME": gnupgHome])
        try? FileManager.default.removeItem(at: keys)
        repo.remove()
    }
}

@Suite("Signed commits through plan --repo, apply --repo and beamsync run", .serialized,
       .requires(.postgres), .enabled(if: signingTools || TestServices.required, "needs gpg, gpgv and ssh-keygen"))
struct CommitSigningProcessTests {
    @Test("plan --repo --verify-commits head: SSH and OpenPGP signatures by trusted keys pass and show their signer; unsigned and unknown keys exit 1")
    func planVerifiesTheHead() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let signed = try SignedRepository()
        defer { signed.remove() }
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1", "HOME": signed.keys.path]
        func plan(_ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
            try runBeamsync(["plan", "--repo", signed.repo.url, "--ref", "main", "--verify-commits", "head"] + signed.flags + extra, environment: env)
        }
        let sshCommit = try signed.commit(["profiles/a.yaml": restProfile("a", port: 8001)], .ssh(signed.alice))
        var r = try plan()
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("commit \(sshCommit.prefix(12)) signed by alice@example.org (SSH key SHA256:"), "\(r.stdout)")

        let pgpCommit = try signed.commit(["profiles/a.yaml": restProfile("a", port: 8002)], .openPGP)
        r = try plan(["--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let signatures = try JSONValue.parse(r.stdout)["commit_signatures"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(signatures.count == 1 && signatures[0].contains("\(pgpCommit.prefix(12)) signed by Carol Signer <carol@example.org>")
                && signatures[0].contains(signed.carolFingerprint), "\(signatures)")

        let unsigned = try signed.commit(["profiles/a.yaml": restProfile("a", port: 8003)], .none)
        r = try plan()
        #expect(r.status == 1 && r.stderr.contains("commit \(unsigned.prefix(12)) (\(unsigned)) is not signed"), "\(r.stderr)")

        let unknown = try signed.commit(["profiles/a.yaml": restProfile("a", port: 8004)], .ssh(signed.mallory))
        r = try plan()
        #expect(r.status == 1 && r.stderr.contains("commit \(unknown.prefix(12)) (\(unknown)) is signed by a key that is not trusted (key SHA256:"),
                "\(r.stderr)")
        r = try runBeamsync(["apply", "--repo", signed.repo.url, "--ref", "main", "--auto-approve", "--verify-commits", "head"] + signed.flags,
                            environment: env)
        #expect(r.status == 1 && r.stderr.contains("is signed by a key that is not trusted"), "\(r.stderr)")
        #expect(try await profilePort(db.url, "a") == nil, "nothing of an unverified revision is applied")

        r = try runBeamsync(["plan", "--dir", signed.repo.dir.path, "--verify-commits", "head"], environment: env)
        #expect(r.status != 0 && r.stderr.contains("need --repo"))
        try? await db.drop()
    }

    @Test("beamsync.yaml can require signatures without any flag, and a commit that switches them off is still checked")
    func repositoryPolicyRequiresSignatures() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let signed = try SignedRepository()
        defer { signed.remove() }
        let policy = "apiVersion: beamsync.dev/v1\nkind: RepositoryPolicy\nverification:\n  mode: head\n"
            + "  ssh_allowed_signers: \(signed.allowedSigners)\n"
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        let good = try signed.commit(["beamsync.yaml": policy, "profiles/a.yaml": restProfile("a", port: 8001)], .ssh(signed.alice))
        var r = try runBeamsync(["plan", "--repo", signed.repo.url, "--ref", "main"], environment: env)
        #expect(r.status == 0 && r.stdout.contains("commit \(good.prefix(12)) signed by alice@example.org"), "\(r.stdout)\(r.stderr)")
        let unsignedUnderPolicy = try signed.commit(["profiles/a.yaml": restProfile("a", port: 8002)], .none)
        r = try runBeamsync(["apply", "--repo", signed.repo.url, "--ref", "main", "--auto-approve"], environment: env)
        #expect(r.status == 1 && r.stderr.contains("commit \(unsignedUnderPolicy.prefix(12)) (\(unsignedUnderPolicy)) is not signed"),
                "\(r.stderr)")
        #expect(try await profilePort(db.url, "a") == nil)

        // Once the controller has applied a signed revision, an unsigned commit that also removes the
        // policy is verified at the level of the applied revision.
        let resigned = try signed.commit(["profiles/a.yaml": restProfile("a", port: 8003)], .ssh(signed.alice))
        let controller = try ControllerProcess(repo: signed.repo.url, databaseURL: db.url, interval: "500ms")
        defer { controller.terminate() }
        #expect(try await eventually(20) { try await sourceStatus(db.url)?.lastAppliedRevision == resigned }, "\(controller.logText)")
        let lowering = try signed.commit(["beamsync.yaml": "apiVersion: beamsync.dev/v1\nkind: RepositoryPolicy\n",
                                          "profiles/a.yaml": restProfile("a", port: 8004)], .none)
        #expect(try await eventually(20) { try await sourceStatus(db.url)?.reason == .verificationFailed }, "\(controller.logText)")
        #expect(try await sourceStatus(db.url)?.message?.contains("commit \(lowering.prefix(12)) (\(lowering)) is not signed") == true)
        #expect(try await profilePort(db.url, "a") == 8003)
        try? await db.drop()
    }

    @Test("the pull-request review shows who signed the head")
    func reviewShowsSigners() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let signed = try SignedRepository()
        defer { signed.remove() }
        try signed.commit(["profiles/a.yaml": restProfile("a", port: 8001)], .ssh(signed.alice))
        try signed.repo.git("checkout", "-q", "-b", "feature")
        let head = try signed.commit(["profiles/a.yaml": restProfile("a", port: 8002)], .openPGP)
        let r = try runBeamsync(["plan", "--repo", signed.repo.url, "--ref", "feature", "--base", "main", "--format", "markdown",
                                 "--verify-commits", "head"] + signed.flags,
                                environment: ["DATABASE_URL": db.url, "NO_COLOR": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Signatures verified: commit \(head.prefix(12)) signed by Carol Signer"), "\(r.stdout)")
        try? await db.drop()
    }

    @Test("beamsync run --verify-commits all: an unsigned commit stalls the source with VerificationFailed, also under a signed one, and nothing is applied")
    func controllerVerifiesEveryNewCommit() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let signed = try SignedRepository()
        defer { signed.remove() }
        let first = try signed.commit(["profiles/a.yaml": restProfile("a", port: 8001)], .ssh(signed.alice))
        let controller = try ControllerProcess(repo: signed.repo.url, databaseURL: db.url, interval: "500ms",
                                               extra: ["--verify-commits", "all"] + signed.flags)
        defer { controller.terminate() }
        #expect(try await eventually(20) { try await sourceStatus(db.url)?.lastAppliedRevision == first }, "\(controller.logText)")
        #expect(try await sourceStatus(db.url)?.message?.contains("signed by alice@example.org") == true)

        let unsigned = try signed.commit(["profiles/a.yaml": restProfile("a", port: 9001)], .none, message: "unsigned")
        let signedAfter = try signed.commit(["profiles/b.yaml": restProfile("b", port: 9002)], .openPGP, message: "signed on top")
        #expect(try await eventually(20) {
            let s = try await sourceStatus(db.url)
            return s?.reason == .verificationFailed && s?.lastAttemptedRevision == signedAfter
        }, "\(controller.logText)")
        let status = try #require(try await sourceStatus(db.url))
        #expect(status.status == .stalled)
        #expect(status.message?.contains("commit \(unsigned.prefix(12)) (\(unsigned)) is not signed") == true, "\(status.message ?? "")")
        #expect(status.message?.contains(signedAfter.prefix(12)) == true, "the failure names the revision: \(status.message ?? "")")
        let (portA, portB) = (try await profilePort(db.url, "a"), try await profilePort(db.url, "b"))
        #expect(portA == 8001 && portB == nil, "nothing is applied")
        try? await db.drop()
    }
}
