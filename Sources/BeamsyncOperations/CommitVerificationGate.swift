import BeamsyncGit
import BeamsyncModel
import Foundation

/// Who signed a revision, for the status, the logs and the pull-request review.
public struct VerifiedRevision: Sendable, Hashable {
    public let report: CommitVerificationReport
    /// Settings that were given but not used (a repository naming key files the operator overrides).
    public let ignored: [String]

    /// One line per verified commit: `commit 3f2a9c1b7d10 signed by alice@example.org (SSH key SHA256:...)`.
    public var signers: [String] {
        report.commits.map { c in
            var text = "commit \(c.commit.short) signed by \(c.signer ?? "an unnamed signer")"
            if let key = c.keyFingerprint { text += " (\(c.format?.description ?? "") key \(key))" }
            return text
        }
    }

    /// A short sentence: `2 commits verified (mode all): commit ... signed by ...; ...`.
    public var summary: String {
        "\(report.commits.count) commit\(report.commits.count == 1 ? "" : "s") verified (mode \(report.mode.rawValue)): "
            + signers.joined(separator: "; ")
    }
}

/// Commit-signature verification before a revision is read: the operator's settings, the
/// `verification` section of beamsync.yaml at the last applied revision and in the incoming
/// commit, combined by `CommitVerificationRequirement.resolve` (the operator's flags are a floor).
/// Nothing of the incoming tree but its beamsync.yaml is read before the commits verify.
public struct CommitVerificationGate: Sendable {
    public var settings: OperatorVerificationSettings

    public init(settings: OperatorVerificationSettings = .init()) { self.settings = settings }

    /// Verifies `revision` of the mirror at `mirrorPath` (`subdir`: where beamsync.yaml is).
    /// Returns nil when no verification is required; throws `CommitVerificationFailed` when a
    /// commit does not verify and `CommitVerificationError` when verification cannot run.
    public func verify(mirrorPath: String, subdir: String?, revision: String, lastApplied: String?) async throws -> VerifiedRevision? {
        guard let head = GitCommitID(hex: revision) else { throw GitError.invalidOptions("not a commit id: \(revision)") }
        let base = lastApplied.flatMap(GitCommitID.init(hex:))
        let mirror = try await BlockingWork.run { try GitMirror.open(at: mirrorPath) }
        let (incoming, applied) = try await BlockingWork.run {
            (try Self.policy(in: mirror, at: head, subdir: subdir), try base.map { try Self.policy(in: mirror, at: $0, subdir: subdir) } ?? nil)
        }
        let requirement = try CommitVerificationRequirement.resolve(operator: settings, applied: applied, incoming: incoming)
        guard let verifier = try requirement.makeVerifier() else { return nil }
        let report = try await verifier.verify(head: head, base: base, mode: requirement.mode, in: mirror)
        try report.requireVerified()
        return VerifiedRevision(report: report, ignored: requirement.ignored)
    }

    /// The `verification` section of beamsync.yaml at `commit`; nil when the file is absent or
    /// does not decode (the full validation reports it; a broken file cannot lower the floor).
    static func policy(in mirror: GitMirror, at commit: GitCommitID, subdir: String?) throws -> RepositoryVerificationSettings? {
        // The base may be gone from the mirror; the verifier then reports that itself.
        guard let bytes = try? mirror.file(named: RepositoryPolicy.fileName, at: commit, under: subdir) else { return nil }
        guard let policy = RepositoryPolicy.decode(bytes: [UInt8](bytes)).0 else { return nil }
        let v = policy.verification
        return RepositoryVerificationSettings(mode: CommitVerificationMode(rawValue: v.mode.rawValue) ?? .none,
                                              sshAllowedSigners: v.sshAllowedSigners, openPGPKeyring: v.openPGPKeyring)
    }
}
