import CSSH2
import Foundation

extension SSHConnection {
    enum UploadOutcome { case inPlace, temporaryLeft }

    /// Writes `bytes` to `temporary` (created exclusively with `mode`), then renames it to `path`.
    /// OpenSSH's SFTP (version 3) refuses to rename over an existing file; then the temporary file
    /// is left for the caller to move with `mv -f` (an atomic rename(2) on the server).
    func sftpUpload(_ bytes: Data, to path: String, temporary: String, mode: Int32, createDirectory: Bool,
                    directoryMode: Int32, operation: UInt64, issued: ContinuousClock.Instant,
                    deadline: ContinuousClock.Instant) async throws -> UploadOutcome {
        defer { loop.finished(operation: operation) }
        let started = issued
        let label = "upload \(path)"
        do {
            try await acquireChannel(operation, deadline)
        } catch {
            throw mapped(error, label: label, started: started, deadline: deadline, requestSent: false)
        }
        var sftp: OpaquePointer?
        var createdTemporary = false
        do {
            sftp = try await withOpenGate(operation, deadline) {
                try await call(operation, deadline) { libssh2_sftp_init($0) }
            }
            guard let sftp else {
                let code = transport.session.map(Libssh2.lastErrno) ?? Int32(LIBSSH2_ERROR_SOCKET_DISCONNECT)
                let reason = failure(code)
                if transport.isGone { throw SSHTransportGone(reason: reason, closedByCaller: false) }
                throw SSHError.channelRefused(endpoint: endpoint, reason: "the SFTP subsystem could not be started: \(reason)")
            }
            if createDirectory {
                try await makeDirectories(sftp, RemotePath.parent(of: path), mode: directoryMode, operation, deadline)
            }
            let flags = UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL | LIBSSH2_FXF_TRUNC)
            let handle = try await call(operation, deadline) { _ in cssh2_sftp_open(sftp, temporary, flags, Int(mode)) }
            guard let handle else { throw sftpError(sftp, "open", temporary) }
            createdTemporary = true
            try await write(bytes, to: handle, sftp: sftp, path: temporary, operation, deadline)
            // The server's umask may have narrowed the mode at open; set it exactly.
            let chmod = try await call(operation, deadline) { _ in cssh2_sftp_fsetstat(handle, UInt(mode)) }
            let closeRC = try await call(operation, deadline) { _ in cssh2_sftp_close(handle) }
            if chmod != 0 { throw sftpError(sftp, "chmod", temporary) }
            if closeRC != 0 { throw sftpError(sftp, "close", temporary) }

            let renamed = try await call(operation, deadline) { _ in cssh2_sftp_rename(sftp, temporary, path) }
            var outcome = UploadOutcome.inPlace
            if renamed != 0 {
                let status = libssh2_sftp_last_error(sftp)
                guard status == UInt(LIBSSH2_FX_FAILURE) || status == UInt(LIBSSH2_FX_FILE_ALREADY_EXISTS) else {
                    throw sftpError(sftp, "rename to \(path)", temporary)
                }
                outcome = .temporaryLeft
            }
            _ = try await call(operation, deadline) { _ in libssh2_sftp_shutdown(sftp) }
            releaseChannel()
            return outcome
        } catch {
            if let sftp, !transport.isGone {
                let abandoned = SFTPHandle(sftp: sftp, temporary: createdTemporary ? temporary : nil)
                Task { await self.abandon(abandoned) }
            } else {
                releaseChannel()
            }
            throw mapped(error, label: label, started: started, deadline: deadline, requestSent: sftp != nil)
        }
    }

    private func write(_ bytes: Data, to handle: OpaquePointer, sftp: OpaquePointer, path: String,
                       _ operation: UInt64, _ deadline: ContinuousClock.Instant) async throws {
        // One stable buffer: after EAGAIN libssh2 must be called again with the same data.
        let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: max(1, bytes.count))
        defer { buffer.deallocate() }
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
        var offset = 0
        while offset < bytes.count {
            // libssh2 splits a large buffer into SFTP packets and keeps many in flight (pipelining);
            // it returns as acknowledgements arrive and is called again with what is left.
            let chunk = min(bytes.count - offset, 1 << 20)
            let base = buffer.baseAddress! + offset
            let n = try await call(operation, deadline, { _ in libssh2_sftp_write(handle, base, chunk) },
                                   wouldBlock: { n, _ in n == Int(Libssh2.eagain) })
            if n < 0 { throw sftpError(sftp, "write", path, code: Int32(n)) }
            offset += n
        }
    }

    /// `mkdir -p` over SFTP: creates each missing directory from the top down.
    private func makeDirectories(_ sftp: OpaquePointer, _ directory: String, mode: Int32, _ operation: UInt64,
                                 _ deadline: ContinuousClock.Instant) async throws {
        for prefix in RemotePath.prefixes(of: directory) {
            var isDirectory: Int32 = 0
            let stat = try await call(operation, deadline) { _ in
                var attributes = LIBSSH2_SFTP_ATTRIBUTES()
                let rc = cssh2_sftp_stat(sftp, prefix, &attributes)
                if rc == 0 { isDirectory = cssh2_sftp_attrs_is_directory(&attributes) }
                return rc
            }
            if stat == 0 {
                if isDirectory == 0 {
                    throw SSHError.sftp(endpoint: endpoint, operation: "mkdir", path: prefix, reason: "it exists and is not a directory")
                }
                continue
            }
            guard libssh2_sftp_last_error(sftp) == UInt(LIBSSH2_FX_NO_SUCH_FILE) else { throw sftpError(sftp, "stat", prefix) }
            let made = try await call(operation, deadline) { _ in cssh2_sftp_mkdir(sftp, prefix, Int(mode)) }
            // Another writer may have created it meanwhile; the next stat or the open will tell.
            if made != 0 && libssh2_sftp_last_error(sftp) != UInt(LIBSSH2_FX_FAILURE)
                && libssh2_sftp_last_error(sftp) != UInt(LIBSSH2_FX_FILE_ALREADY_EXISTS) {
                throw sftpError(sftp, "mkdir", prefix)
            }
        }
    }

    /// Describes a failed SFTP call: the server's status for protocol errors, libssh2's otherwise.
    private func sftpError(_ sftp: OpaquePointer, _ operation: String, _ path: String, code: Int32? = nil) -> Error {
        let code = code ?? transport.session.map(Libssh2.lastErrno) ?? Int32(LIBSSH2_ERROR_SOCKET_DISCONNECT)
        if code == LIBSSH2_ERROR_SFTP_PROTOCOL {
            return SSHError.sftp(endpoint: endpoint, operation: operation, path: path,
                                 reason: Self.sftpStatus(libssh2_sftp_last_error(sftp)))
        }
        let reason = failure(code)
        if transport.isGone { return SSHTransportGone(reason: reason, closedByCaller: false) }
        return SSHError.sftp(endpoint: endpoint, operation: operation, path: path, reason: reason)
    }

    static func sftpStatus(_ status: UInt) -> String {
        switch status {
        case LIBSSH2_FX_NO_SUCH_FILE, LIBSSH2_FX_NO_SUCH_PATH: "no such file or directory"
        case LIBSSH2_FX_PERMISSION_DENIED: "permission denied"
        case LIBSSH2_FX_FAILURE: "the server reported a failure"
        case LIBSSH2_FX_FILE_ALREADY_EXISTS: "the file already exists"
        case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: "no space left on the file system"
        case LIBSSH2_FX_QUOTA_EXCEEDED: "quota exceeded"
        case LIBSSH2_FX_WRITE_PROTECT: "the file system is read-only"
        case LIBSSH2_FX_NOT_A_DIRECTORY: "a path component is not a directory"
        case LIBSSH2_FX_OP_UNSUPPORTED: "the server does not support this operation"
        default: "SFTP status \(status)"
        }
    }

    /// Removes a half-written temporary file (best effort) and closes an abandoned SFTP channel.
    func abandon(_ handle: SFTPHandle) async {
        let operation = loop.newOperationID()
        defer {
            loop.finished(operation: operation)
            releaseChannel()
        }
        guard !transport.isGone else { return }
        let deadline = ContinuousClock.now + options.abandonGrace
        do {
            if let temporary = handle.temporary {
                _ = try await call(operation, deadline) { _ in cssh2_sftp_unlink(handle.sftp, temporary) }
            }
            _ = try await call(operation, deadline) { _ in libssh2_sftp_shutdown(handle.sftp) }
        } catch {
            transport.markBroken("an abandoned SFTP channel could not be closed within \(SSHError.seconds(Self.seconds(options.abandonGrace)))")
        }
    }
}

/// An SFTP channel handed to the background task that cleans it up.
struct SFTPHandle: @unchecked Sendable {
    let sftp: OpaquePointer
    let temporary: String?
}
