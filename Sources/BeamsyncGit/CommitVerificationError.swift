import Foundation

/// Commit verification cannot run: a tool, a key file or the configuration is missing or
/// wrong. (A commit that does not verify is a `CommitVerificationFailed`, not this.)
public enum CommitVerificationError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// A verification tool is not installed.
    case toolMissing(tool: String, package: String, purpose: String, searched: [String])
    /// A verification tool is installed but cannot do what is needed.
    case toolUnusable(tool: String, message: String)
    /// A key file cannot be read. `origin` says who named it (a flag, beamsync.yaml).
    case keyFileUnreadable(path: String, origin: String, reason: String)
    /// A key file was read but does not hold what it should.
    case keyFileInvalid(path: String, origin: String, problem: String, hint: String)
    /// A key file named by a repository policy is not an absolute path.
    case keyPathNotAbsolute(path: String, origin: String)
    /// Verification is required but no keys are configured for it.
    case noKeysConfigured(mode: CommitVerificationMode, modeOrigin: String)
    /// The last applied revision is not in the mirror, so the new commits cannot be listed.
    case baseNotFound(base: GitCommitID)
    /// Mode `all` would verify more commits than the limit.
    case tooManyCommits(limit: Int, head: GitCommitID, base: GitCommitID?)
    /// The private working directory for the tools cannot be set up.
    case workspace(String)

    public var description: String {
        switch self {
        case let .toolMissing(tool, package, purpose, searched):
            return "\(purpose) needs \(tool), which was not found (searched \(searched.joined(separator: ":"))): "
                + "install Debian's \(package) package"
        case let .toolUnusable(tool, message):
            return "\(tool) cannot verify commit signatures: \(message)"
        case let .keyFileUnreadable(path, origin, reason):
            return "cannot read \(path) (\(origin)): \(reason)"
        case let .keyFileInvalid(path, origin, problem, hint):
            return "\(path) (\(origin)) \(problem); \(hint)"
        case let .keyPathNotAbsolute(path, origin):
            return "\(origin) names the key file '\(path)', which is not an absolute path; key files must be files "
                + "on the host running beamsync, outside the repository: give an absolute path such as /etc/beamsync/\(Self.lastComponent(path))"
        case let .noKeysConfigured(mode, modeOrigin):
            return "commit verification mode \(mode.rawValue) is required (\(modeOrigin)) but no trusted keys are configured: "
                + "give --allowed-signers FILE (SSH) and/or --openpgp-keyring FILE (OpenPGP)"
        case let .baseNotFound(base):
            return "the last applied revision \(base.short) (\(base.hex)) is not in the git mirror (it was removed from the "
                + "remote before the mirror was created), so the commits since it cannot be listed for verification: "
                + "push that commit to a branch or tag of the remote so the mirror fetches it again"
        case let .tooManyCommits(limit, head, base):
            let since = base.map { "the last applied revision \($0.short)" } ?? "the start of the history"
            return "verification mode all would check more than \(limit) commits between \(since) and \(head.short); "
                + "apply an intermediate commit first (--ref COMMIT) so that each step brings fewer new commits"
        case let .workspace(message):
            return "cannot prepare commit verification: \(message)"
        }
    }

    public var errorDescription: String? { description }

    private static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? "keys"
    }
}
