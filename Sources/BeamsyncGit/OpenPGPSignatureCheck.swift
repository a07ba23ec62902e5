import Foundation

/// Verifies OpenPGP commit signatures with gpgv against the operator's keyring:
///
///     gpgv --homedir PRIVATE --keyring KEYRING --status-fd 1 SIG - < PAYLOAD
///
/// Every key in the keyring is trusted (gpgv has no trust database). The verdict comes from
/// the status lines, not the exit status: gpgv exits 0 for a good signature by an expired or
/// revoked key.
struct OpenPGPSignatureCheck: Sendable {
    let gpgv: String
    /// The binary snapshot in the workspace that gpgv reads.
    let keyring: String
    let gnupgHome: String
    let runner: ToolRunner

    func verify(_ signature: CommitSignature, signatureFile: String, payloadFile: String) async -> CommitVerification {
        let run: ToolProcess.Result
        do {
            run = try await runner.run(gpgv, ["--homedir", gnupgHome, "--keyring", keyring, "--status-fd", "1",
                                              signatureFile, "-"], stdin: payloadFile)
        } catch {
            return CommitVerification(commit: signature.commit, format: .openpgp, signer: nil, keyFingerprint: nil,
                                      outcome: .failed(.verifierFailed),
                                      detail: ToolRunner.explain(error, tool: "gpgv", timeout: runner.timeout))
        }
        let status = GPGStatus(run.stdoutText)
        let fingerprint = status.primaryFingerprint ?? status.errorFingerprint ?? status.keyID
        let outcome: CommitVerification.Outcome
        if let reason = status.failure {
            outcome = .failed(reason)
        } else if status.good && status.valid && run.succeeded {
            outcome = .verified
        } else {
            outcome = .failed(.verifierFailed)
        }
        return CommitVerification(commit: signature.commit, format: .openpgp, signer: status.userID,
                                  keyFingerprint: fingerprint, outcome: outcome,
                                  detail: outcome == .verified ? nil : detail(run, status))
    }

    private func detail(_ run: ToolProcess.Result, _ status: GPGStatus) -> String? {
        if status.failure == .unknownKey { return "the key is not in the configured OpenPGP keyring" }
        let lines = run.stderrText.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("gpgv: ") && !$0.contains("Signature made") && !$0.contains("using ") && !$0.contains("issuer ") }
            .map { String($0.dropFirst("gpgv: ".count)) }
        return lines.isEmpty ? nil : lines.joined(separator: "; ")
    }
}

/// The status lines gpgv writes with --status-fd (GnuPG's doc/DETAILS).
struct GPGStatus: Equatable {
    var good = false
    var valid = false
    var userID: String?
    var keyID: String?
    var primaryFingerprint: String?
    var errorFingerprint: String?
    private var bad = false, expired = false, revoked = false, missingKey = false, otherError = false

    init(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 2, fields[0] == "[GNUPG:]" else { continue }
            let arguments = Array(fields.dropFirst(2))
            switch fields[1] {
            case "GOODSIG": good = true; takeKeyAndUser(line)
            case "BADSIG": bad = true; takeKeyAndUser(line)
            case "EXPSIG", "EXPKEYSIG": expired = true; takeKeyAndUser(line)
            case "REVKEYSIG": revoked = true; takeKeyAndUser(line)
            case "VALIDSIG":
                // FPR DATE TIMESTAMP EXPIRE VERSION RESERVED PKALGO HASHALGO CLASS PRIMARY-FPR
                valid = true
                primaryFingerprint = arguments.count >= 10 ? arguments[9] : arguments.first
            case "ERRSIG":
                // KEYID PKALGO HASHALGO CLASS TIME RC [FPR]; RC 9 is "no public key"
                if let key = arguments.first { keyID = key }
                if arguments.count >= 7, arguments[6] != "-" { errorFingerprint = arguments[6] }
                if arguments.count >= 6, arguments[5] == "9" { missingKey = true } else { otherError = true }
            case "NO_PUBKEY": missingKey = true
            default: continue
            }
        }
    }

    /// `[GNUPG:] XSIG KEYID USER ID...` (the user id may contain spaces).
    private mutating func takeKeyAndUser(_ line: Substring) {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        if parts.count >= 3 { keyID = String(parts[2]) }
        if parts.count == 4 { userID = Self.unescape(String(parts[3])) }
    }

    /// The failure the status lines show, the most serious first; nil when there is none.
    var failure: CommitVerificationReason? {
        if bad { return .badSignature }
        if revoked { return .revoked }
        if expired { return .expired }
        if missingKey { return .unknownKey }
        if otherError { return .verifierFailed }
        return nil
    }

    /// Status-line strings escape `%`, control characters and some others as `%XX`. The user id
    /// is the signer's claim: control characters decoded from it are replaced, so it cannot
    /// break a log line.
    static func unescape(_ text: String) -> String {
        var bytes: [UInt8] = []
        var rest = Array(text.utf8)[...]
        while let byte = rest.popFirst() {
            if byte == UInt8(ascii: "%"), rest.count >= 2,
               let value = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                rest = rest.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        let decoded = String(decoding: bytes, as: UTF8.self)
        return String(String.UnicodeScalarView(decoded.unicodeScalars.map {
            $0.properties.generalCategory == .control ? "\u{FFFD}" : $0
        }))
    }
}
