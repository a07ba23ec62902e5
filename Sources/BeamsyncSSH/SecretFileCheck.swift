/// The rules every secret file obeys (SSH keys, passphrase files, webhook secrets, token files):
///   - it exists and is a regular file (all environments);
///   - no group or other permission bits: mode `& 0o077 == 0` (all environments; OpenSSH refuses
///     such keys too);
///   - in production the path is not a symbolic link (a link can be redirected to another file
///     after it was checked) and the file belongs to this process's user or root.
public struct SecretFileCheck: Sendable {
    public let production: Bool
    public let fileSystem: any FileSystemFacts

    public init(production: Bool, fileSystem: any FileSystemFacts = LocalFileSystem()) {
        self.production = production
        self.fileSystem = fileSystem
    }

    /// Findings for the secret file at `path`. `variable` names the setting that points at it
    /// (nil for a fixed location such as a credential slot's file); `kind` names the secret in
    /// messages ("private key", "webhook secret").
    public func check(path: String, variable: String? = nil, kind: String) -> [SecurityFinding] {
        let subject = Self.subject(path: path, variable: variable)
        guard let facts = fileSystem.facts(at: path), facts.kind != .missing else {
            let fix = variable.map { "set \($0) to the path of an existing \(kind) file" } ?? "create \(path) with mode 0600"
            return [SecurityFinding(.secretFileMissing, subject: subject, problem: "the \(kind) file does not exist", fix: fix)]
        }
        var findings: [SecurityFinding] = []
        if facts.isSymlink && production {
            let target = facts.linkTarget.map { " to \($0)" } ?? ""
            let fix = facts.linkTarget.map { "use the file's real path (\($0)) instead of the link" } ?? "use the file's real path instead of the link"
            findings.append(SecurityFinding(.secretFileSymlink, subject: subject,
                                            problem: "the \(kind) path is a symbolic link\(target), which production refuses because a link can be redirected",
                                            fix: fix))
        }
        guard facts.kind == .regular else {
            let what = facts.kind == .directory ? "a directory" : "not a regular file"
            findings.append(SecurityFinding(.secretFileNotRegular, subject: subject, problem: "the \(kind) path is \(what)",
                                            fix: "point it at the \(kind) file itself"))
            return findings
        }
        if facts.mode & 0o077 != 0 {
            findings.append(SecurityFinding(.secretFilePermissions, subject: subject,
                                            problem: "the \(kind) file is readable or writable by group or others (mode \(Self.octal(facts.mode)))",
                                            fix: "chmod 600 \(path)"))
        }
        let uid = fileSystem.effectiveUserID
        if production && facts.owner != uid && facts.owner != 0 {
            findings.append(SecurityFinding(.secretFileOwner, subject: subject,
                                            problem: "the \(kind) file belongs to uid \(facts.owner), not to this process's uid \(uid) or root",
                                            fix: "chown \(uid) \(path)"))
        }
        return findings
    }

    /// Reads a secret file after `check` passed; a read failure becomes a finding.
    public func read(path: String, variable: String? = nil, kind: String, limit: Int = 64 << 10) -> Result<[UInt8], SecurityFinding> {
        do {
            return .success(try fileSystem.read(path, limit: limit))
        } catch {
            return .failure(SecurityFinding(.secretFileUnreadable, subject: Self.subject(path: path, variable: variable),
                                            problem: "the \(kind) file cannot be read (\(error.reason))",
                                            fix: "make it readable by uid \(fileSystem.effectiveUserID)"))
        }
    }

    static func subject(path: String, variable: String?) -> String {
        variable.map { "\($0) (\(path))" } ?? path
    }

    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
