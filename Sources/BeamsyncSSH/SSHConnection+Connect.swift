import CSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension SSHConnection {
    /// Resolve → TCP connect → handshake → host key → authentication, all within `deadline`.
    /// On failure the connection is torn down and the error names the step that failed.
    /// `issued` is when the caller asked (timeouts are reported relative to it).
    func connect(credential: SSHCredential, operation: UInt64, issued: ContinuousClock.Instant,
                 deadline: ContinuousClock.Instant) async throws -> SSHConnectReport {
        defer { loop.finished(operation: operation) }
        let total = issued.duration(to: deadline)
        var timings: [SSHStep: Duration] = [:]
        var step = SSHStep.resolve
        var mark = ContinuousClock.now
        do {
            try Libssh2.initialise()
            mark = .now
            let addresses = try resolve()
            timings[.resolve] = mark.duration(to: .now)

            step = .tcpConnect
            mark = .now
            let (fd, localPort) = try await openSocket(addresses, operation, deadline)
            transport.attach(socket: fd)
            timings[.tcpConnect] = mark.duration(to: .now)

            // Read before the handshake: the key types it lists decide which host key to ask for.
            step = .hostKey
            mark = .now
            let knownHosts = try loadKnownHosts(credential.hostKeyCheck)
            let loadingKnownHosts = mark.duration(to: .now)

            step = .handshake
            mark = .now
            guard let session = cssh2_session_new(transport.counters) else { throw SSHError.library(message: "libssh2_session_init failed") }
            transport.attach(session: session)
            libssh2_session_set_blocking(session, 0)
            preferListedHostKeyTypes(session, knownHosts)
            let handshake = try await call(operation, deadline) { libssh2_session_handshake($0, fd) }
            if handshake != 0 {
                throw SSHError.handshakeFailed(endpoint: endpoint, reason: failure(handshake))
            }
            let banner = libssh2_session_banner_get(session).map { String(cString: $0) } ?? "an unidentified server"
            timings[.handshake] = mark.duration(to: .now)

            step = .hostKey
            mark = .now
            let (keyType, fingerprint, line) = try checkHostKey(session, credential.hostKeyCheck, knownHosts)
            timings[.hostKey] = mark.duration(to: .now) + loadingKnownHosts

            step = .authentication
            mark = .now
            let key = try loadKey(credential.privateKey, source: credential.keySource)
            try await authenticate(session, key: key, credential: credential, banner: banner, operation, deadline)
            timings[.authentication] = mark.duration(to: .now)

            transport.startKeepalive(every: options.keepaliveInterval)
            stepTimings = timings
            return SSHConnectReport(timings: timings, serverBanner: banner, hostKeyType: keyType,
                                    hostKeyFingerprint: fingerprint, knownHostsLine: line, localPort: localPort)
        } catch {
            timings[step] = mark.duration(to: .now)
            stepTimings = timings
            let mapped: Error
            switch error {
            case is SSHWaitExpired:
                mapped = SSHError.timedOut(endpoint: endpoint, step: step, seconds: Self.seconds(total))
            case is CancellationError:
                mapped = SSHError.cancelled(endpoint: endpoint)
            case let gone as SSHTransportGone:
                mapped = step == .tcpConnect || step == .handshake
                    ? SSHError.handshakeFailed(endpoint: endpoint, reason: gone.reason)
                    : SSHError.connectionLost(endpoint: endpoint, reason: gone.reason, requestSent: false)
            default:
                mapped = error
            }
            abort("the connection attempt failed")
            throw mapped
        }
    }

    /// Seconds, to the millisecond (a deadline computed a moment before `started` reads as the
    /// timeout the caller asked for).
    static func seconds(_ duration: Duration) -> Double {
        let exact = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return (exact * 1000).rounded() / 1000
    }

    // MARK: local inputs

    private func loadKnownHosts(_ check: SSHCredential.HostKeyCheck) throws -> KnownHosts? {
        guard case .knownHosts(let path) = check else { return nil }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return KnownHosts(text: String(decoding: data, as: UTF8.self))
        } catch {
            throw SSHError.knownHostsUnreadable(path: path, reason: Self.reason(error))
        }
    }

    /// The key's bytes (for inline keys, and to tell the algorithm and encryption of a file).
    private func loadKey(_ key: SSHCredential.PrivateKey, source: String) throws -> LoadedKey {
        switch key {
        case .inline(let secret, _):
            return LoadedKey(path: nil, inline: secret, info: PrivateKeyInfo.inspect(secret.bytes))
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                let reason = access(path, F_OK) == 0 ? "it cannot be read by this process" : "the file does not exist"
                throw SSHError.privateKeyUnusable(key: source, reason: reason)
            }
            defer { try? handle.close() }
            var bytes = [UInt8]((try? handle.read(upToCount: 64 << 10)) ?? Data())
            defer { for i in bytes.indices { bytes[i] = 0 } }
            return LoadedKey(path: path, inline: nil, info: PrivateKeyInfo.inspect(bytes))
        }
    }

    struct LoadedKey {
        let path: String?
        let inline: SSHSecret?
        let info: PrivateKeyInfo?
    }

    private static func reason(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if nsError.domain == NSCocoaErrorDomain && nsError.code == NSFileReadNoSuchFileError { return "the file does not exist" }
        if nsError.domain == NSCocoaErrorDomain && nsError.code == NSFileReadNoPermissionError { return "permission denied" }
        return nsError.localizedDescription
    }

    // MARK: host key

    /// Asks the server for a host key of a type known_hosts lists for it (as OpenSSH does), so a
    /// server with several host keys does not present one the file cannot vouch for.
    private func preferListedHostKeyTypes(_ session: OpaquePointer, _ knownHosts: KnownHosts?) {
        let supported: Set<String> = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"]
        guard let listed = knownHosts?.keyTypes(for: target.knownHostsName).filter(supported.contains), !listed.isEmpty else { return }
        _ = libssh2_session_method_pref(session, LIBSSH2_METHOD_HOSTKEY, listed.joined(separator: ","))
    }

    private func checkHostKey(_ session: OpaquePointer, _ check: SSHCredential.HostKeyCheck,
                              _ knownHosts: KnownHosts?) throws -> (String, String, Int?) {
        var length = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(session, &length, &type), length > 0 else {
            throw SSHError.handshakeFailed(endpoint: endpoint, reason: "the server sent no host key")
        }
        let key = Array(UnsafeRawBufferPointer(start: raw, count: length))
        let keyType = KnownHosts.keyType(ofBlob: key) ?? "unknown"
        var fingerprint = "SHA256:?"
        if let hash = libssh2_hostkey_hash(session, Int32(LIBSSH2_HOSTKEY_HASH_SHA256)) {
            let digest = Data(bytes: hash, count: 32).base64EncodedString()
            fingerprint = "SHA256:" + digest.replacingOccurrences(of: "=", with: "")
        }
        guard case .knownHosts(let path) = check, let knownHosts else {
            return (keyType, fingerprint, nil)
        }
        let name = target.knownHostsName
        switch knownHosts.verdict(for: name, key: key) {
        case .match(let line):
            return (keyType, fingerprint, line)
        case .mismatch(let lines):
            throw SSHError.hostKeyMismatch(endpoint: endpoint, knownHosts: path, fingerprint: fingerprint, lines: lines)
        case .revoked(let line):
            throw SSHError.hostKeyRevoked(endpoint: endpoint, knownHosts: path, line: line)
        case .otherKeyTypes(let listed):
            throw SSHError.hostKeyTypeNotListed(endpoint: endpoint, knownHosts: path, offered: keyType, listed: listed)
        case .notListed(let hashed):
            throw SSHError.hostKeyNotListed(endpoint: endpoint, knownHosts: path, hostPattern: name,
                                            fingerprint: fingerprint, hashedEntries: hashed)
        }
    }

    // MARK: authentication

    private func authenticate(_ session: OpaquePointer, key: LoadedKey, credential: SSHCredential, banner: String,
                              _ operation: UInt64, _ deadline: ContinuousClock.Instant) async throws {
        let user = target.user
        // libssh2 reads the passphrase (and an inline key) again on every EAGAIN retry: keep one
        // copy alive for the whole exchange, and wipe it afterwards.
        let passphrase = CSecretBuffer(credential.passphrase)
        let inline = CSecretBuffer(key.inline)
        defer {
            passphrase.wipe()
            inline.wipe()
        }
        let rc: Int32
        if let path = key.path {
            rc = try await call(operation, deadline) {
                libssh2_userauth_publickey_fromfile_ex($0, user, UInt32(user.utf8.count), nil, path, passphrase.pointer)
            }
        } else {
            rc = try await call(operation, deadline) {
                libssh2_userauth_publickey_frommemory($0, user, user.utf8.count, nil, 0, inline.pointer, inline.count,
                                                      passphrase.pointer)
            }
        }
        guard rc != 0 else { return }
        let message = failure(rc)
        switch rc {
        case LIBSSH2_ERROR_FILE, LIBSSH2_ERROR_KEYFILE_AUTH_FAILED:
            guard let info = key.info else {
                throw SSHError.privateKeyUnusable(key: credential.keySource, reason: "it is not a private key libssh2 can read")
            }
            if info.encrypted {
                if credential.passphrase == nil { throw SSHError.passphraseRequired(key: credential.keySource) }
                throw SSHError.wrongPassphrase(key: credential.keySource, passphrase: credential.passphraseSource ?? "the configured passphrase")
            }
            throw SSHError.privateKeyUnusable(key: credential.keySource, reason: "libssh2 cannot load this \(info.algorithm) key")
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
            if key.info?.algorithm == .rsa, let version = Self.openSSHVersion(banner), version >= (8, 8) {
                let server = banner.hasPrefix("SSH-2.0-") ? String(banner.dropFirst(8)) : banner
                throw SSHError.rsaKeyRefused(endpoint: endpoint, user: user, key: credential.keySource, server: server)
            }
            throw SSHError.authenticationRefused(endpoint: endpoint, user: user, key: credential.keySource)
        default:
            if transport.isGone { throw SSHError.connectionLost(endpoint: endpoint, reason: message, requestSent: false) }
            throw SSHError.authenticationRefused(endpoint: endpoint, user: user, key: credential.keySource)
        }
    }

    /// `SSH-2.0-OpenSSH_9.2p1 Debian-2` → (9, 2).
    static func openSSHVersion(_ banner: String) -> (Int, Int)? {
        guard let range = banner.range(of: "OpenSSH_") else { return nil }
        let digits = banner[range.upperBound...].prefix { $0.isNumber || $0 == "." }
        let parts = digits.split(separator: ".").compactMap { Int($0) }
        guard let major = parts.first else { return nil }
        return (major, parts.count > 1 ? parts[1] : 0)
    }
}
