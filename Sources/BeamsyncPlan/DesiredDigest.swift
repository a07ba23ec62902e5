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
        // Built and sorted as bytes: every plan computes it, and String joins and Unicode-aware
        // comparisons of 10,000 lines cost more than the rest of a no-op plan's bookkeeping.
        var lines: [[UInt8]] = []
        lines.reserveCapacity(changes.count)
        for c in changes {
            var line: [UInt8] = []
            line.reserveCapacity(160)
            if c.action == .delete {
                append(["delete", c.kind.rawValue, c.name], to: &line)
            } else {
                append([c.kind.rawValue, c.name, c.afterSHA256 ?? "", c.graphSHA256 ?? ""], to: &line)
            }
            lines.append(line)
        }
        lines.sort { $0.lexicographicallyPrecedes($1) }
        let optionsLine = JSONValue.object([
            "prune": .bool(options.prune), "heal": .bool(options.heal), "adopt": .bool(options.adopt),
            "max_deletions": .int(Int64(options.maxDeletions)), "protected_profiles": .array(options.protectedProfiles.sorted().map(JSONValue.string)),
        ]).canonicalString
        var bytes = Array("beamsync-desired-v1\n".utf8)
        bytes.reserveCapacity(bytes.count + optionsLine.utf8.count + lines.reduce(0) { $0 + $1.count + 1 })
        bytes += optionsLine.utf8
        for line in lines {
            bytes.append(0x0A)
            bytes += line
        }
        return SHA256Digest.hex(bytes)
    }

    /// Fields joined by tabs, with tabs, newlines and backslashes escaped, so no two different
    /// entries join to the same bytes.
    private static func append(_ fields: [String], to line: inout [UInt8]) {
        for (i, field) in fields.enumerated() {
            if i > 0 { line.append(0x09) }
            for byte in field.utf8 {
                switch byte {
                case 0x5C: line += [0x5C, 0x5C]
                case 0x09: line += [0x5C, 0x74]
                case 0x0A: line += [0x5C, 0x6E]
                default: line.append(byte)
                }
            }
        }
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
