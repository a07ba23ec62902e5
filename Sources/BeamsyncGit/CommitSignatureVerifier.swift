import Foundation

/// Trusted keys, from files the operator controls outside the repository.
public struct CommitTrust: Sendable, Hashable {
    /// An OpenSSH allowed_signers file (ssh-keygen(1), ALLOWED SIGNERS) for SSH signatures.
    public var sshAllowedSigners: String?
    /// An OpenPGP keyring (binary, keybox, or ASCII-armored export) for OpenPGP signatures.
    public var openPGPKeyring: String?

    public init(sshAllowedSigners: String? = nil, openPGPKeyring: String? = nil) {
        self.sshAllowedSigners = sshAllowedSigners
        self.openPGPKeyring = openPGPKeyring
    }

    public var isEmpty: Bool { sshAllowedSigners == nil && openPGPKeyring == nil }
}

/// Verifies commit signatures against trusted keys with the system's tools, as git does:
/// `ssh-keygen -Y find-principals` / `-Y verify` for SSH signatures and `gpgv` for OpenPGP ones.
///
/// Creating a verifier reads the key files once (a snapshot for its lifetime) and finds the
/// tools; both fail early with a `CommitVerificationError` that says what to fix. The tools run
/// without a shell, in a private HOME/GNUPGHOME that is removed with the verifier, with a clean
/// environment, a deadline and bounded output. Create one per reconcile pass so edits to the
/// key files are picked up.
public final class CommitSignatureVerifier: Sendable {
    public struct Options: Sendable {
        /// Deadline of each tool run.
        public var toolTimeout: Duration = .seconds(10)
        /// Commits verified at once (each runs its own tool processes).
        public var parallelism: Int = 4
        /// Mode `all` refuses to check more commits than this in one revision.
        public var maxCommits: Int = 10_000
        /// Bytes kept of each tool's stdout and stderr.
        public var outputLimit: Int = 64 << 10
        /// Directories searched for ssh-keygen and gpgv; nil means PATH, then /usr/bin and /bin.
        public var toolSearchPath: [String]?

        public init() {}
    }

    public let trust: CommitTrust
    public let options: Options
    private let workspace: VerificationWorkspace
    private let ssh: SSHSignatureCheck?
    private let openPGP: OpenPGPSignatureCheck?

    /// - Parameter origins: who named each key file, for messages (default "operator configuration").
    public init(trust: CommitTrust, options: Options = Options(),
                sshOrigin: String = "operator configuration", openPGPOrigin: String = "operator configuration") throws {
        self.trust = trust
        self.options = options
        let search = options.toolSearchPath ?? SignatureTool.defaultSearchPath
        // Tools and key files are checked before anything is created.
        let sshKeygen = try trust.sshAllowedSigners.map { _ in try SignatureTool.sshKeygen.locate(in: search) }
        let gpgv = try trust.openPGPKeyring.map { _ in try SignatureTool.gpgv.locate(in: search) }
        let allowedSigners = try trust.sshAllowedSigners.map { try TrustedKeyFiles.allowedSigners($0, origin: sshOrigin) }
        let keyring = try trust.openPGPKeyring.map { try TrustedKeyFiles.openPGPKeyring($0, origin: openPGPOrigin) }

        let workspace = try VerificationWorkspace()
        let runner = ToolRunner(workspace: workspace, timeout: options.toolTimeout, outputLimit: options.outputLimit)
        if let sshKeygen, let allowedSigners, let source = trust.sshAllowedSigners {
            ssh = SSHSignatureCheck(sshKeygen: sshKeygen, allowedSigners: try workspace.write(allowedSigners, named: "allowed_signers"),
                                    sourcePath: source, runner: runner)
        } else {
            ssh = nil
        }
        if let gpgv, let keyring {
            openPGP = OpenPGPSignatureCheck(gpgv: gpgv, keyring: try workspace.write(keyring, named: "trusted-keyring.gpg"),
                                            gnupgHome: workspace.gnupgHome, runner: runner)
        } else {
            openPGP = nil
        }
        self.workspace = workspace
    }

