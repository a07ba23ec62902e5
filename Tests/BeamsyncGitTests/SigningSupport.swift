@testable import BeamsyncGit
import BeamsyncTestSupport
import Foundation
import Testing

/// `gpg` creates the OpenPGP test keys; it comes from Debian's gnupg package, which
/// scripts/test.sh installs. Without it the OpenPGP tests skip, unless services are required.
let gpgPath = "/usr/bin/gpg"
let gpgAvailable = FileManager.default.isExecutableFile(atPath: gpgPath)
let signingToolsEnabled = TestServices.shouldRun(when: gpgAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-keygen"))

/// An SSH key pair made with ssh-keygen.
struct SSHTestKey {
    let privateKey: String
    let publicKey: String
    /// `type base64` of the public key, as allowed_signers wants it.
    let publicKeyText: String
    /// `SHA256:...` as ssh-keygen -l prints it.
    let fingerprint: String
}

/// An OpenPGP key made with gpg in the lab's private GNUPGHOME (no passphrase).
struct PGPTestKey {
    let userID: String
    let email: String
    let fingerprint: String
}

/// A scratch directory with an upstream repository, real SSH and OpenPGP keys, and helpers
/// that make commits really signed by them (git commit -S), unsigned, or hand-made commit
/// objects (tampered, X.509, signed at a faked time).
struct SigningLab {
    let scratch: Scratch
    let upstream: Upstream
    var gnupgHome: String { scratch.sub("gnupg") }
    private var gitEnvironment: [String: String] { Upstream.environment.merging(["GNUPGHOME": gnupgHome]) { $1 } }

    static func make() async throws -> SigningLab {
        try #require(gpgAvailable, "gpg is not installed (Debian package gnupg); scripts/test.sh installs it")
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.sub("gnupg"), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: scratch.sub("keys"), withIntermediateDirectories: true)
        let upstream = try await Upstream(at: scratch.sub("upstream"))
        return SigningLab(scratch: scratch, upstream: upstream)
    }

    /// Stops the gpg-agent that signing started in this lab's GNUPGHOME and removes everything.
    func close() async {
        _ = try? await run("/usr/bin/gpgconf", ["--kill", "all"], environment: ["GNUPGHOME": gnupgHome])
        scratch.remove()
    }

    // MARK: keys

    func sshKey(_ name: String, type: String = "ed25519") async throws -> SSHTestKey {
        let path = scratch.sub("keys/\(name)")
        try await run("/usr/bin/ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", path])
        let text = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        let fields = text.split(separator: " ")
        let listed = try await run("/usr/bin/ssh-keygen", ["-l", "-f", path + ".pub"]).split(separator: " ")
        return SSHTestKey(privateKey: path, publicKey: path + ".pub", publicKeyText: fields[0...1].joined(separator: " "),
                          fingerprint: String(listed[1]))
    }

    /// Writes an allowed_signers file from `lines` and returns its path.
    func allowedSigners(_ lines: [String], named name: String = "allowed_signers") throws -> String {
        try scratch.write("keys/" + name, lines.joined(separator: "\n") + "\n")
    }

    func gpg(_ arguments: [String], stdin: Data? = nil) async throws -> String {
        try await run(gpgPath, ["--batch", "--quiet", "--no-tty"] + arguments, environment: ["GNUPGHOME": gnupgHome], stdin: stdin)
    }

    /// Generates a signing key; `fakedTime` (YYYYMMDDTHHMMSS) makes it at that time, and
    /// `expiry` is gpg's (`0` never, `1d` a day).
    func gpgKey(name: String, email: String, expiry: String = "0", fakedTime: String? = nil) async throws -> PGPTestKey {
        let userID = "\(name) <\(email)>"
        let faked = fakedTime.map { ["--faked-system-time", $0 + "!"] } ?? []
        try await gpg(faked + ["--passphrase", "", "--quick-gen-key", userID, "ed25519", "sign", expiry])
        let listing = try await gpg(["--with-colons", "--list-keys", email])
        let fingerprint = try #require(listing.split(separator: "\n").first { $0.hasPrefix("fpr:") }?
            .split(separator: ":", omittingEmptySubsequences: false)[9])
        return PGPTestKey(userID: userID, email: email, fingerprint: String(fingerprint))
    }

    /// Exports public keys into a keyring file (armored or binary) and returns its path.
    func exportKeyring(_ keys: [PGPTestKey], armored: Bool, named name: String) async throws -> String {
        let path = scratch.sub("keys/" + name)
        try await gpg((armored ? ["--armor"] : []) + ["--output", path, "--export"] + keys.map(\.fingerprint))
        return path
    }

    // MARK: commits

    /// Stages a change to `file` and commits, signed as `signing` says.
    enum Signing {
        case unsigned
        case ssh(SSHTestKey)
        case openPGP(PGPTestKey)
    }

    @discardableResult
    func commit(_ message: String, _ signing: Signing, file: String? = nil, date: String? = nil) async throws -> GitCommitID {
        try upstream.write(file ?? "profiles/\(UUID().uuidString.prefix(8)).yaml", "name: \(message)\n")
        try await git(["add", "-A"])
        var arguments: [String]
        switch signing {
        case .unsigned: arguments = ["commit", "--no-gpg-sign"]
        case .ssh(let key): arguments = ["-c", "gpg.format=ssh", "-c", "user.signingkey=\(key.privateKey)", "commit", "-S"]
        case .openPGP(let key): arguments = ["-c", "gpg.format=openpgp", "-c", "user.signingkey=\(key.fingerprint)", "commit", "-S"]
        }
        var environment = gitEnvironment
        if let date { environment["GIT_COMMITTER_DATE"] = date; environment["GIT_AUTHOR_DATE"] = date }
        try await run("/usr/bin/git", arguments + ["-q", "-m", message], in: upstream.path, environment: environment)
        return try await upstream.head()
    }

    @discardableResult
    func git(_ arguments: [String], stdin: Data? = nil) async throws -> String {
        try await run("/usr/bin/git", arguments, in: upstream.path, environment: gitEnvironment, stdin: stdin)
    }

    /// The raw text of a commit object.
    func rawCommit(_ id: GitCommitID) async throws -> String {
        try await git(["cat-file", "commit", id.hex]) + "\n"
    }

    /// Writes `text` as a commit object, points `branch` at it and returns its id.
    @discardableResult
    func writeCommit(_ text: String, branch: String = "main") async throws -> GitCommitID {
        let hex = try await git(["hash-object", "-t", "commit", "-w", "--stdin"], stdin: Data(text.utf8))
        try await git(["update-ref", "refs/heads/\(branch)", hex])
        return try #require(GitObjectID(hex: hex))
    }

    /// A commit object's text with `armored` as its gpgsig header (after the committer line).
    static func withSignature(_ payload: String, _ armored: String) -> String {
        var lines = payload.components(separatedBy: "\n")
        let committer = lines.firstIndex { $0.hasPrefix("committer ") }!
        let signature = armored.trimmingCharacters(in: .newlines).components(separatedBy: "\n")
        let header = ["gpgsig " + signature[0]] + signature.dropFirst().map { " " + $0 }
        lines.insert(contentsOf: header, at: committer + 1)
        return lines.joined(separator: "\n")
    }

    /// An unsigned commit object on top of the current head, with a fixed time (seconds).
    func payload(message: String, time: Int64) async throws -> String {
        let tree = try await git(["rev-parse", "HEAD^{tree}"])
        let parent = try await git(["rev-parse", "HEAD"])
        return "tree \(tree)\nparent \(parent)\nauthor Ada Author <ada@example.org> \(time) +0000\n"
            + "committer Cy Committer <cy@example.org> \(time) +0000\n\n\(message)\n"
    }

    /// A mirror of the upstream (cloned the first time, fetched after).
    func mirror() async throws -> GitMirror {
        try await GitMirror.update(url: upstream.url, at: scratch.sub("mirror"))
    }
}

/// Runs `body` with a fresh lab and closes the lab afterwards, also when `body` throws.
func withSigningLab(_ body: (SigningLab) async throws -> Void) async throws {
    let lab = try await SigningLab.make()
    do {
        try await body(lab)
    } catch {
        await lab.close()
        throw error
    }
    await lab.close()
}

/// A verifier for the given key files, failing the test with the error when it cannot be made.
func makeVerifier(ssh: String? = nil, openPGP: String? = nil,
              options: CommitSignatureVerifier.Options = .init()) throws -> CommitSignatureVerifier {
    try CommitSignatureVerifier(trust: CommitTrust(sshAllowedSigners: ssh, openPGPKeyring: openPGP), options: options)
}
