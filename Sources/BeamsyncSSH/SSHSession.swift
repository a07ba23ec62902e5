import Foundation

/// An authenticated SSH connection to one target, with its own thread (see `SSHEventLoop`).
///
/// Commands and uploads may be issued concurrently: each gets its own channel, up to
/// `SSHSessionOptions.maxConcurrentChannels` at once, multiplexed over the one connection.
/// Every call takes a deadline; none of them blocks a Swift concurrency thread.
public final class SSHSession: Sendable {
    public let target: SSHTarget
    /// How the connection was opened (timings per step, server banner, host key).
    public let report: SSHConnectReport
    private let connection: SSHConnection
    private let health: SSHSessionHealth

    private init(target: SSHTarget, report: SSHConnectReport, connection: SSHConnection) {
        self.target = target
        self.report = report
        self.connection = connection
        self.health = connection.transport.health
    }

    deinit {
        let connection = self.connection
        if health.state == .open { Task { await connection.close() } }
    }

    /// Connects, checks the host key and authenticates, all before `deadline`.
    public static func connect(to target: SSHTarget, credential: SSHCredential, deadline: ContinuousClock.Instant,
                               options: SSHSessionOptions = SSHSessionOptions()) async throws -> SSHSession {
        try await connect(to: target, credential: credential, issued: .now, deadline: deadline, options: options)
    }

    static func connect(to target: SSHTarget, credential: SSHCredential, issued: ContinuousClock.Instant,
                        deadline: ContinuousClock.Instant, options: SSHSessionOptions) async throws -> SSHSession {
        let connection = SSHConnection(target: target, options: options)
        let operation = connection.loop.newOperationID()
        let report = try await withTaskCancellationHandler {
            try await connection.connect(credential: credential, operation: operation, issued: issued, deadline: deadline)
        } onCancel: {
            connection.loop.cancel(operation: operation)
        }
        return SSHSession(target: target, report: report, connection: connection)
    }

    /// `connect`, also returning the time each step took (the failed one included) when it fails.
    static func connectTimed(to target: SSHTarget, credential: SSHCredential, deadline: ContinuousClock.Instant,
                             options: SSHSessionOptions) async -> (Result<SSHSession, SSHError>, [SSHStep: Duration]) {
        let connection = SSHConnection(target: target, options: options)
        let operation = connection.loop.newOperationID()
        do {
            let report = try await withTaskCancellationHandler {
                try await connection.connect(credential: credential, operation: operation, issued: .now, deadline: deadline)
            } onCancel: {
                connection.loop.cancel(operation: operation)
            }
            return (.success(SSHSession(target: target, report: report, connection: connection)), report.timings)
        } catch {
            let failure = error as? SSHError ?? .library(message: "\(error)")
            return (.failure(failure), await connection.stepTimings)
        }
    }

    public static func connect(to target: SSHTarget, credential: SSHCredential, timeout: Duration,
                               options: SSHSessionOptions = SSHSessionOptions()) async throws -> SSHSession {
        let now = ContinuousClock.now
        return try await connect(to: target, credential: credential, issued: now, deadline: now + timeout, options: options)
    }

    /// False once the connection broke (the server went away, a keepalive failed) or was closed.
    public var isUsable: Bool { health.state == .open }

    /// Why the session is unusable, if it is.
    public var brokenReason: String? {
        switch health.state {
        case .open: nil
        case .broken(let reason): reason
        case .closed: "the session was closed"
        }
    }

    /// Runs `command` (through the remote user's login shell, as sshd does) and returns its exit
    /// status and output. `label` names the command in errors (default: its first word), so
    /// arguments never end up in logs.
    public func exec(_ command: String, deadline: ContinuousClock.Instant, label: String? = nil,
                     limits: SSHOutputLimits = .standard) async throws -> SSHCommandResult {
        try await exec(command, issued: .now, deadline: deadline, label: label, limits: limits)
    }

    func exec(_ command: String, issued: ContinuousClock.Instant, deadline: ContinuousClock.Instant, label: String?,
              limits: SSHOutputLimits) async throws -> SSHCommandResult {
        let label = label ?? Self.defaultLabel(command)
        let operation = connection.loop.newOperationID()
        guard isUsable else { throw unusable(requestSent: false) }
        return try await withTaskCancellationHandler {
            try await connection.exec(command, label: label, limits: limits, operation: operation, issued: issued, deadline: deadline)
        } onCancel: {
            connection.loop.cancel(operation: operation)
        }
    }

    public func exec(_ command: String, timeout: Duration, label: String? = nil,
                     limits: SSHOutputLimits = .standard) async throws -> SSHCommandResult {
        let now = ContinuousClock.now
        return try await exec(command, issued: now, deadline: now + timeout, label: label, limits: limits)
    }

    /// Uploads `data` to `path` atomically: it is written over SFTP to `path.tmp-<uuid>` in the
    /// same directory with `mode` (0600 by default), then renamed into place, so a reader sees
    /// either the old file or the complete new one. With `createDirectory`, missing parent
    /// directories are created with `directoryMode`.
    public func upload(_ data: Data, to path: String, mode: Int = 0o600, createDirectory: Bool = false,
                       directoryMode: Int = 0o700, deadline: ContinuousClock.Instant) async throws {
        let issued = ContinuousClock.now
        guard isUsable else { throw unusable(requestSent: false) }
        let temporary = "\(path).tmp-\(UUID().uuidString.lowercased())"
        let operation = connection.loop.newOperationID()
        let outcome = try await withTaskCancellationHandler {
            try await connection.sftpUpload(data, to: path, temporary: temporary, mode: Int32(mode),
                                            createDirectory: createDirectory, directoryMode: Int32(directoryMode),
                                            operation: operation, issued: issued, deadline: deadline)
        } onCancel: {
            connection.loop.cancel(operation: operation)
        }
        guard outcome == .temporaryLeft else { return }
        // `path` exists and SFTP v3 cannot replace it: rename(2) on the server does, atomically.
        let move = try await exec("mv -f -- \(ShellQuote.quote(temporary)) \(ShellQuote.quote(path))",
                                  deadline: deadline, label: "mv \(RemotePath.name(of: path))")
        guard move.succeeded else {
            _ = try? await exec("rm -f -- \(ShellQuote.quote(temporary))", deadline: deadline, label: "rm")
            throw SSHError.sftp(endpoint: target.endpoint, operation: "rename", path: path,
                                reason: "mv exited with \(move.exitStatus.map(String.init) ?? move.exitSignal ?? "?"): "
                                    + move.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    public func upload(_ data: Data, to path: String, mode: Int = 0o600, createDirectory: Bool = false,
                       directoryMode: Int = 0o700, timeout: Duration) async throws {
        try await upload(data, to: path, mode: mode, createDirectory: createDirectory, directoryMode: directoryMode,
                         deadline: .now + timeout)
    }

    /// Says goodbye to the server (briefly) and frees the connection and its thread.
    public func close() async {
        await connection.close()
    }

    private func unusable(requestSent: Bool) -> SSHError {
        switch health.state {
        case .closed, .open: .closed(endpoint: target.endpoint)
        case .broken(let reason): .connectionLost(endpoint: target.endpoint, reason: reason, requestSent: requestSent)
        }
    }

    static func defaultLabel(_ command: String) -> String {
        let word = command.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).first.map(String.init) ?? ""
        return word.count > 40 ? String(word.prefix(40)) + "…" : word
    }
}
