import Foundation

/// Secret bytes (an inline private key, a passphrase). Printing, interpolating or dumping one
/// shows `<redacted>`, so a secret cannot leak through a log line or an error message by accident.
public struct SSHSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }

    public var isEmpty: Bool { bytes.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }

    /// Calls `body` with the secret as a NUL-terminated C string and its length.
    func withCString<T>(_ body: (UnsafePointer<CChar>, Int) throws -> T) rethrows -> T {
        var copy = bytes.map { CChar(bitPattern: $0) }
        copy.append(0)
        defer { for i in copy.indices { copy[i] = 0 } }
        return try copy.withUnsafeBufferPointer { try body($0.baseAddress!, bytes.count) }
    }
}
