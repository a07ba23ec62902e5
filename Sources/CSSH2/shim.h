#ifndef BEAMSYNC_CSSH2_SHIM_H
#define BEAMSYNC_CSSH2_SHIM_H

/*
 * libssh2 1.10 for BeamsyncSSH. Much of libssh2's convenience API is function-like macros,
 * which Swift does not import: the few that BeamsyncSSH needs are wrapped here, spelled out
 * with the *_ex functions they expand to. Every session runs in non-blocking mode, so each of
 * these can return LIBSSH2_ERROR_EAGAIN (or NULL with that as the session's last errno).
 */
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/* The descriptor a session's event loop sleeps on besides its socket; other threads write to it
 * to wake the loop. (eventfd's flags are macros Swift does not import.) */
static inline int cssh2_wakeup_fd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/*
 * Bytes libssh2 has read from the session's socket. With several channels on one connection, a
 * call made for one channel also reads (and buffers) packets for the others; an operation
 * waiting for its socket to become readable would then wait forever. The event loop compares
 * this counter around every call and, when it moved, lets the waiting operations look again.
 */
typedef struct {
    unsigned long long received;
} cssh2_counters;

/* libssh2's own recv (same return convention: bytes, 0 at end of stream, -errno), counting. */
static ssize_t cssh2_counting_recv(libssh2_socket_t fd, void *buffer, size_t length, int flags, void **abstract) {
    ssize_t n = recv(fd, buffer, length, flags);
    if (n < 0) {
        if (errno == ENOENT || errno == EWOULDBLOCK) return -EAGAIN;
        return -errno;
    }
    if (abstract && *abstract) ((cssh2_counters *)*abstract)->received += (unsigned long long)n;
    return n;
}

static inline LIBSSH2_SESSION *cssh2_session_new(cssh2_counters *counters) {
    LIBSSH2_SESSION *session = libssh2_session_init_ex(NULL, NULL, NULL, counters);
    if (session) libssh2_session_callback_set(session, LIBSSH2_CALLBACK_RECV, (void *)cssh2_counting_recv);
    return session;
}

static inline int cssh2_session_disconnect(LIBSSH2_SESSION *session, const char *description) {
    return libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, description, "");
}

static inline LIBSSH2_CHANNEL *cssh2_channel_open_session(LIBSSH2_SESSION *session) {
    return libssh2_channel_open_ex(session, "session", sizeof("session") - 1,
                                   LIBSSH2_CHANNEL_WINDOW_DEFAULT, LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}

static inline int cssh2_channel_exec(LIBSSH2_CHANNEL *channel, const char *command, unsigned int length) {
    return libssh2_channel_process_startup(channel, "exec", sizeof("exec") - 1, command, length);
}

static inline LIBSSH2_SFTP_HANDLE *cssh2_sftp_open(LIBSSH2_SFTP *sftp, const char *path, unsigned long flags, long mode) {
    return libssh2_sftp_open_ex(sftp, path, (unsigned int)strlen(path), flags, mode, LIBSSH2_SFTP_OPENFILE);
}

static inline int cssh2_sftp_close(LIBSSH2_SFTP_HANDLE *handle) {
    return libssh2_sftp_close_handle(handle);
}

static inline int cssh2_sftp_fsetstat(LIBSSH2_SFTP_HANDLE *handle, unsigned long permissions) {
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    memset(&attrs, 0, sizeof attrs);
    attrs.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
    attrs.permissions = permissions;
    return libssh2_sftp_fstat_ex(handle, &attrs, 1);
}

/* 1 when `attrs` (filled by a successful stat) describes a directory, 0 when not. */
static inline int cssh2_sftp_attrs_is_directory(const LIBSSH2_SFTP_ATTRIBUTES *attrs) {
    return (attrs->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) && LIBSSH2_SFTP_S_ISDIR(attrs->permissions);
}

static inline int cssh2_sftp_stat(LIBSSH2_SFTP *sftp, const char *path, LIBSSH2_SFTP_ATTRIBUTES *attrs) {
    return libssh2_sftp_stat_ex(sftp, path, (unsigned int)strlen(path), LIBSSH2_SFTP_STAT, attrs);
}

static inline int cssh2_sftp_mkdir(LIBSSH2_SFTP *sftp, const char *path, long mode) {
    return libssh2_sftp_mkdir_ex(sftp, path, (unsigned int)strlen(path), mode);
}

static inline int cssh2_sftp_unlink(LIBSSH2_SFTP *sftp, const char *path) {
    return libssh2_sftp_unlink_ex(sftp, path, (unsigned int)strlen(path));
}

/* OpenSSH speaks SFTP version 3, which ignores rename flags and refuses to replace an existing file. */
static inline int cssh2_sftp_rename(LIBSSH2_SFTP *sftp, const char *from, const char *to) {
    return libssh2_sftp_rename_ex(sftp, from, (unsigned int)strlen(from), to, (unsigned int)strlen(to),
                                  LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE);
}

#endif
