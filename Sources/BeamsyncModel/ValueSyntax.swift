/// The syntax of values that become host names, words of a shell command on the login node, or
/// remote paths. Each check returns nil when the value is fine, else what is wrong, phrased
/// without repeating the value (it may hold a credential). Byte scans, no Foundation.
enum ValueSyntax {
    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A)
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private static func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x66) }

    /// One character for a message: visible characters as they are, others escaped.
    private static func shown(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : b == 0x20 ? "a space" : "'\(DisplayText.escaped(String(Character(Unicode.Scalar(b)))))'"
    }

    private static func contains(_ bytes: [UInt8], _ needle: StaticString) -> Bool {
        needle.withUTF8Buffer { n in bytes.withUnsafeBufferPointer { TextScan.contains($0, n) } }
    }

    // MARK: Hosts

    /// A DNS host name (RFC 1123 labels of letters, digits and '-', plus '_', which internal DNS
    /// and container networks serve), an IPv4 address, or an IPv6 address bare or in brackets.
    static func hostProblem(_ host: String) -> String? {
        if host.utf8.withContiguousStorageIfAvailable(isPlainHostName) == true { return nil }
        return hostProblemInDetail(host)
    }

    /// The common case in one pass and without allocating: labels of letters, digits, '-' and
    /// '_', the last one not all digits. Anything else gets the full check and its explanation.
    private static func isPlainHostName(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = b.count
        if end > 0 && b[end - 1] == UInt8(ascii: ".") { end -= 1 }
        guard end > 0, end <= 253 else { return false }
        var labelStart = 0
        var allDigits = true
        for i in 0...end {
            if i == end || b[i] == UInt8(ascii: ".") {
                let length = i - labelStart
                if length == 0 || length > 63 || b[labelStart] == UInt8(ascii: "-") || b[i - 1] == UInt8(ascii: "-") { return false }
                if i == end { return !allDigits }
                labelStart = i + 1
                allDigits = true
            } else if isAlnum(b[i]) || b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "_") {
                if !isDigit(b[i]) { allDigits = false }
            } else {
                return false
            }
        }
        return false
    }

    private static func hostProblemInDetail(_ host: String) -> String? {
        let b = Array(host.utf8)
        guard let first = b.first, let last = b.last else { return "it is empty" }
        if first == 0x20 || last == 0x20 || first == 0x09 || last == 0x09 { return "it has leading or trailing spaces" }
        if contains(b, "://") { return "it is a URL; write only the host name (the scheme, port and path have their own fields)" }
        if b.contains(UInt8(ascii: "@")) { return "it contains '@'; a user name or password does not belong in a host" }
        if first == UInt8(ascii: "[") {
            guard last == UInt8(ascii: "]"), b.count > 2 else { return "the IPv6 address is not closed with ']'" }
            return isIPv6(b[1..<(b.count - 1)]) ? nil : ipv6Problem(b[1..<(b.count - 1)])
        }
        if b.contains(UInt8(ascii: ":")) {
            if isIPv6(b[...]) { return nil }
            if b.filter({ $0 == UInt8(ascii: ":") }).count == 1, let colon = b.firstIndex(of: UInt8(ascii: ":")),
               colon + 1 < b.count, b[(colon + 1)...].allSatisfy(isDigit) {
                return "it includes a port; the port has its own field"
            }
            return ipv6Problem(b[...])
        }
        if b.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) {
            return isIPv4(b[...]) ? nil : "it looks like an IPv4 address but is not one (four numbers from 0 to 255, without leading zeros)"
        }
        var name = b[...]
        if name.last == UInt8(ascii: ".") { name = name.dropLast() }  // a fully qualified name's root
        if name.count > 253 { return "it is longer than 253 characters" }
        var labels = 0
        var lastLabelNumeric = false
        for label in name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            labels += 1
            if label.isEmpty { return "it has an empty label (two dots in a row, or a leading dot)" }
            if label.count > 63 { return "a label (the part between dots) is longer than 63 characters" }
            if let bad = label.first(where: { !(isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")) }) {
                return "\(shown(bad)) is not allowed in a host name (letters, digits, '-', '_' and '.')"
            }
            if label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") { return "a label starts or ends with '-'" }
            lastLabelNumeric = label.allSatisfy(isDigit)
        }
        if lastLabelNumeric && labels > 1 { return "its last label is all digits, so it is neither a host name nor an IPv4 address" }
        return nil
    }

    static func isIPv4(_ b: ArraySlice<UInt8>) -> Bool {
        let parts = b.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for p in parts {
            guard (1...3).contains(p.count), p.allSatisfy(isDigit), p.count == 1 || p.first != UInt8(ascii: "0") else { return false }
            guard Int(String(decoding: p, as: UTF8.self))! <= 255 else { return false }
        }
        return true
    }

    /// RFC 4291 text forms: eight groups of 1-4 hex digits, one `::` for a run of zero groups,
    /// and an IPv4 address as the last 32 bits. Zone ids (`%eth0`) are not accepted.
    static func isIPv6(_ b: ArraySlice<UInt8>) -> Bool {
        guard b.count >= 2, b.count <= 45 else { return false }
        var doubleColon: Int? = nil
        var i = b.startIndex
        while i + 1 < b.endIndex {
            if b[i] == UInt8(ascii: ":") && b[i + 1] == UInt8(ascii: ":") {
                if doubleColon != nil { return false }
                doubleColon = i
                i += 2
                continue
            }
            i += 1
        }
        func groups(_ part: ArraySlice<UInt8>, mayEndWithIPv4: Bool) -> Int? {
            if part.isEmpty { return 0 }
            let items = part.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            var count = 0
            for (k, item) in items.enumerated() {
                if mayEndWithIPv4 && k == items.count - 1 && item.contains(UInt8(ascii: ".")) {
                    guard isIPv4(item) else { return nil }
                    count += 2
                } else {
                    guard (1...4).contains(item.count), item.allSatisfy(isHex) else { return nil }
                    count += 1
                }
            }
            return count
        }
        if let dc = doubleColon {
            guard let head = groups(b[b.startIndex..<dc], mayEndWithIPv4: false),
                  let tail = groups(b[(dc + 2)...], mayEndWithIPv4: true) else { return false }
            return head + tail <= 7
        }
        return groups(b, mayEndWithIPv4: true) == 8
    }

    private static func ipv6Problem(_ b: ArraySlice<UInt8>) -> String {
        if b.contains(UInt8(ascii: "%")) { return "IPv6 zone ids (such as %eth0) are not supported; use a global or unique-local address" }
        if let bad = b.first(where: { !(isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".")) }) {
            return "\(shown(bad)) is not allowed in an IPv6 address"
        }
        return "it is not a valid IPv6 address"
    }

    // MARK: Words of a shell command

    /// A login name for SSH and Slurm: letters, digits, '.', '_', '-' and '@' (directory-qualified
    /// names such as first.last@example.org), never starting with '-'.
    static func userNameProblem(_ s: String) -> String? {
        word(s, what: "a user name", allowed: "letters, digits, '.', '_', '-' and '@'") { $0 == UInt8(ascii: "@") }
    }

    /// A Slurm account: letters, digits, '.', '_' and '-'.
    static func accountProblem(_ s: String) -> String? {
        word(s, what: "a Slurm account", allowed: "letters, digits, '.', '_' and '-'") { _ in false }
    }

    /// A DALiuGE facility name (setonix, galaxy_mwa, ...).
    static func facilityProblem(_ s: String) -> String? {
        word(s, what: "a facility name", allowed: "letters, digits, '.', '_' and '-'") { _ in false }
    }

    /// A Slurm quality of service.
    static func qosProblem(_ s: String) -> String? {
        word(s, what: "a QOS name", allowed: "letters, digits, '.', '_' and '-'") { _ in false }
    }

    /// A Slurm partition or a comma-separated list of partitions.
    static func partitionProblem(_ s: String) -> String? {
        word(s, what: "a partition list", allowed: "letters, digits, '.', '_', '-' and ','") { $0 == UInt8(ascii: ",") }
    }

    /// A Slurm memory size such as 64G or 4000M.
    static func memoryProblem(_ s: String) -> String? {
        word(s, what: "a memory size", allowed: "digits and a unit letter, such as 64G or 4000M") { _ in false }
    }

    /// A Slurm feature expression: features joined by '&' (and), '|' (or), in '[...]', '(...)',
    /// with '*count'; ',' and ':' also occur.
    static func constraintProblem(_ s: String) -> String? {
        word(s, what: "a constraint", allowed: "feature names, '&', '|', '[', ']', '(', ')', '*', ',', ':' and '!'") {
            switch $0 {
            case UInt8(ascii: "&"), UInt8(ascii: "|"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "("),
                 UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "!"): true
            default: false
            }
        }
    }

    private static func word(_ s: String, what: String, allowed: String, extra: (UInt8) -> Bool) -> String? {
        let b = Array(s.utf8)
        guard let first = b.first else { return "it is empty" }
        if first == UInt8(ascii: "-") { return "\(what) must not start with '-', which the command would read as an option" }
        if let bad = b.first(where: { !(isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || extra($0)) }) {
            return "\(shown(bad)) is not allowed in \(what) (\(allowed))"
        }
        return nil
    }

    // MARK: Remote paths

    /// Characters that change what an unquoted word means to a POSIX shell. DALiuGE's generated
    /// job script writes `export DLG_ROOT=<dlg_root>` without quotes, so none may occur in a path.
    private static func isShellSpecial(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: " "), UInt8(ascii: ";"), UInt8(ascii: "&"), UInt8(ascii: "|"), UInt8(ascii: "<"), UInt8(ascii: ">"),
             UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "$"), UInt8(ascii: "`"), UInt8(ascii: "\\"), UInt8(ascii: "\""),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"),
             UInt8(ascii: "}"):
            return true
        default:
            return b < 0x20 || b == 0x7F
        }
    }

    /// An absolute remote path (the caller checks the leading '/'): no shell syntax, no '..'.
    static func remotePathProblem(_ s: String) -> String? {
        var s = s
        return s.withUTF8 { b -> String? in
            var segmentStart = 0
            for i in 0...b.count {
                if i == b.count || b[i] == UInt8(ascii: "/") {
                    if i - segmentStart == 2 && b[segmentStart] == UInt8(ascii: ".") && b[segmentStart + 1] == UInt8(ascii: ".") {
                        return "a remote path must not climb with '..'"
                    }
                    segmentStart = i + 1
                } else if isShellSpecial(b[i]) {
                    return "\(shown(b[i])) is not allowed in a remote path (it is written unquoted into the job script on the login node)"
                }
            }
            return nil
        }
    }
}
