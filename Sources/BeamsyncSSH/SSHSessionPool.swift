import Foundation

/// One SSH session per target, shared by every caller.
///
/// A session is opened on first use and reused; callers may run commands concurrently (the
/// session multiplexes them over one connection, at most `maxConcurrentChannels` at a time, the
/// rest queue within their deadlines). A session that broke (the server restarted, a keepalive
/// failed) is replaced on the next call. A command whose connection dropped before the command
/// was sent is repeated once on a fresh connection; one that may have reached the server is not
/// (an `sbatch` must never run twice) and its `connectionLost` error says so. Uploads write a
/// temporary file and rename it, so they are repeated on any dropped connection.
public actor SSHSessionPool {
    /// The credential for a target, asked at every (re)connect so a rotated key or known_hosts
    /// file is picked up. Typically `{ try policy.resolve(fields).requireCredential() }`.
    public typealias CredentialProvider = @Sendable (SSHTarget) throws -> SSHCredential

    public struct Options: Sendable {
        public var session = SSHSessionOptions()
        /// The longest a connect may take, whatever the caller's deadline.
        public var connectTimeout: Duration = .seconds(20)
        /// Sessions unused this long are closed (checked whenever the pool is used).
        public var idleTimeout: Duration = .seconds(300)

        public init() {}
    }

    public struct Statistics: Sendable, Equatable {
        /// Connections opened, including reconnects.
        public var connectionsOpened = 0
        /// Connections opened for a target whose previous session broke.
        public var reconnects = 0
        /// Operations repeated on a fresh connection after a drop.
        public var retries = 0
        public var commands = 0
        public var uploads = 0
    }

    private final class Entry {
        var session: SSHSession?
        var connecting: Task<SSHSession, Error>?
        var lastUsed = ContinuousClock.now
        var inFlight = 0
        var hadSession = false
    }

    public let options: Options
    private let credentials: CredentialProvider
    private var entries: [SSHTarget: Entry] = [:]
    public private(set) var statistics = Statistics()

    public init(options: Options = Options(), credentials: @escaping CredentialProvider) {
        self.options = options
        self.credentials = credentials
    }

    /// The target's session, opened if needed (concurrent callers share one connect).
    public func session(for target: SSHTarget, deadline: ContinuousClock.Instant) async throws -> SSHSession {
        closeIdleSessions()
        let entry = entries[target] ?? { let fresh = Entry(); entries[target] = fresh; return fresh }()
        entry.lastUsed = .now
        if let session = entry.session {
            if session.isUsable { return session }
            entry.session = nil
            Task { await session.close() }
        }
        if let connecting = entry.connecting { return try await connecting.value }

        let connectDeadline = min(deadline, .now + options.connectTimeout)
        let credentials = self.credentials
        let sessionOptions = options.session
        let task = Task {
            let credential = try credentials(target)
            return try await SSHSession.connect(to: target, credential: credential, deadline: connectDeadline, options: sessionOptions)
        }
        entry.connecting = task
        do {
            let session = try await task.value
            entry.connecting = nil
            entry.session = session
            statistics.connectionsOpened += 1
            if entry.hadSession { statistics.reconnects += 1 }
            entry.hadSession = true
            return session
        } catch {
            entry.connecting = nil
            throw error
        }
    }

    /// Runs `command` on the target's session (see `SSHSession.exec`).
    public func exec(_ command: String, on target: SSHTarget, deadline: ContinuousClock.Instant, label: String? = nil,
                     limits: SSHOutputLimits = .standard) async throws -> SSHCommandResult {
        try await exec(command, on: target, issued: .now, deadline: deadline, label: label, limits: limits)
    }

    public func exec(_ command: String, on target: SSHTarget, timeout: Duration, label: String? = nil,
                     limits: SSHOutputLimits = .standard) async throws -> SSHCommandResult {
        let now = ContinuousClock.now
        return try await exec(command, on: target, issued: now, deadline: now + timeout, label: label, limits: limits)
    }

    private func exec(_ command: String, on target: SSHTarget, issued: ContinuousClock.Instant, deadline: ContinuousClock.Instant,
                      label: String?, limits: SSHOutputLimits) async throws -> SSHCommandResult {
        statistics.commands += 1
        return try await withSession(target, deadline: deadline, retryWhen: { $0.isSafeToRetryOnNewConnection }) { session in
            try await session.exec(command, issued: issued, deadline: deadline, label: label, limits: limits)
        }
    }

    /// Uploads atomically to the target (see `SSHSession.upload`).
    public func upload(_ data: Data, to path: String, on target: SSHTarget, mode: Int = 0o600, createDirectory: Bool = false,
                       deadline: ContinuousClock.Instant) async throws {
        statistics.uploads += 1
        try await withSession(target, deadline: deadline, retryWhen: { if case .connectionLost = $0 { true } else { false } }) { session in
            try await session.upload(data, to: path, mode: mode, createDirectory: createDirectory, deadline: deadline)
        }
    }

    /// Closes the target's session (the next call opens a new one).
    public func close(_ target: SSHTarget) async {
        guard let entry = entries.removeValue(forKey: target) else { return }
        entry.connecting?.cancel()
        await entry.session?.close()
    }

    /// Closes every session; the pool stays usable.
    public func closeAll() async {
        let all = entries
        entries.removeAll()
        for entry in all.values {
            entry.connecting?.cancel()
            await entry.session?.close()
        }
    }

    /// Targets with an open, usable session.
    public var openTargets: [SSHTarget] {
        entries.filter { $0.value.session?.isUsable == true }.map(\.key)
    }

    private func withSession<T: Sendable>(_ target: SSHTarget, deadline: ContinuousClock.Instant,
                                          retryWhen: (SSHError) -> Bool,
                                          _ body: (SSHSession) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            let session = try await session(for: target, deadline: deadline)
            let entry = entries[target]
            entry?.inFlight += 1
            defer {
                entry?.inFlight -= 1
                entry?.lastUsed = .now
            }
            do {
                return try await body(session)
            } catch let error as SSHError {
                if !session.isUsable { discard(session, of: target) }
                guard attempt == 0, retryWhen(error) else { throw error }
                attempt += 1
                statistics.retries += 1
            }
        }
    }

    private func discard(_ session: SSHSession, of target: SSHTarget) {
        guard let entry = entries[target], entry.session === session else { return }
        entry.session = nil
        Task { await session.close() }
    }

    private func closeIdleSessions() {
        let now = ContinuousClock.now
        for (target, entry) in entries where entry.inFlight == 0 && entry.connecting == nil
            && entry.lastUsed.duration(to: now) > options.idleTimeout {
            entries[target] = nil
            if let session = entry.session { Task { await session.close() } }
        }
    }
}
