import BeamsyncModel
import BeamsyncStore
import Foundation

/// `spec_sha256` of profile rows by row version. A row's hash is rebuilt from its columns (the
/// stored column is never trusted, as in planning) once per row version: `xmin` changes with any
/// write by anyone, so a cached hash is exact. 52 bytes a row, so 10,000 rows stay under 1 MB.
public final class ProfileHashCache: @unchecked Sendable {
    struct Entry {
        var rowVersion: UInt32
        var digest: (UInt64, UInt64, UInt64, UInt64)
    }

    private let lock = NSLock()
    private var entries: [UUID: Entry] = [:]
    /// Past this many rows the cache starts over (rows that no longer exist are never evicted otherwise).
    let capacity: Int

    public init(capacity: Int = 100_000) { self.capacity = capacity }

    public var count: Int { lock.withLock { entries.count } }

    /// The row's `spec_sha256` in hex.
    func specSHA256(_ row: ProfileRow) throws -> String {
        guard let id = UUID(uuidString: row.id), let version = UInt32(row.rowVersion) else {
            return SHA256Digest.hex(try row.canonicalSpec().canonicalBytes)
        }
        if let hit = lock.withLock({ entries[id] }), hit.rowVersion == version { return Self.hex(hit.digest) }
        let hex = SHA256Digest.hex(try row.canonicalSpec().canonicalBytes)
        if let digest = Self.digest(hex) {
            lock.withLock {
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
                entries[id] = Entry(rowVersion: version, digest: digest)
            }
        }
        return hex
    }

    static func digest(_ hex: String) -> (UInt64, UInt64, UInt64, UInt64)? {
        let bytes = Array(hex.utf8)
        guard bytes.count == 64 else { return nil }
        func word(_ i: Int) -> UInt64? { UInt64(String(decoding: bytes[(i * 16)..<(i * 16 + 16)], as: UTF8.self), radix: 16) }
        guard let a = word(0), let b = word(1), let c = word(2), let d = word(3) else { return nil }
        return (a, b, c, d)
    }

    static func hex(_ d: (UInt64, UInt64, UInt64, UInt64)) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 64) { out in
            for (w, word) in [d.0, d.1, d.2, d.3].enumerated() {
                for i in 0..<16 { out[w * 16 + i] = digits[Int((word >> UInt64(60 - 4 * i)) & 0xF)] }
            }
            return 64
        }
    }
}

/// Profile rows as API JSON: beampipe's fields (`uuid`, `name`, `description`, `project_module`,
/// `is_default`, `max_concurrent_executions`, `translation`, `deployment`, `created_at`,
/// `updated_at`) plus `revision`, `spec_sha256` and `git` (where git manages it, else null).
/// Written by hand: a page of 500 rows is the API's hottest path.
public enum ProfileJSON {
    /// Key names that mark a secret. beamsync never stores one (validation refuses them), but a
    /// row written by other tools could hold one; its value is shown as `[REDACTED]`.
    static let secretFragments = ["password", "passphrase", "passcode", "token", "secret", "private_key", "api_key", "authorization"]

