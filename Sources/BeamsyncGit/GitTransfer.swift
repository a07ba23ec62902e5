import BeamsyncTime
import CGit2
import Foundation

/// One fetch from a mirror's `origin`, run on its own dedicated thread with a deadline.
///
/// Why a thread per transfer, and why fresh handles every time: libgit2 1.5 has no network
/// timeouts (`GIT_OPT_SET_SERVER_TIMEOUT` arrived in 1.7) and its socket reads block. Blocking
/// calls must never run on Swift's cooperative pool. The caller waits asynchronously until the
/// thread finishes or the deadline passes, whichever comes first, and on the deadline gets
/// `GitError.timedOut` at once. From then on every libgit2 callback of the transfer (progress,
/// sideband, credentials, certificate check, ref updates) returns an error, so a transfer that
/// is still moving data aborts at its next callback without touching refs. A connection that
/// stalls completely (the server accepts and sends nothing) gives libgit2 no callback to abort
/// in: that thread stays blocked in `recv` until the peer goes away. It holds only its own
/// `git_repository` and `git_remote`, opened for this transfer alone, and libgit2 objects
/// are safe to use from different threads when they are not shared, so an abandoned thread
/// never blocks the mirror's read handle or the next fetch. The cost is one parked thread per
/// stalled connection, which the caller's backoff keeps small.
final class FetchJob: @unchecked Sendable {
    let path: String
    let url: String           // as configured (may contain user-info); used for parsing only
    let shownURL: String      // redacted, for every message
    let remote: RemoteURL
    let credentials: ResolvedCredentials
    let timeout: Duration
    private let deadline: DispatchTime

    private let lock = NSLock()
    // Guarded by `lock`:
    private var continuation: CheckedContinuation<Void, Error>?
    private var outcome: Result<Void, Error>?  // the first outcome wins
    private var abandoned = false

    // Touched only on the transfer thread (from libgit2 callbacks):
    private var authAttempts = 0
    private var callbackFailure: GitError?

    init(path: String, url: String, credentials: ResolvedCredentials, timeout: Duration) {
        self.path = path
        self.url = url
        self.shownURL = RemoteURL.redacted(url)
        self.remote = RemoteURL(url)
        self.credentials = credentials
        self.timeout = timeout
        self.deadline = .now() + .milliseconds(Int(clamping: timeout.inMilliseconds))
    }

    var timeoutSeconds: Double { timeout.inSeconds }

    /// True once the caller stopped waiting or the deadline passed: callbacks then abort.
    var shouldAbort: Bool {
        if DispatchTime.now() >= deadline { return true }
        return lock.withLock { abandoned }
    }

    // MARK: waiting