    /// The private HOME/GNUPGHOME of the tools (removed with the verifier).
    var workspacePath: String { workspace.path }

    /// Verifies one commit's signature (nil: the commit is unsigned). Never throws: a tool
    /// that fails makes the commit fail with `.verifierFailed` and the tool's explanation.
    public func verify(_ signature: CommitSignature?, commit: GitCommitID) async -> CommitVerification {
        guard let signature else {
            return CommitVerification(commit: commit, format: nil, signer: nil, keyFingerprint: nil, outcome: .failed(.unsigned))
        }
        let fingerprint = signature.format == .ssh ? SSHSignatureKey(armored: signature.armored)?.fingerprint : nil
        func refuse(_ reason: CommitVerificationReason) -> CommitVerification {
            CommitVerification(commit: commit, format: signature.format, signer: nil, keyFingerprint: fingerprint,
                               outcome: .failed(reason))
        }
        switch signature.format {
        case .x509, .unknown:
            return refuse(.unsupportedFormat(signature.format))
        case .ssh where ssh == nil, .openpgp where openPGP == nil:
            return refuse(.noKeysForFormat(signature.format))
        case .ssh, .openpgp:
            break
        }
        let name = commit.hex + "-" + UUID().uuidString.prefix(8)
        let signatureFile: String, payloadFile: String
        do {
            signatureFile = try workspace.write(Data(signature.armored.utf8), named: name + ".sig")
            payloadFile = try workspace.write(signature.payload, named: name + ".payload")
        } catch {
            return CommitVerification(commit: commit, format: signature.format, signer: nil, keyFingerprint: fingerprint,
                                      outcome: .failed(.verifierFailed), detail: "\(error)")
        }
        defer {
            workspace.remove(signatureFile)
            workspace.remove(payloadFile)
        }
        if signature.format == .ssh, let ssh {
            return await ssh.verify(signature, signatureFile: signatureFile, payloadFile: payloadFile)
        }
        return await openPGP!.verify(signature, signatureFile: signatureFile, payloadFile: payloadFile)
    }

    /// Verifies what `mode` requires before `head` is applied: `head` alone, or (`all`) every
    /// commit reachable from `head` and not from `base`, the last applied revision (all parents
    /// of merges; `head` itself always; `head` alone when nothing was applied yet). Throws only
    /// when the commits cannot be listed; a commit that does not verify is in the report.
    public func verify(head: GitCommitID, base: GitCommitID?, mode: CommitVerificationMode,
                       in mirror: GitMirror) async throws -> CommitVerificationReport {
        let start = ContinuousClock.now
        let ids: [GitCommitID]
        switch mode {
        case .none:
            return CommitVerificationReport(mode: mode, head: head, base: base, commits: [], duration: .zero)
        case .head:
            ids = [head]
        case .all:
            ids = base == nil ? [head] : try mirror.commits(reachableFrom: head, excluding: base, limit: options.maxCommits)
        }
        let signatures = try ids.map { try mirror.signature(of: $0) }
        let results = await verifyAll(Array(zip(ids, signatures)))
        return CommitVerificationReport(mode: mode, head: head, base: mode == .all ? base : nil, commits: results,
                                        duration: ContinuousClock.now - start)
    }

    /// Verifies commits with at most `options.parallelism` at once, keeping their order.
    private func verifyAll(_ commits: [(GitCommitID, CommitSignature?)]) async -> [CommitVerification] {
        var results = [CommitVerification?](repeating: nil, count: commits.count)
        await withTaskGroup(of: (Int, CommitVerification).self) { group in
            var next = 0
            func startNext() {
                guard next < commits.count else { return }
                let index = next
                let (id, signature) = commits[index]
                next += 1
                group.addTask { (index, await self.verify(signature, commit: id)) }
            }
            for _ in 0..<max(1, options.parallelism) { startNext() }
            for await (index, result) in group {
                results[index] = result
                startNext()
            }
        }
        return results.map { $0! }
    }
}
