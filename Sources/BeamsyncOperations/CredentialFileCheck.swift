import Foundation

/// A secret file (token, SSH key, passphrase, plan key) that production refuses.
public struct CredentialFileRefused: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

/// beampipe's production rule for files holding secrets, applied to beamsync's token and key
/// files: with `BEAMPIPE_ENV=production` a file that group or others may access, or a symbolic
/// link, is refused with the same wording beampipe uses for SSH keys. Outside production
/// nothing is checked (developers' keys are often shared with their group).
public enum CredentialFileCheck {
    public static let environmentVariable = "BEAMPIPE_ENV"

    public static func isProduction(_ environment: [String: String]) -> Bool {
        // The values beampipe (and BeamsyncSSH) read as production.
        ["production", "prod"].contains(environment[environmentVariable]?.trimmingCharacters(in: .whitespaces).lowercased() ?? "")
    }

    /// `what` names the file in the message (`--token-file`, `the SSH private key`).
    public static func check(_ path: String, what: String,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws(CredentialFileRefused) {
        guard isProduction(environment) else { return }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw CredentialFileRefused(message: "\(what) \(path) cannot be read: \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFLNK {
            throw CredentialFileRefused(message: "\(what) \(path) is a symbolic link; in production (\(environmentVariable)=production) "
                + "secret files must be regular files: give the path of the file itself")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CredentialFileRefused(message: "\(what) \(path) is not a regular file")
        }
        let permissions = info.st_mode & 0o777
        if permissions & 0o077 != 0 {
            throw CredentialFileRefused(message: "\(what) \(path) must not be readable by group or others (mode "
                + String(format: "%04o", permissions) + "); run chmod 600 \(path)")
        }
    }
}
