import Foundation

/// The `verification` section of one commit's beamsync.yaml (the model's
/// `RepositoryPolicy.Verification`, without the model's types).
public struct RepositoryVerificationSettings: Sendable, Hashable {
    public var mode: CommitVerificationMode
    public var sshAllowedSigners: String?
    public var openPGPKeyring: String?

    public init(mode: CommitVerificationMode = .none, sshAllowedSigners: String? = nil, openPGPKeyring: String? = nil) {
        self.mode = mode
        self.sshAllowedSigners = sshAllowedSigners
        self.openPGPKeyring = openPGPKeyring
    }

    var trust: CommitTrust { CommitTrust(sshAllowedSigners: sshAllowedSigners, openPGPKeyring: openPGPKeyring) }
}

/// What the operator configured with flags or environment (`--verify-commits`,
/// `--allowed-signers`, `--openpgp-keyring`).
public struct OperatorVerificationSettings: Sendable, Hashable {
    /// nil when the operator did not ask for verification.
    public var mode: CommitVerificationMode?
    public var trust: CommitTrust

    public init(mode: CommitVerificationMode? = nil, trust: CommitTrust = CommitTrust()) {
        self.mode = mode
        self.trust = trust
    }
}

/// The verification that applies to one revision, and why.
///
/// The trust rule:
/// - The operator's settings are a floor no repository can lower.
/// - A repository's beamsync.yaml can only make verification stricter. The mode is the
///   strictest of the operator's, the policy at the last applied revision (trusted: it passed
///   whatever verification applied then) and the policy in the commit being applied (which may
///   raise it, never lower it). A commit that turns verification down is itself verified at the
///   old level; its lower level applies from the next revision on.
/// - Keys come from the operator's files whenever the operator gave any; only then are the
///   repository's paths ignored entirely. Otherwise from the files that the policy at the last
///   applied revision names, and only when that names none, from the incoming commit's policy.
///   Repository-named key files must be absolute paths on the beamsync host: keys are never
///   read from the commit being verified.
public struct CommitVerificationRequirement: Sendable, Hashable {
    public enum Origin: String, Sendable, Hashable {
        case operatorSettings = "operator"
        case appliedPolicy = "applied_policy"
        case incomingPolicy = "incoming_policy"
        case defaultSetting = "default"

        public var description: String {
            switch self {
            case .operatorSettings: "the operator's --verify-commits / --allowed-signers / --openpgp-keyring"
            case .appliedPolicy: "beamsync.yaml at the last applied revision"
            case .incomingPolicy: "beamsync.yaml in the commit being applied"
            case .defaultSetting: "the default"
            }
        }
    }

    public let mode: CommitVerificationMode
    public let modeOrigin: Origin
    public let trust: CommitTrust
    /// Who named the key files in `trust`.
    public let trustOrigin: Origin
    /// Settings that were given but not used, one sentence each (for logs and plans).
    public let ignored: [String]

    /// Applies the trust rule. Throws when verification is required but no keys are known, or
    /// when a repository names a key file by a relative path.
    public static func resolve(operator settings: OperatorVerificationSettings,
                               applied: RepositoryVerificationSettings?,
                               incoming: RepositoryVerificationSettings?) throws -> CommitVerificationRequirement {
        var mode = CommitVerificationMode.none
        var modeOrigin = Origin.defaultSetting
        for (candidate, origin) in [(settings.mode, Origin.operatorSettings), (applied?.mode, .appliedPolicy),
                                    (incoming?.mode, .incomingPolicy)] {
            if let candidate, candidate > mode {
                mode = candidate
                modeOrigin = origin
            }
        }

        var ignored: [String] = []
        let trust: CommitTrust
        let trustOrigin: Origin
        let appliedTrust = applied?.trust ?? CommitTrust()
        let incomingTrust = incoming?.trust ?? CommitTrust()
        if !settings.trust.isEmpty {
            (trust, trustOrigin) = (settings.trust, .operatorSettings)
            for (repositoryTrust, origin) in [(appliedTrust, Origin.appliedPolicy), (incomingTrust, .incomingPolicy)] {
                for path in [repositoryTrust.sshAllowedSigners, repositoryTrust.openPGPKeyring].compactMap({ $0 })
                where path != settings.trust.sshAllowedSigners && path != settings.trust.openPGPKeyring {
                    ignored.append("\(origin.description) names the key file \(path); it is not used because the operator's key files are")
                }
            }
        } else if !appliedTrust.isEmpty {
            (trust, trustOrigin) = (appliedTrust, .appliedPolicy)
            if incomingTrust != appliedTrust && !incomingTrust.isEmpty {
                ignored.append("\(Origin.incomingPolicy.description) changes the key files; the change is used from the next revision on, "
                    + "once this commit has been verified with the current ones")
            }
        } else {
            (trust, trustOrigin) = (incomingTrust, incomingTrust.isEmpty ? .defaultSetting : .incomingPolicy)
        }

        if trustOrigin == .appliedPolicy || trustOrigin == .incomingPolicy {
            for path in [trust.sshAllowedSigners, trust.openPGPKeyring].compactMap({ $0 }) where !path.hasPrefix("/") {
                throw CommitVerificationError.keyPathNotAbsolute(path: path, origin: trustOrigin.description)
            }
        }
        if mode != .none && trust.isEmpty {
            throw CommitVerificationError.noKeysConfigured(mode: mode, modeOrigin: modeOrigin.description)
        }
        return CommitVerificationRequirement(mode: mode, modeOrigin: modeOrigin, trust: trust, trustOrigin: trustOrigin,
                                             ignored: ignored)
    }

    /// A verifier for this requirement's keys (nil when the mode is `none`).
    public func makeVerifier(options: CommitSignatureVerifier.Options = .init()) throws -> CommitSignatureVerifier? {
        guard mode != .none else { return nil }
        let origin = trustOrigin.description
        return try CommitSignatureVerifier(trust: trust, options: options, sshOrigin: origin, openPGPOrigin: origin)
    }
}