    /// Starts the transfer thread and waits for it, the deadline, or cancellation.
    func run() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let early: Result<Void, Error>? = lock.withLock {
                    if let outcome { return outcome }  // cancelled before we got here
                    self.continuation = continuation
                    return nil
                }
                if let early {
                    continuation.resume(with: early)
                    return
                }
                let thread = Thread { [self] in
                    finish(GitConnectionGate.with(self) { performFetch() }, abandon: false)
                }
                thread.name = "beamsync-git-fetch"
                thread.stackSize = 4 << 20
                thread.start()
                // Weak: a finished job (and the secrets it holds) is not kept until the deadline.
                DispatchQueue.global().asyncAfter(deadline: deadline) { [weak self] in
                    guard let self else { return }
                    finish(.failure(GitError.timedOut(url: shownURL, seconds: timeoutSeconds)), abandon: true)
                }
            }
        } onCancel: {
            finish(.failure(GitError.cancelled(url: shownURL)), abandon: true)
        }
    }

    private func finish(_ result: Result<Void, Error>, abandon: Bool) {
        let waiting: CheckedContinuation<Void, Error>? = lock.withLock {
            if abandon { abandoned = true }
            guard outcome == nil else { return nil }
            outcome = result
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(with: result)
    }

    // MARK: the transfer thread

    private func performFetch() -> Result<Void, Error> {
        do {
            let repository = try Repository.open(path: path)
            let origin = try Remote.anonymous(repository, url: url)
            var options = git_fetch_options()
            git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION))
            options.prune = GIT_FETCH_PRUNE
            options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL
            options.update_fetchhead = 0
            options.callbacks.payload = Unmanaged.passUnretained(self).toOpaque()
            options.callbacks.credentials = fetchJobCredentials
            options.callbacks.certificate_check = fetchJobCertificateCheck
            options.callbacks.transfer_progress = fetchJobTransferProgress
            options.callbacks.sideband_progress = fetchJobSideband
            options.callbacks.update_tips = fetchJobUpdateTips
            // origin's refspecs, given here because the remote is unnamed (see `Remote.anonymous`).
            let code = GitMirror.fetchRefspecs.withGitStrArray { refspecs in
                git_remote_fetch(origin.pointer, refspecs, &options, "beamsync: fetch")
            }
            if code < 0 { throw failure(code) }
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// The most specific explanation of a failed fetch.
    private func failure(_ code: Int32) -> GitError {
        if let callbackFailure { return callbackFailure }
        if shouldAbort { return .timedOut(url: shownURL, seconds: timeoutSeconds) }
        let error = Libgit2.lastError(operation: "fetch", code: code, url: url)
        if case let .ssh(key, _, _, _) = credentials.kind, case let .libgit2(_, _, _, message, _) = error,
           message.contains("Wrong passphrase") {
            return .credentials(url: shownURL, message: "the private key \(key.privateKeyFile) cannot be read with the "
                + "passphrase from \(key.passphraseFile ?? "(none)") (libssh2: \(message))")
        }
        return error
    }

    /// Records `error` as the reason and sets it as libgit2's message too; returns the code for
    /// the callback to hand back.
    fileprivate func refuse(_ error: GitError, klass: git_error_t, code: Int32 = -1) -> Int32 {
        callbackFailure = error
        git_error_set_str(Int32(klass.rawValue), error.description)
        return code
    }

    fileprivate func abortIfExpired() -> Int32 {
        guard shouldAbort else { return 0 }
        git_error_set_str(Int32(GIT_ERROR_NET.rawValue),
                          "transfer aborted: the \(timeoutSeconds) s deadline passed")
        return -1
    }

    fileprivate func acquireCredential(_ out: UnsafeMutablePointer<UnsafeMutablePointer<git_credential>?>?,
                                       userFromURL: String?, allowed: UInt32) -> Int32 {
        if abortIfExpired() != 0 { return -1 }
        switch credentials.kind {
        case let .ssh(key, passphrase, info, _):
            let user = key.user ?? userFromURL ?? remote.user ?? "git"
            if allowed & GIT_CREDENTIAL_USERNAME.rawValue != 0, allowed & GIT_CREDENTIAL_SSH_KEY.rawValue == 0 {
                return git_credential_username_new(out, user)
            }
            guard allowed & GIT_CREDENTIAL_SSH_KEY.rawValue != 0 else { break }
            authAttempts += 1
            if authAttempts > 1 {  // libgit2 asks again after the server refused the key
                var message = "the server refused public-key authentication as '\(user)' with \(key.privateKeyFile)"
                if info.isRSA { message += " — \(rsaKeyExplanation)" }
                return refuse(.credentials(url: shownURL, message: message), klass: GIT_ERROR_SSH)
            }
            return git_credential_ssh_key_new(out, user, key.publicKeyFile, key.privateKeyFile, passphrase)
        case let .token(user, token, file):
            guard allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 else { break }
            authAttempts += 1
            if authAttempts > 1 {
                return refuse(.credentials(url: shownURL, message:
                    "the server refused the token from \(file) (user '\(user)')"), klass: GIT_ERROR_HTTP)
            }
            return git_credential_userpass_plaintext_new(out, user, token)
        case .none:
            return refuse(.credentials(url: shownURL, message:
                "the server asks for credentials and none are configured"), klass: GIT_ERROR_NET)
        }
        return refuse(.credentials(url: shownURL, message:
            "the server asks for a kind of credentials the options do not provide (libgit2 types \(allowed))"),
            klass: GIT_ERROR_NET)
    }

    /// The libgit2 error code that refuses a connection to `host:port`, or nil to allow it. With
    /// a token, only the configured origin is allowed: a redirect elsewhere is refused before
    /// the connection is made, so the token is never sent there.
    func refusesConnection(host: String, port: String) -> Int32? {
        guard case .token(_, _, let file) = credentials.kind else { return nil }
        if host.lowercased() == remote.host.lowercased() && Int(port) == remote.port { return nil }
        return refuse(.credentials(url: shownURL, message:
            "the server redirected to \(host):\(port), another origin than \(remote.host):\(remote.port); the token from \(file) "
            + "is sent only to the origin it was given for, so the redirect is refused — use the repository's final URL"),
            klass: GIT_ERROR_NET)
    }

    fileprivate func checkCertificate(_ cert: UnsafeMutablePointer<git_cert>, valid: Bool, host: String) -> Int32 {
        if abortIfExpired() != 0 { return -1 }
        switch cert.pointee.cert_type {
        case GIT_CERT_HOSTKEY_LIBSSH2:
            guard case let .ssh(key, _, _, knownHosts) = credentials.kind else {
                return refuse(.invalidOptions("\(shownURL): an ssh host key arrived but no known_hosts file is configured"),
                              klass: GIT_ERROR_SSH, code: GIT_ECERTIFICATE.rawValue)
            }
            return checkHostKey(cert, knownHosts: knownHosts, file: key.knownHostsFile)
        case GIT_CERT_X509:
            if credentials.insecureSkipTLSVerify { return 0 }
            guard let caFile = credentials.caFile else { return GIT_PASSTHROUGH.rawValue }
            return verifyX509(cert, caFile: caFile, host: host)
        default:
            return GIT_PASSTHROUGH.rawValue
        }
    }

    private func checkHostKey(_ cert: UnsafeMutablePointer<git_cert>, knownHosts: KnownHosts, file: String) -> Int32 {
        let name = remote.knownHostsName
        let hostKey = UnsafeMutableRawPointer(cert).assumingMemoryBound(to: git_cert_hostkey.self).pointee
        func reject(_ reason: String) -> Int32 {
            refuse(.hostKeyRejected(host: name, knownHostsFile: file, reason: reason),
                   klass: GIT_ERROR_SSH, code: GIT_ECERTIFICATE.rawValue)
        }
        guard hostKey.type.rawValue & GIT_CERT_SSH_RAW.rawValue != 0, let raw = hostKey.hostkey, hostKey.hostkey_len > 0
        else { return reject("libgit2 did not provide the raw host key") }
        let keyType = cgit2_knownhost_keytype(Int32(hostKey.raw_type.rawValue))
        guard keyType != 0 else { return reject("the server's host key type is unknown to libssh2") }
        let result = knownHosts.check(host: remote.host, port: remote.port,
                                      key: UnsafeRawBufferPointer(start: raw, count: hostKey.hostkey_len),
                                      keyType: keyType)
        switch result {
        case .match:
            return 0
        case .mismatch:
            return reject("the key the server presented does not match the entry for \(name) — "
                + "the host key changed or the connection is intercepted")
        case .notFound:
            return reject("no entry for \(name) with the server's key type (\(Self.keyTypeName(hostKey.raw_type)))")
        case .failure:
            return reject("libssh2 could not check the key")
        }
    }

    private static func keyTypeName(_ type: git_cert_ssh_raw_type_t) -> String {
        switch type {
        case GIT_CERT_SSH_RAW_TYPE_RSA: return "ssh-rsa"
        case GIT_CERT_SSH_RAW_TYPE_DSS: return "ssh-dss"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256: return "ecdsa-sha2-nistp256"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384: return "ecdsa-sha2-nistp384"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521: return "ecdsa-sha2-nistp521"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519: return "ssh-ed25519"
        default: return "unknown"
        }
    }

    private func verifyX509(_ cert: UnsafeMutablePointer<git_cert>, caFile: String, host: String) -> Int32 {
        let x509 = UnsafeMutableRawPointer(cert).assumingMemoryBound(to: git_cert_x509.self).pointee
        guard let data = x509.data else {
            return refuse(.certificateRejected(host: host, reason: "libgit2 did not provide the certificate"),
                          klass: GIT_ERROR_SSL, code: GIT_ECERTIFICATE.rawValue)
        }
        if let reason = TLSVerifier.verify(der: UnsafeRawBufferPointer(start: data, count: x509.len),
                                           caFile: caFile, host: host) {
            return refuse(.certificateRejected(host: host, reason: "\(reason) (CA file \(caFile))"),
                          klass: GIT_ERROR_SSL, code: GIT_ECERTIFICATE.rawValue)
        }
        return 0
    }
}

