import BeamsyncSSH
import Foundation

/// A secret file (token, SSH key, passphrase, plan key) that production refuses.
public struct CredentialFileRefused: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

/// The secret files beamsync's own flags name (`--token-file`, `--ssh-key-file`, the webhook
/// secrets, `--plan-key-file`) under the one rule every secret file follows, `SecretFileCheck`.
/// The commands refuse them only in production (`BEAMPIPE_ENV=production`, read as BeamsyncSSH
/// reads it): developers' files are often shared with their group, and `beamsync security check`
/// reports such files in every environment. SSH keys a profile uses are refused everywhere by
/// `SSHKeyResolver`, as OpenSSH would.
public enum CredentialFileCheck {
    public static let environmentVariable = SSHPolicyVariable.environment

    public static func isProduction(_ environment: [String: String]) -> Bool {
        SSHPolicyEnvironment(environment).isProduction
    }

    /// `flag` names the setting that points at the file (`--token-file`); the file's contents are
    /// never read or quoted here.
    public static func check(_ path: String, what flag: String,
                             environment: [String: String] = ProcessInfo.processInfo.environment,
                             fileSystem: any FileSystemFacts = LocalFileSystem()) throws(CredentialFileRefused) {
        guard isProduction(environment) else { return }
        let findings = SecretFileCheck(production: true, fileSystem: fileSystem).check(path: path, variable: flag, kind: "secret")
        guard !findings.isEmpty else { return }
        // Every problem with its fix, so one run shows all that must change.
        throw CredentialFileRefused(message: findings.map { "\($0.message); \($0.fix)" }.joined(separator: "; also "))
    }
}
