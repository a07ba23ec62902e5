import BeamsyncModel
import Foundation

/// One SHA-256 over everything a plan asks the database to hold: every desired object's kind,
/// name, `spec_sha256` and pinned graph hash, the objects it prunes, and the planning options. A
/// saved plan records it; `apply --plan` recomputes it from the plan's changes, so an object
/// added, removed, renamed or turned into a deletion after planning no longer adds up.
public enum DesiredDigest {
    /// The digest of `changes` (every change but a deletion stands for one desired object; a
    /// deletion names the object it prunes) and `options`.
    public static func of(changes: [ResourceChange], options: PlanOptions) -> String {
        var lines: [String] = []
        lines.reserveCapacity(changes.count)
        for c in changes {
            let fields = c.action == .delete ? ["delete", c.kind.rawValue, c.name] : [c.kind.rawValue, c.name, c.afterSHA256 ?? "", c.graphSHA256 ?? ""]
            lines.append(fields.map(escape).joined(separator: "\t"))
        }
        lines.sort()
        let optionsLine = JSONValue.object([
            "prune": .bool(options.prune), "heal": .bool(options.heal), "adopt": .bool(options.adopt),
            "max_deletions": .int(Int64(options.maxDeletions)), "protected_profiles": .array(options.protectedProfiles.sorted().map(JSONValue.string)),
        ]).canonicalString
        var bytes = Array("beamsync-desired-v1\n".utf8)
        bytes += Array(optionsLine.utf8)
        for line in lines {
            bytes.append(0x0A)
            bytes += Array(line.utf8)
        }
        return SHA256Digest.hex(bytes)
    }

    /// Tabs, newlines and backslashes escaped, so no two different entries join to the same text.
    private static func escape(_ field: String) -> String {
        guard field.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\\" }) else { return field }
        return field.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\t", with: "\\t")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// The signature of a saved plan: an HMAC-SHA256, keyed with the operator's plan key, over the
/// plan file's canonical JSON without this envelope.
public struct PlanSignature: Sendable, Hashable, Codable {
    public static let hmacSHA256 = "hmac-sha256"

    public var algorithm: String
    /// Names the key (a hash of it), so a refused plan can say whether another key signed it.
    public var keyID: String
    /// The MAC, hex.
    public var value: String

    enum CodingKeys: String, CodingKey {
        case algorithm, keyID = "key_id", value
    }

    public init(algorithm: String = PlanSignature.hmacSHA256, keyID: String, value: String) {
        self.algorithm = algorithm
        self.keyID = keyID
        self.value = value
    }
}
