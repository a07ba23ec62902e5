import BeamsyncModel
import BeamsyncPlan
import Crypto
import Foundation

/// The key that signs saved plans (an HMAC-SHA256 key shared by the plan and apply jobs).
public struct PlanSigningKey: Sendable {
    /// The key itself, for CI systems that hand secrets over as variables.
    public static let environmentVariable = "BEAMSYNC_PLAN_KEY"
    static let minimumBytes = 32

    let key: SymmetricKey
    /// A hash of the key: names it in signatures and messages without revealing it.
    public let keyID: String

    public init(secret: [UInt8]) {
        key = SymmetricKey(data: secret)
        keyID = String(SHA256Digest.hex(Array("beamsync-plan-key\n".utf8) + secret).prefix(16))
    }

    /// The key from `--plan-key-file FILE`, else from `BEAMSYNC_PLAN_KEY`; nil when neither is set.
    /// Surrounding whitespace is ignored; at least 32 bytes are required.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PlanSigningKey? {
        let text: String
        let origin: String
        if let file {
            try CredentialFileCheck.check(file, what: "--plan-key-file", environment: environment)
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CredentialFileRefused(message: "--plan-key-file \(file) is missing or unreadable")
            }
            text = String(decoding: data, as: UTF8.self)
            origin = "--plan-key-file \(file)"
        } else if let value = environment[environmentVariable] {
            text = value
            origin = environmentVariable
        } else {
            return nil
        }
        let secret = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard secret.count >= minimumBytes else {
            throw CredentialFileRefused(message: "the plan key from \(origin) is \(secret.count) bytes; at least \(minimumBytes) are needed: "
                + "make one with `openssl rand -hex 32`")
        }
        return PlanSigningKey(secret: secret)
    }

    func mac(_ bytes: [UInt8]) -> String {
        HMAC<SHA256>.authenticationCode(for: bytes, using: key).map { String(format: "%02x", $0) }.joined()
    }
}

/// The saved-plan file: the Plan as sorted, indented JSON, optionally signed. The signature
/// covers the canonical JSON of the whole file except `signature` itself, so every field (also
/// ones a later beamsync adds) is covered.
public enum SavedPlanFile {
    public static func encode(_ plan: Plan) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(plan)) ?? Data(), as: UTF8.self)
    }

    /// `plan` with a signature made with `key`.
    public static func signed(_ plan: Plan, key: PlanSigningKey) -> Plan {
        var unsigned = plan
        unsigned.signature = nil
        let document = (try? JSONValue.parse(encode(unsigned))) ?? .null
        var out = unsigned
        out.signature = PlanSignature(keyID: key.keyID, value: key.mac(document.canonicalBytes))
        return out
    }

    /// Writes the plan, signed when a key is given.
    public static func write(_ plan: Plan, to path: String, key: PlanSigningKey?) throws {
        let toWrite = key.map { signed(plan, key: $0) } ?? plan
        try Data((encode(toWrite) + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads a saved plan. With a key, only a plan signed with that key is accepted; without
    /// one, a signed plan is refused too (it cannot be checked).
    public static func read(_ path: String, key: PlanSigningKey?) throws -> Plan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SavedPlanRejected(path: path, "the plan file cannot be read")
        }
        let plan: Plan
        do {
            plan = try JSONDecoder().decode(Plan.self, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw SavedPlanRejected(path: path, "is not JSON (a plan file is written by `beamsync plan --out FILE`)")
            }
            throw SavedPlanRejected(path: Self.path(of: error), Self.problem(of: error) + " (in the plan file \(path))")
        }
        guard plan.signature != nil || key != nil else { return plan }
        guard let document = try? JSONValue.parse(bytes: [UInt8](data)) else {
            throw SavedPlanRejected(path: path, "is not JSON (a plan file is written by `beamsync plan --out FILE`)")
        }
        try verifySignature(plan.signature, of: document, key: key)
        return plan
    }

    static func verifySignature(_ signature: PlanSignature?, of document: JSONValue, key: PlanSigningKey?) throws(SavedPlanRejected) {
        switch (signature, key) {
        case (nil, nil):
            return
        case (nil, .some):
            throw SavedPlanRejected(path: "signature", "the plan is not signed, and a plan key is configured (--plan-key-file or "
                + "\(PlanSigningKey.environmentVariable)): only plans signed with that key are applied — plan again with the same key")
        case (let signature?, nil):
            throw SavedPlanRejected(path: "signature", "the plan is signed (key \(signature.keyID)) but no plan key is configured to "
                + "check it: give --plan-key-file FILE or set \(PlanSigningKey.environmentVariable)")
        case (let signature?, let key?):
            guard signature.algorithm == PlanSignature.hmacSHA256 else {
                throw SavedPlanRejected(path: "signature.algorithm", "'\(signature.algorithm)' is not supported; plans are signed with hmac-sha256")
            }
            guard signature.keyID == key.keyID else {
                throw SavedPlanRejected(path: "signature.key_id", "the plan was signed with another key (\(signature.keyID)); "
                    + "the configured key is \(key.keyID)")
            }
            guard case .object(var fields) = document else { throw SavedPlanRejected(path: "signature", "the plan is not a JSON object") }
            fields["signature"] = nil
            let expected = key.mac(JSONValue.object(fields).canonicalBytes)
            guard constantTimeEqual(expected, signature.value.lowercased()) else {
                throw SavedPlanRejected(path: "signature.value", "does not match the plan's content: the plan was changed after it was signed")
            }
        }
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// `changes[3].action` from a decoding error's coding path.
    static func path(of error: DecodingError) -> String {
        let context: DecodingError.Context? = switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): c
        case .keyNotFound(let key, let c): DecodingError.Context(codingPath: c.codingPath + [key], debugDescription: c.debugDescription)
        @unknown default: nil
        }
        var out = ""
        for key in context?.codingPath ?? [] {
            if let i = key.intValue { out += "[\(i)]" } else { out += out.isEmpty ? key.stringValue : ".\(key.stringValue)" }
        }
        return out.isEmpty ? "(top level)" : out
    }

    /// What is wrong, without echoing the value found there.
    static func problem(of error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, _): "expected \(type)"
        case .valueNotFound(let type, _): "expected \(type), found null"
        case .keyNotFound: "is missing"
        case .dataCorrupted: "holds a value this beamsync does not know"
        @unknown default: "cannot be read"
        }
    }
}
