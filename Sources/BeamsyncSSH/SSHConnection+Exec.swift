import CSSH2
import Foundation

extension SSHConnection {
    /// Runs `command` on a new channel and collects its exit status and output (bounded by
    /// `limits`). At the deadline the caller gets `commandTimedOut` at once and the channel is
    /// closed in the background; the connection stays usable.
    func exec(_ command: String, label: String, limits: SSHOutputLimits, operation: UInt64,
              issued: ContinuousClock.Instant, deadline: ContinuousClock.Instant) async throws -> SSHCommandResult {
        defer { loop.finished(operation: operation) }
        let started = issued
        var channel: OpaquePointer?
        var requestSent = false
        do {
            try await acquireChannel(operation, deadline)
        } catch {
            throw mapped(error, label: label, started: started, deadline: deadline, requestSent: false)
        }
        do {
            channel = try await openChannel(operation, deadline)
            guard let channel else { throw SSHError.library(message: "no channel") }
            requestSent = true
            let bytes = Array(command.utf8)
            let execRC = try await call(operation, deadline) { _ in
                bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { cssh2_channel_exec(channel, $0.baseAddress, UInt32($0.count)) }
                }
            }
            if execRC != 0 {
                let reason = failure(execRC)
                if transport.isGone { throw SSHTransportGone(reason: reason, closedByCaller: false) }
                throw SSHError.commandFailed(endpoint: endpoint, command: label, reason: "the server refused to start it: \(reason)")
            }
            // The command reads end-of-file on stdin rather than waiting for input forever.
            _ = try await call(operation, deadline) { _ in libssh2_channel_send_eof(channel) }

            let (stdout, stderr) = try await readOutput(channel, label: label, limits: limits, operation, deadline)

            _ = try await call(operation, deadline) { _ in libssh2_channel_close(channel) }
            _ = try await call(operation, deadline) { _ in libssh2_channel_wait_closed(channel) }
            let (status, signal) = exitOf(channel)
            _ = try await call(operation, deadline) { _ in libssh2_channel_free(channel) }
            releaseChannel()
            return SSHCommandResult(exitStatus: signal == nil ? status : nil, exitSignal: signal,
                                    stdout: stdout.data, stderr: stderr.data,
                                    stdoutTruncated: stdout.truncated, stderrTruncated: stderr.truncated,
                                    duration: started.duration(to: .now))
        } catch {
            if let channel, !transport.isGone {
                let abandoned = ChannelHandle(channel)
                Task { await self.abandon(abandoned) }   // keeps the slot until the channel is closed
            } else {
                releaseChannel()
            }
            throw mapped(error, label: label, started: started, deadline: deadline, requestSent: requestSent)
        }
    }

    /// Opens a session channel (one open at a time: libssh2 keeps that state per session).
    func openChannel(_ operation: UInt64, _ deadline: ContinuousClock.Instant) async throws -> OpaquePointer {
        let channel = try await withOpenGate(operation, deadline) {
            try await call(operation, deadline) { cssh2_channel_open_session($0) }
        }
        if let channel { return channel }
        let code = transport.session.map(Libssh2.lastErrno) ?? Int32(LIBSSH2_ERROR_SOCKET_DISCONNECT)
        let reason = failure(code)
        if transport.isGone { throw SSHTransportGone(reason: reason, closedByCaller: false) }
        throw SSHError.channelRefused(endpoint: endpoint, reason: reason)
    }

    /// Reads stdout and stderr until the remote side sends end-of-file.
    private func readOutput(_ channel: OpaquePointer, label: String, limits: SSHOutputLimits, _ operation: UInt64,
                            _ deadline: ContinuousClock.Instant) async throws -> (BoundedOutput, BoundedOutput) {
        var stdout = BoundedOutput(limit: limits.stdout)
        var stderr = BoundedOutput(limit: limits.stderr)
        let size = 32 << 10
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
        defer { buffer.deallocate() }
        while true {
            try await turn(operation, deadline)
            _ = try transport.usableSession()
            var progressed = false
            for stream: Int32 in [0, Int32(SSH_EXTENDED_DATA_STDERR)] {
                let n = libssh2_channel_read_ex(channel, stream, buffer, size)
                afterCall(operation, completed: n != Int(Libssh2.eagain))
                if n > 0 {
                    progressed = true
                    let bytes = UnsafeRawBufferPointer(start: buffer, count: n)
                    if stream == 0 { stdout.append(bytes) } else { stderr.append(bytes) }
                } else if n < 0 && n != Int(Libssh2.eagain) {
                    let reason = failure(Int32(n))
                    if transport.isGone { throw SSHTransportGone(reason: reason, closedByCaller: false) }
                    throw SSHError.commandFailed(endpoint: endpoint, command: label, reason: "reading its output failed: \(reason)")
                }
            }
            if progressed { continue }
            if libssh2_channel_eof(channel) != 0 { return (stdout, stderr) }
            try await blocked(operation, deadline)
        }
    }

    /// Exit status and signal, once the channel is closed.
    private func exitOf(_ channel: OpaquePointer) -> (Int32, String?) {
        let status = libssh2_channel_get_exit_status(channel)
        var name: UnsafeMutablePointer<CChar>?
        var nameLength = 0
        guard libssh2_channel_get_exit_signal(channel, &name, &nameLength, nil, nil, nil, nil) == 0, let name else {
            return (status, nil)
        }
        let signal = String(decoding: UnsafeRawBufferPointer(start: name, count: nameLength), as: UTF8.self)
        if let session = transport.session { libssh2_free(session, name) }
        return (status, signal.isEmpty ? nil : signal)
    }

    /// Closes a channel whose operation gave up (deadline or cancellation) and frees its slot. If
    /// the close cannot complete within `abandonGrace`, the connection is dropped.
    func abandon(_ handle: ChannelHandle) async {
        let operation = loop.newOperationID()
        defer {
            loop.finished(operation: operation)
            releaseChannel()
        }
        guard !transport.isGone else { return }
        let deadline = ContinuousClock.now + options.abandonGrace
        do {
            _ = try await call(operation, deadline) { _ in libssh2_channel_free(handle.pointer) }
        } catch {
            transport.markBroken("a timed-out channel could not be closed within \(SSHError.seconds(Self.seconds(options.abandonGrace)))")
        }
    }

    /// Turns internal outcomes (deadline, cancellation, a dropped transport) into `SSHError`.
    func mapped(_ error: Error, label: String, started: ContinuousClock.Instant, deadline: ContinuousClock.Instant,
                requestSent: Bool) -> Error {
        switch error {
        case is SSHWaitExpired:
            return SSHError.commandTimedOut(endpoint: endpoint, command: label, seconds: Self.seconds(started.duration(to: deadline)))
        case is CancellationError:
            return SSHError.cancelled(endpoint: endpoint)
        case let gone as SSHTransportGone:
            if gone.closedByCaller { return SSHError.closed(endpoint: endpoint) }
            return SSHError.connectionLost(endpoint: endpoint, reason: gone.reason, requestSent: requestSent)
        default:
            return error
        }
    }
}

/// A libssh2 channel handed to the background task that closes it.
struct ChannelHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

/// Output kept up to a limit; the rest is counted as dropped.
struct BoundedOutput {
    let limit: Int
    private(set) var data = Data()
    private(set) var truncated = false

    init(limit: Int) { self.limit = limit }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let room = max(0, limit - data.count)
        if bytes.count > room { truncated = true }
        if room > 0 { data.append(contentsOf: bytes.prefix(room)) }
    }
}