    public static func append(_ row: ProfileRow, specSHA256: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        APIJSON.appendKey("uuid", to: &out, first: true)
        APIJSON.appendString(row.id, to: &out)
        APIJSON.appendKey("name", to: &out)
        APIJSON.appendString(row.name, to: &out)
        APIJSON.appendKey("description", to: &out)
        APIJSON.appendOptional(row.description, to: &out)
        APIJSON.appendKey("project_module", to: &out)
        APIJSON.appendOptional(row.projectModule, to: &out)
        APIJSON.appendKey("is_default", to: &out)
        out.append(contentsOf: (row.isDefault ? "true" : "false").utf8)
        APIJSON.appendKey("max_concurrent_executions", to: &out)
        APIJSON.appendInt(row.maxConcurrentExecutions, to: &out)
        APIJSON.appendKey("revision", to: &out)
        APIJSON.appendInt(row.revision, to: &out)
        APIJSON.appendKey("spec_sha256", to: &out)
        APIJSON.appendString(specSHA256, to: &out)
        APIJSON.appendKey("translation", to: &out)
        appendColumn(row.translationJSON, to: &out)
        APIJSON.appendKey("deployment", to: &out)
        appendColumn(row.deploymentJSON, to: &out)
        APIJSON.appendKey("created_at", to: &out)
        APIJSON.appendString(row.createdAt, to: &out)
        APIJSON.appendKey("updated_at", to: &out)
        APIJSON.appendOptional(row.updatedAt, to: &out)
        APIJSON.appendKey("git", to: &out)
        if let git = row.git {
            out.append(UInt8(ascii: "{"))
            APIJSON.appendKey("repository", to: &out, first: true)
            APIJSON.appendOptional(git.repository, to: &out)
            APIJSON.appendKey("branch", to: &out)
            APIJSON.appendOptional(git.branch, to: &out)
            APIJSON.appendKey("path", to: &out)
            APIJSON.appendOptional(git.path, to: &out)
            APIJSON.appendKey("line", to: &out)
            APIJSON.appendInt(git.line, to: &out)
            APIJSON.appendKey("revision", to: &out)
            APIJSON.appendOptional(git.revision, to: &out)
            out.append(UInt8(ascii: "}"))
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(UInt8(ascii: "}"))
    }

    static let secretFragmentBytes = secretFragments.map { Array($0.utf8) }

    /// A JSONB column as the server printed it (valid JSON), unless it names a secret-looking key.
    static func appendColumn(_ text: String, to out: inout [UInt8]) {
        var text = text
        let suspicious = text.withUTF8 { bytes in secretFragmentBytes.contains { containsIgnoringASCIICase(bytes, $0) } }
        guard suspicious, let value = try? JSONValue.parse(text) else {
            out.append(contentsOf: text.utf8)
            return
        }
        out.append(contentsOf: redacted(value).canonicalBytes)
    }

    /// Byte-level search for a lower-case ASCII `needle` (Foundation's string search costs
    /// microseconds a call, and a page of 500 rows makes thousands of calls).
    static func containsIgnoringASCIICase(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] | 0x20 == first {
                var j = 1
                while j < needle.count, haystack[i + j] | 0x20 == needle[j] || (needle[j] == UInt8(ascii: "_") && haystack[i + j] == needle[j]) {
                    j += 1
                }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }

    static func redacted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let o):
            var r: [String: JSONValue] = [:]
            for (k, v) in o {
                var key = k
                let secret = key.withUTF8 { bytes in secretFragmentBytes.contains { containsIgnoringASCIICase(bytes, $0) } }
                r[k] = secret ? .string("[REDACTED]") : redacted(v)
            }
            return .object(r)
        case .array(let a): return .array(a.map(redacted))
        default: return value
        }
    }

    public static func render(_ row: ProfileRow, hashes: ProfileHashCache) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(768)
        append(row, specSHA256: try hashes.specSHA256(row), to: &out)
        return out
    }

    /// `{"items": [...], "total": N, "page": P, "items_per_page": K}`.
    public static func renderPage(_ rows: [ProfileRow], total: Int, page: Int, itemsPerPage: Int, hashes: ProfileHashCache) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + rows.count * 720)
        out.append(contentsOf: #"{"items":["#.utf8)
        for (i, row) in rows.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            append(row, specSHA256: try hashes.specSHA256(row), to: &out)
        }
        out.append(contentsOf: #"],"total":"#.utf8)
        out.append(contentsOf: String(total).utf8)
        out.append(contentsOf: #","page":"#.utf8)
        out.append(contentsOf: String(page).utf8)
        out.append(contentsOf: #","items_per_page":"#.utf8)
        out.append(contentsOf: String(itemsPerPage).utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
