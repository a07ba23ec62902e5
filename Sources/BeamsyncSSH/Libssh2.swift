import CSSH2
import Foundation

/// Process-wide libssh2 facts: one-time initialisation and how to read its error codes.
enum Libssh2 {
    /// `libssh2_init` is not thread-safe; a lazily initialised global runs it exactly once.
    private static let initialised: Bool = libssh2_init(0) == 0

    static func initialise() throws {
        guard initialised else {
            throw SSHError.library(message: "libssh2_init failed (the crypto backend could not be initialised)")
        }
    }

    static let eagain = Int32(LIBSSH2_ERROR_EAGAIN)

    /// Codes after which the transport is unusable. Everything else (a refused channel, an SFTP
    /// status, a denied request) concerns one operation and leaves the session open.
    static func isSessionFatal(_ code: Int32) -> Bool {
        switch code {
        case LIBSSH2_ERROR_CHANNEL_OUTOFORDER, LIBSSH2_ERROR_CHANNEL_FAILURE, LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED,
             LIBSSH2_ERROR_CHANNEL_UNKNOWN, LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED, LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED,
             LIBSSH2_ERROR_CHANNEL_CLOSED, LIBSSH2_ERROR_CHANNEL_EOF_SENT, LIBSSH2_ERROR_SFTP_PROTOCOL,
             LIBSSH2_ERROR_REQUEST_DENIED, LIBSSH2_ERROR_INVAL, LIBSSH2_ERROR_BUFFER_TOO_SMALL,
             LIBSSH2_ERROR_CHANNEL_WINDOW_FULL, LIBSSH2_ERROR_FILE, LIBSSH2_ERROR_KEYFILE_AUTH_FAILED,
             LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED, LIBSSH2_ERROR_METHOD_NOT_SUPPORTED,
             LIBSSH2_ERROR_OUT_OF_BOUNDARY, LIBSSH2_ERROR_PUBLICKEY_PROTOCOL:
            return false
        default:
            return code < 0 && code != eagain
        }
    }

    /// libssh2's message for the session's most recent error ("" when there is none).
    static func lastMessage(_ session: OpaquePointer) -> String {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        _ = libssh2_session_last_error(session, &message, &length, 0)
        guard let message, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: message, count: Int(length)), as: UTF8.self)
    }

    static func lastErrno(_ session: OpaquePointer) -> Int32 {
        libssh2_session_last_errno(session)
    }
}
