import Foundation

/// An OpenSSH known_hosts file, parsed without libssh2 so the key policy can judge it offline and
/// the session can check a server key against it with OpenSSH's matching rules: comma-separated
/// patterns with `*`/`?` wildcards and `!` negation, `[host]:port` for ports other than 22, and
/// `@revoked` markers. Hashed (`|1|`) entries are kept as such but never matched: beamsync
/// requires plain entries, so an operator can read which hosts a file trusts.
public struct KnownHosts: Sendable {
    public enum Marker: String, Sendable { case revoked = "@revoked", certAuthority = "@cert-authority" }

    public struct Entry: Sendable, Equatable {
        public let line: Int
        public let marker: Marker?
        /// Comma-separated host patterns; empty for a hashed entry.
        public let patterns: [String]
        public let hashed: Bool
        public let keyType: String
        /// The key blob in SSH wire format (what the server sends as its host key).
        public let key: [UInt8]
    }

    public struct InvalidLine: Error, Sendable, Equatable {
        public let line: Int
        public let reason: String
    }

    public enum Verdict: Sendable, Equatable {
        case match(line: Int)
        case mismatch(lines: [Int])
        case otherKeyTypes([String])
        case revoked(line: Int)
        case notListed(hashedEntries: Int)
    }

    public private(set) var entries: [Entry] = []
    public private(set) var invalidLines: [InvalidLine] = []

    public init(text: String) {
        var number = 0
        // `\r\n` is one Character in Swift, so split on any line break, not on "\n".
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            switch Self.parse(line, number: number) {
            case .success(let entry): entries.append(entry)
            case .failure(let invalid): invalidLines.append(invalid)
            }
        }
    }

    public var hashedEntries: [Entry] { entries.filter(\.hashed) }
    public var markedEntries: [Entry] { entries.filter { $0.marker != nil } }

    /// Plain, unmarked entries whose patterns match the host name `name` (`host` or `[host]:port`).
    public func entries(for name: String) -> [Entry] {
        entries.filter { !$0.hashed && $0.marker == nil && Self.patterns($0.patterns, match: name) }
    }

    /// Key types listed for `name`, in file order without repeats (used to ask the server for one
    /// of them during key exchange).
    public func keyTypes(for name: String) -> [String] {
        var seen: [String] = []
        for entry in entries(for: name) where !seen.contains(entry.keyType) { seen.append(entry.keyType) }
        return seen
    }

    /// OpenSSH's decision for a server presenting `key` (wire format) as `name`.
    public func verdict(for name: String, key: [UInt8]) -> Verdict {
        if let revoked = entries.first(where: { !$0.hashed && $0.marker == .revoked && $0.key == key
                                                && Self.patterns($0.patterns, match: name) }) {
            return .revoked(line: revoked.line)
        }
        let listed = entries(for: name)
        if let hit = listed.first(where: { $0.key == key }) { return .match(line: hit.line) }
        let offeredType = Self.keyType(ofBlob: key) ?? ""
        let sameType = listed.filter { $0.keyType == offeredType }
        if !sameType.isEmpty { return .mismatch(lines: sameType.map(\.line)) }
        if !listed.isEmpty { return .otherKeyTypes(keyTypes(for: name)) }
        return .notListed(hashedEntries: hashedEntries.count)
    }

    // MARK: parsing

    private static func parse(_ line: String, number: Int) -> Result<Entry, InvalidLine> {
        var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var marker: Marker?
        if let first = fields.first, first.hasPrefix("@") {
            guard let known = Marker(rawValue: first) else {
                return .failure(InvalidLine(line: number, reason: "unknown marker \(first)"))
            }
            marker = known
            fields.removeFirst()
        }
        guard fields.count >= 3 else {
            return .failure(InvalidLine(line: number, reason: "expected `hosts key-type base64-key`"))
        }
        let hosts = fields[0], type = fields[1]
        guard let data = Data(base64Encoded: fields[2]) else {
            return .failure(InvalidLine(line: number, reason: "the key is not valid base64"))
        }
        let blob = [UInt8](data)
        guard keyType(ofBlob: blob) == type else {
            return .failure(InvalidLine(line: number, reason: "the key data is not a \(type) key"))
        }
        let hashed = hosts.hasPrefix("|")
        let patterns = hashed ? [] : hosts.split(separator: ",").map { $0.lowercased() }
        return .success(Entry(line: number, marker: marker, patterns: patterns, hashed: hashed, keyType: type, key: blob))
    }

    /// The algorithm name a key blob starts with (an SSH string: 4-byte length, then the name).
    static func keyType(ofBlob blob: [UInt8]) -> String? {
        guard blob.count >= 4 else { return nil }
        let length = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
        guard length > 0, length <= 64, blob.count >= 4 + length else { return nil }
        return String(bytes: blob[4..<(4 + length)], encoding: .ascii)
    }

    // MARK: matching (OpenSSH match_hostname)

    /// True when a positive pattern matches `name` and no negated one does.
    static func patterns(_ patterns: [String], match name: String) -> Bool {
        let name = name.lowercased()
        var matched = false
        for pattern in patterns {
            if pattern.hasPrefix("!") {
                if glob(Array(pattern.dropFirst().utf8), Array(name.utf8)) { return false }
            } else if glob(Array(pattern.utf8), Array(name.utf8)) {
                matched = true
            }
        }
        return matched
    }

    /// `*` matches any run of characters, `?` exactly one; everything else literally.
    static func glob(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var p = 0, t = 0, star = -1, resume = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t]) {
                p += 1; t += 1
            } else if p < pattern.count && pattern[p] == UInt8(ascii: "*") {
                star = p; resume = t; p += 1
            } else if star >= 0 {
                p = star + 1; resume += 1; t = resume
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}