/// X.509 verification against a CA file, through the mbedTLS that libgit2 itself uses.
enum TLSVerifier {
    /// `nil` when `der` verifies for `host` against the CA file, else the reason.
    static func verify(der: UnsafeRawBufferPointer, caFile: String, host: String) -> String? {
        var reason = [CChar](repeating: 0, count: 512)
        let code = reason.withUnsafeMutableBufferPointer { buffer in
            cgit2_verify_x509(der.baseAddress?.assumingMemoryBound(to: UInt8.self), der.count, caFile, host,
                              buffer.baseAddress, buffer.count)
        }
        guard code != 0 else { return nil }
        return reason.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

// MARK: - C callbacks. They capture nothing; the job arrives through the payload pointer.

private func job(_ payload: UnsafeMutableRawPointer?) -> FetchJob {
    Unmanaged<FetchJob>.fromOpaque(payload!).takeUnretainedValue()
}

private let fetchJobCredentials: git_credential_acquire_cb = { out, _, userFromURL, allowed, payload in
    job(payload).acquireCredential(out, userFromURL: userFromURL.map { String(cString: $0) }, allowed: allowed)
}

private let fetchJobCertificateCheck: git_transport_certificate_check_cb = { cert, valid, host, payload in
    guard let cert else { return -1 }
    return job(payload).checkCertificate(cert, valid: valid != 0, host: host.map { String(cString: $0) } ?? "")
}

private let fetchJobTransferProgress: git_indexer_progress_cb = { _, payload in
    job(payload).abortIfExpired()
}

private let fetchJobSideband: git_transport_message_cb = { _, _, payload in
    job(payload).abortIfExpired()
}

private let fetchJobUpdateTips: @convention(c) (UnsafePointer<CChar>?, UnsafePointer<git_oid>?, UnsafePointer<git_oid>?,
                                                UnsafeMutableRawPointer?) -> Int32 = { _, _, _, payload in
    job(payload).abortIfExpired()
}
