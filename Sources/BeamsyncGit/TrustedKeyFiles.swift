import Foundation

/// Reads the operator's key files once, checks that they hold what they should, and returns
/// the bytes the tools will read from the workspace (a snapshot: a file edited during a run
/// does not change the keys half-way).
enum TrustedKeyFiles {
    static let maximumSize = 16 << 20

    static func read(_ path: String, origin: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CommitVerificationError.keyFileUnreadable(path: path, origin: origin, reason: "the file does not exist")
        }
        if isDirectory.boolValue {
            throw CommitVerificationError.keyFileUnreadable(path: path, origin: origin, reason: "it is a directory, not a file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CommitVerificationError.keyFileUnreadable(path: path, origin: origin, reason: "permission denied or I/O error")
        }
        if data.count > maximumSize {
            throw CommitVerificationError.keyFileInvalid(path: path, origin: origin, problem: "is larger than 16 MiB",
                                                         hint: "keep only the keys of the people who sign commits")
        }
        return data
    }

    /// An OpenSSH allowed_signers file: at least one entry (`principals [options] keytype key`).
    static func allowedSigners(_ path: String, origin: String) throws -> Data {
        let data = try read(path, origin: origin)
        let entries = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        if entries.isEmpty {
            throw CommitVerificationError.keyFileInvalid(
                path: path, origin: origin, problem: "has no entries",
                hint: "add one line per signer: `alice@example.org ssh-ed25519 AAAA...` (see ssh-keygen(1), ALLOWED SIGNERS)")
        }
        if entries.contains(where: { $0.contains("PRIVATE KEY") }) {
            throw CommitVerificationError.keyFileInvalid(
                path: path, origin: origin, problem: "contains a private key",
                hint: "list public keys only (the contents of the .pub files); remove the private key and rotate it")
        }
        return data
    }

    /// An OpenPGP keyring as gpgv reads it: binary packets or a keybox, or ASCII-armored
    /// public key blocks, which are converted to binary (what `gpg --dearmor` does).
    static func openPGPKeyring(_ path: String, origin: String) throws -> Data {
        let data = try read(path, origin: origin)
        func invalid(_ problem: String, _ hint: String) -> CommitVerificationError {
            .keyFileInvalid(path: path, origin: origin, problem: problem, hint: hint)
        }
        let export = "export the public keys with `gpg --export KEYID... > FILE` or `gpg --armor --export KEYID... > FILE`"
        if data.isEmpty { throw invalid("is empty", export) }
        let binary: Data
        if OpenPGPArmor.looksArmored(data) {
            do {
                binary = try OpenPGPArmor.dearmorPublicKeys(data)
            } catch let problem as OpenPGPArmor.Problem {
                switch problem {
                case .secretKey:
                    throw invalid("holds a secret key", "give gpgv public keys only: \(export), and rotate the exposed key")
                case .noPublicKeyBlock:
                    throw invalid("has no PGP PUBLIC KEY BLOCK", export)
                case .malformed(let what):
                    throw invalid("is not a valid armored key block (\(what))", export)
                }
            }
        } else {
            binary = data
        }
        switch OpenPGPArmor.binaryKind(binary) {
        case .publicKeys, .keybox:
            return binary
        case .secretKey:
            throw invalid("holds a secret key", "give gpgv public keys only: \(export), and rotate the exposed key")
        case .other:
            throw invalid("is neither an OpenPGP keyring nor an armored public key block", export)
        }
    }
}
