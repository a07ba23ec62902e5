import Foundation

/// Which commits must carry a trusted signature before beamsync applies a revision.
public enum CommitVerificationMode: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// No verification.
    case none
    /// Only the commit being applied.
    case head
    /// Every commit reachable from the commit being applied and not from the last applied
    /// one (merges and all their parents included), and always the commit being applied.
    /// The first apply (no revision applied yet) verifies the commit being applied only:
    /// history from before beamsync applied anything is not judged.
    case all

    private var strictness: Int {
        switch self {
        case .none: 0
        case .head: 1
        case .all: 2
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.strictness < rhs.strictness }
}

/// Why a commit did not verify.
public enum CommitVerificationReason: Sendable, Hashable, CustomStringConvertible {
    /// The commit has no signature.
    case unsigned
    /// No trusted key matches: no principal in allowed_signers, or the key is not in the keyring.
    case unknownKey
    /// The signature does not match the commit (tampered content or signature), or was not
    /// made for git (SSH namespace).
    case badSignature
    /// The key was outside its validity window (SSH: allowed_signers `valid-after` /
    /// `valid-before` at the committer time), or the OpenPGP key or signature has expired.
    case expired
    /// The OpenPGP key has been revoked.
    case revoked
    /// The allowed_signers entry restricts the key to other namespaces (`namespaces="..."`
    /// without `git`).
    case namespaceNotAllowed
    /// X.509 or an unrecognised signature: beamsync verifies SSH and OpenPGP signatures only.
    case unsupportedFormat(CommitSignatureFormat)
    /// The commit is signed in a format for which no trusted keys are configured.
    case noKeysForFormat(CommitSignatureFormat)
    /// The verification tool failed (timed out, crashed, unexpected answer).
    case verifierFailed

    /// A stable identifier for logs, JSON and metrics.
    public var code: String {
        switch self {
        case .unsigned: "unsigned"
        case .unknownKey: "unknown_key"
        case .badSignature: "bad_signature"
        case .expired: "expired"
        case .revoked: "revoked"
        case .namespaceNotAllowed: "namespace_not_allowed"
        case .unsupportedFormat: "unsupported_format"
        case .noKeysForFormat: "no_keys_for_format"
        case .verifierFailed: "verifier_failed"
        }
    }

    public var description: String {
        switch self {
        case .unsigned: "is not signed"
        case .unknownKey: "is signed by a key that is not trusted"
        case .badSignature: "has a bad signature"
        case .expired: "is signed by a key that was not valid (expired)"
        case .revoked: "is signed by a revoked key"
        case .namespaceNotAllowed: "is signed by a key that allowed_signers does not allow for git signatures"
        case .unsupportedFormat(let format): "is signed with \(format), which beamsync does not verify (use SSH or OpenPGP)"
        case .noKeysForFormat(let format): "is signed with \(format), but no trusted \(format) keys are configured"
        case .verifierFailed: "could not be verified"
        }
    }
}

/// The verification of one commit.
public struct CommitVerification: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case verified
        case failed(CommitVerificationReason)
    }

    public let commit: GitCommitID
    /// nil for an unsigned commit.
    public let format: CommitSignatureFormat?
    /// The SSH principal from allowed_signers or the OpenPGP user id, when known.
    public let signer: String?
    /// `SHA256:...` for SSH keys; the 40-digit primary key fingerprint (or the 16-digit key id
    /// when gpgv gives no more) for OpenPGP keys.
    public let keyFingerprint: String?
    public let outcome: Outcome
    /// The verifier's own explanation of a failure (one line, for operators).
    public let detail: String?

    public init(commit: GitCommitID, format: CommitSignatureFormat?, signer: String?, keyFingerprint: String?,
                outcome: Outcome, detail: String? = nil) {
        self.commit = commit
        self.format = format
        self.signer = signer
        self.keyFingerprint = keyFingerprint
        self.outcome = outcome
        self.detail = detail
    }

    public var isVerified: Bool { outcome == .verified }

    public var reason: CommitVerificationReason? {
        if case .failed(let reason) = outcome { return reason }
        return nil
    }

    /// One line naming the commit (short and full id), the result, the key and the signer.
    public var summary: String {
        var text = "commit \(commit.short) (\(commit.hex)) "
        switch outcome {
        case .verified: text += "has a good \(format?.description ?? "") signature"
        case .failed(let reason): text += reason.description
        }
        var about: [String] = []
        if let keyFingerprint { about.append("key \(keyFingerprint)") }
        if let signer { about.append(isVerified ? "signer \(signer)" : "claimed signer \(signer)") }
        if !about.isEmpty { text += " (" + about.joined(separator: ", ") + ")" }
        if let detail, !isVerified { text += ": " + detail }
        return text
    }
}

/// The verification of every commit a mode requires, and the overall verdict.
public struct CommitVerificationReport: Sendable, Hashable {
    public let mode: CommitVerificationMode
    public let head: GitCommitID
    /// The last applied revision the `all` mode counted from; nil for `head` and first applies.
    public let base: GitCommitID?
    /// Newest first; empty only for mode `none`.
    public let commits: [CommitVerification]
    public let duration: Duration

    public enum Verdict: String, Sendable, Hashable {
        case verified, failed, notRequired = "not_required"
    }

    public var verdict: Verdict {
        if mode == .none { return .notRequired }
        return commits.allSatisfy(\.isVerified) ? .verified : .failed
    }

    public var failures: [CommitVerification] { commits.filter { !$0.isVerified } }

    /// Throws `CommitVerificationFailed` unless the verdict is verified or not required.
    public func requireVerified() throws {
        if verdict == .failed { throw CommitVerificationFailed(report: self) }
    }
}

/// A revision whose commits did not all verify. The message names every failing commit.
public struct CommitVerificationFailed: Error, Sendable, CustomStringConvertible, LocalizedError {
    public let report: CommitVerificationReport

    /// Failures listed in full; further ones are counted.
    static let listed = 10

    public var description: String {
        let failures = report.failures
        var lines: [String]
        if report.mode == .all {
            let since = report.base.map { "the last applied revision \($0.short)" } ?? "nothing applied yet"
            lines = ["commit signature verification (mode all) failed for \(failures.count) of \(report.commits.count) "
                + "commit\(report.commits.count == 1 ? "" : "s") between \(since) and \(report.head.short):"]
        } else {
            lines = ["commit signature verification (mode \(report.mode.rawValue)) failed for \(report.head.short):"]
        }
        lines += failures.prefix(Self.listed).map { "  " + $0.summary }
        if failures.count > Self.listed { lines.append("  ... and \(failures.count - Self.listed) more") }
        return lines.joined(separator: "\n")
    }

    public var errorDescription: String? { description }
}
