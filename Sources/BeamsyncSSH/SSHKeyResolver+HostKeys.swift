import Foundation

extension SSHKeyResolver {
    /// The host-key check for `source` (a known_hosts file, or none), with its findings.
    mutating func resolveHostKeys(_ source: Source?, strict: Bool, slot: SSHCredentialSlot?,
                                          root: String?) -> SSHCredential.HostKeyCheck? {
        let name = target.knownHostsName
        let keyscan = target.port == 22 ? "ssh-keyscan \(target.host)" : "ssh-keyscan -p \(target.port) \(target.host)"
        guard case .file(let path, let variable)? = source else {
            if strict {
                let slotHint = slot.map { slot in root.map { " or install \($0)/\(slot.name)/known_hosts" } ?? "" } ?? ""
                findings.append(SecurityFinding(
                    .knownHostsNotConfigured, subject: SSHPolicyVariable.knownHostsSource,
                    problem: "no known_hosts file is configured, so the host key of \(target.endpoint) cannot be checked",
                    fix: "set \(SSHPolicyVariable.knownHostsSource) to a file with a plain entry for \(name)\(slotHint) "
                        + "(`\(keyscan)`, after checking the fingerprint with the cluster's administrators)"))
                return nil
            }
            findings.append(SecurityFinding(.anyHostKeyAccepted, .warning, subject: SSHPolicyVariable.knownHostsSource,
                                            problem: "no known_hosts file is configured: any host key is accepted",
                                            fix: "set \(SSHPolicyVariable.knownHostsSource) to a known_hosts file with a plain entry for \(name)"))
            return .acceptAny
        }
        let subject = SecretFileCheck.subject(path: path, variable: variable)
        guard let facts = policy.fileSystem.facts(at: path), facts.kind != .missing else {
            findings.append(SecurityFinding(.knownHostsMissing, subject: subject, problem: "the known_hosts file does not exist",
                                            fix: "create it with a plain entry for \(name) (`\(keyscan)`, after checking the fingerprint)"))
            return nil
        }
        let text: String
        do throws(FileReadError) {
            guard facts.kind == .regular else { throw FileReadError(reason: facts.kind == .directory ? "it is a directory" : "it is not a regular file") }
            text = String(decoding: try policy.fileSystem.read(path, limit: 4 << 20), as: UTF8.self)
        } catch {
            findings.append(SecurityFinding(.knownHostsUnreadable, subject: subject, problem: "the known_hosts file cannot be read (\(error.reason))",
                                            fix: "point it at a readable known_hosts file"))
            return nil
        }
        let before = findings.count
        let knownHosts = KnownHosts(text: text)
        for invalid in knownHosts.invalidLines {
            findings.append(SecurityFinding(.knownHostsInvalidLine, subject: subject,
                                            problem: "line \(invalid.line) is not a known_hosts entry (\(invalid.reason))",
                                            fix: "correct or remove line \(invalid.line)"))
        }
        if !knownHosts.hashedEntries.isEmpty {
            let lines = knownHosts.hashedEntries.map(\.line)
            findings.append(SecurityFinding(.knownHostsHashed, subject: subject,
                                            problem: "hashed entries (|1|…) are not accepted (\(Self.lines(lines)))",
                                            fix: "write plain entries (ssh-keyscan without -H) so the trusted hosts can be reviewed"))
        }
        if !knownHosts.markedEntries.isEmpty {
            let lines = knownHosts.markedEntries.map(\.line)
            findings.append(SecurityFinding(.knownHostsMarker, subject: subject,
                                            problem: "@cert-authority and @revoked markers are not supported (\(Self.lines(lines)))",
                                            fix: "remove the marked lines and list the login nodes' host keys themselves"))
        }
        if knownHosts.entries.isEmpty && knownHosts.invalidLines.isEmpty {
            findings.append(SecurityFinding(.knownHostsEmpty, subject: subject, problem: "the known_hosts file has no host keys",
                                            fix: "add a plain entry for \(name) (`\(keyscan)`, after checking the fingerprint)"))
        } else if !knownHosts.entries.isEmpty && knownHosts.entries(for: name).isEmpty {
            findings.append(SecurityFinding(.knownHostsNoEntry, subject: subject,
                                            problem: "no plain entry matches \(name) (login_node \(target.host), ssh_port \(target.port))",
                                            fix: "add one (`\(keyscan)`, after checking the fingerprint with the cluster's administrators)"))
        }
        return findings.count == before ? .knownHosts(path: path) : nil
    }

    static func lines(_ numbers: [Int]) -> String {
        (numbers.count == 1 ? "line " : "lines ") + numbers.map(String.init).joined(separator: ", ")
    }
}
