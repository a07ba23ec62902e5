/// A named credential slot: a directory under the credentials root holding one target's key,
/// optional passphrase and optional known_hosts (beampipe's layout, so both read the same slots):
///
///     <root>/<slot>/private_key    the private key (or `slurm_key`), mode 0600
///     <root>/<slot>/passphrase     its passphrase (or `passcode`), trailing CR/LF ignored, mode 0600
///     <root>/<slot>/known_hosts    plain known_hosts entries for the slot's login nodes
///     <root>/known_hosts           shared by every slot without its own
///
/// The root is BEAMSYNC_SSH_CREDENTIALS_DIR, else BEAMPIPE_SSH_CREDENTIALS_DIR, else
/// /run/beampipe/ssh when that directory exists, else ~/.config/beampipe/credentials.
public struct SSHCredentialSlot: Sendable, Hashable {
    public let name: String

    /// nil unless `name` is 1-50 ASCII letters, digits, '.', '_' or '-' without '..' (the rule
    /// profiles are validated with; the name becomes a directory name).
    public init?(_ name: String) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, name.count <= 50, !name.contains(".."), name.allSatisfy(allowed.contains) else { return nil }
        self.name = name
    }

    /// The suffix of the slot's variables: `setonix-prod.v2` → `SETONIX_PROD_V2`.
    public var variableSuffix: String {
        String(name.uppercased().map { $0 == "-" || $0 == "." ? "_" : $0 })
    }

    public func variable(_ base: String) -> String { "\(base)_\(variableSuffix)" }

    public static let keyFiles = ["private_key", "slurm_key"]
    public static let passphraseFiles = ["passphrase", "passcode"]
    public static let knownHostsFile = "known_hosts"

    /// The credentials root for `environment`, checking /run/beampipe/ssh through `fileSystem`.
    public static func root(_ environment: SSHPolicyEnvironment, fileSystem: any FileSystemFacts) -> String? {
        if let dir = environment.value(SSHPolicyVariable.credentialsDirectory) { return dir }
        if let dir = environment.value(SSHPolicyVariable.beampipeCredentialsDirectory) { return dir }
        if fileSystem.facts(at: "/run/beampipe/ssh")?.kind == .directory { return "/run/beampipe/ssh" }
        return fileSystem.homeDirectory.map { "\($0)/.config/beampipe/credentials" }
    }
}
