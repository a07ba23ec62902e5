import Crypto
import Foundation

/// The git hosts whose push webhooks beamsync understands. A webhook is only a hint to fetch now.
public enum WebhookProvider: String, Sendable, CaseIterable {
    case github
    case gitlab
    case generic

    /// The event name the provider sends (`headers` keys are lower-case).
    func event(_ headers: [String: String]) -> String? {
        switch self {
        case .github: headers["x-github-event"]
        case .gitlab: headers["x-gitlab-event"]
        case .generic: headers["x-beamsync-event"]
        }
    }

    /// The provider's id of the delivery, when it sends one.
    func delivery(_ headers: [String: String]) -> String? {
        switch self {
        case .github: headers["x-github-delivery"]
        case .gitlab: headers["x-gitlab-event-uuid"]
        case .generic: headers["x-beamsync-delivery"]
        }
    }
}

/// Secrets for verifying webhooks; read from files, never from the repository or the command line.
public struct WebhookSecrets: Sendable {
    public var github: [UInt8]?
    public var gitlab: [UInt8]?
    public var generic: [UInt8]?

    public init(github: [UInt8]? = nil, gitlab: [UInt8]? = nil, generic: [UInt8]? = nil) {
        self.github = github
        self.gitlab = gitlab
        self.generic = generic
    }

    /// Reads a secret file; a trailing newline (as `echo` writes it) is not part of the secret.
    public static func read(file: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw WebhookSecretError(message: "cannot read webhook secret file \(file)")
        }
        var bytes = [UInt8](data)
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        guard !bytes.isEmpty else { throw WebhookSecretError(message: "webhook secret file \(file) is empty") }
        return bytes
    }
}

public struct WebhookSecretError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Verifies webhook signatures in constant time.
public enum WebhookAuthenticator {
    public enum Verdict: Sendable, Equatable {
        case accepted
        /// No secret is configured for this provider: the endpoint is disabled.
        case disabled
        case rejected(String)
    }

    /// `headers` keys are lower-case.
    public static func verify(_ provider: WebhookProvider, headers: [String: String], body: [UInt8], secrets: WebhookSecrets) -> Verdict {
        switch provider {
        case .github:
            guard let secret = secrets.github else { return .disabled }
            return verifyHMAC(header: headers["x-hub-signature-256"], body: body, secret: secret, name: "X-Hub-Signature-256")
        case .generic:
            guard let secret = secrets.generic else { return .disabled }
            return verifyHMAC(header: headers["x-beamsync-signature-256"], body: body, secret: secret, name: "X-Beamsync-Signature-256")
        case .gitlab:
            guard let secret = secrets.gitlab else { return .disabled }
            guard let token = headers["x-gitlab-token"] else { return .rejected("missing X-Gitlab-Token") }
            return constantTimeEqual(Array(token.utf8), secret) ? .accepted : .rejected("X-Gitlab-Token does not match")
        }
    }

    /// `sha256=<hex of HMAC-SHA256(secret, body)>`, compared in constant time by swift-crypto.
    static func verifyHMAC(header: String?, body: [UInt8], secret: [UInt8], name: String) -> Verdict {
        guard let header, header.hasPrefix("sha256=") else { return .rejected("missing or malformed \(name)") }
        guard let mac = hexBytes(header.dropFirst(7)), mac.count == 32 else { return .rejected("malformed \(name)") }
        let key = SymmetricKey(data: secret)
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key) ? .accepted : .rejected("\(name) does not match")
    }

    /// Compares without an early exit, so timing does not reveal how much of the token matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }

    static func hexBytes<S: StringProtocol>(_ text: S) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var high: UInt8? = nil
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return high == nil ? out : nil
    }

    /// The signature header value for `body` (for tests and for `beamsync` users writing senders).
    public static func signature(body: [UInt8], secret: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}
