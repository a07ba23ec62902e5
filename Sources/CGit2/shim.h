#ifndef BEAMSYNC_CGIT2_SHIM_H
#define BEAMSYNC_CGIT2_SHIM_H

/*
 * libgit2 1.5.1 for BeamsyncGit, plus the pieces of its dependencies that BeamsyncGit
 * calls directly:
 *   - libssh2's knownhost API, to check an SSH host key against a configured known_hosts
 *     file (libgit2 1.5 only consults ~/.ssh/known_hosts);
 *   - mbedTLS's X.509 verifier (the TLS library Debian's libgit2 uses), to verify an HTTPS
 *     server certificate against a per-remote CA file (libgit2 1.5 only has a process-wide
 *     GIT_OPT_SET_SSL_CERT_LOCATIONS);
 *   - mbedTLS's SHA-256, to name the key inside an SSH commit signature by the fingerprint
 *     ssh-keygen prints, also when ssh-keygen refuses the signature.
 * Variadic functions and function-like macros are not visible to Swift: wrap them here.
 * So are glibc's GNU extensions (Swift's Glibc module is built without _GNU_SOURCE): the two
 * that start verification tools safely are declared and wrapped here too.
 */
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <libssh2.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>

/* glibc 2.9 and 2.34; declared by glibc only under _GNU_SOURCE / __USE_MISC. */
extern int pipe2(int fds[2], int flags);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/* A pipe whose two ends are closed on exec, created atomically (no window for another
 * thread's child to inherit them). */
static inline int cgit2_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

/* Makes a spawned child close every descriptor from `from` on. */
static inline int cgit2_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

static inline int cgit2_set_owner_validation(int on) {
    return git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, on);
}

static inline LIBSSH2_SESSION *cgit2_ssh_session_new(void) {
    return libssh2_session_init_ex(NULL, NULL, NULL, NULL);
}

static inline int cgit2_knownhost_readfile(LIBSSH2_KNOWNHOSTS *hosts, const char *file) {
    return libssh2_knownhost_readfile(hosts, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}

static inline int cgit2_sha256(const unsigned char *input, size_t length, unsigned char output[32]) {
    return mbedtls_sha256_ret(input, length, output, 0);
}

/* Key-type bits for libssh2_knownhost_checkp, indexed by git_cert_ssh_raw_type_t. 0 = unknown. */
static inline int cgit2_knownhost_keytype(int git_raw_type) {
    switch (git_raw_type) {
    case GIT_CERT_SSH_RAW_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case GIT_CERT_SSH_RAW_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return 0;
    }
}

/* Returns one of LIBSSH2_KNOWNHOST_CHECK_{MATCH,MISMATCH,NOTFOUND,FAILURE}. */
static inline int cgit2_knownhost_check(LIBSSH2_KNOWNHOSTS *hosts, const char *host, int port,
                                        const char *key, size_t key_len, int keytype) {
    return libssh2_knownhost_checkp(hosts, host, port, key, key_len,
                                    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keytype,
                                    NULL);
}

/*
 * Verifies a server certificate (DER, as libgit2 hands it to certificate_check) against the
 * CA certificates in `ca_file` and the expected host name. Returns 0 when it verifies;
 * otherwise non-zero with a human-readable reason in `err`.
 */
static inline int cgit2_verify_x509(const unsigned char *der, size_t der_len, const char *ca_file,
                                    const char *host, char *err, size_t err_len) {
    mbedtls_x509_crt leaf, ca;
    uint32_t flags = 0;
    int rc;
    err[0] = '\0';
    mbedtls_x509_crt_init(&leaf);
    mbedtls_x509_crt_init(&ca);
    rc = mbedtls_x509_crt_parse_der(&leaf, der, der_len);
    if (rc != 0) {
        snprintf(err, err_len, "the server certificate cannot be parsed (mbedTLS error -0x%04x)", (unsigned)-rc);
        goto done;
    }
    rc = mbedtls_x509_crt_parse_file(&ca, ca_file);
    if (rc < 0 || ca.version == 0) {
        snprintf(err, err_len, "the CA file holds no readable PEM/DER certificate (mbedTLS error -0x%04x)",
                 (unsigned)(rc < 0 ? -rc : 0));
        rc = rc < 0 ? rc : -1;
        goto done;
    }
    rc = mbedtls_x509_crt_verify(&leaf, &ca, NULL, host, &flags, NULL, NULL);
    if (rc != 0) {
        char info[512];
        size_t n;
        info[0] = '\0';
        mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        n = strlen(info);
        while (n > 0 && (info[n - 1] == '\n' || info[n - 1] == ' ')) info[--n] = '\0';
        for (size_t i = 0; i < n; i++) if (info[i] == '\n') info[i] = ';';
        snprintf(err, err_len, "%s", n > 0 ? info : "certificate verification failed");
    }
done:
    mbedtls_x509_crt_free(&leaf);
    mbedtls_x509_crt_free(&ca);
    return rc;
}


/*
 * A plain TCP stream for libgit2, registered in place of its built-in one (git_stream_register)
 * so that beamsync decides, per connection, whether a host and port may be reached: a token
 * given for one origin must never follow a redirect to another (libgit2 1.5 hands the stored
 * credential to whatever server a redirect names, and treats another port as the same site).
 * Everything else matches libgit2's own socket stream, including the layout: libgit2's SSH
 * transport reads the descriptor through its git_socket_stream type {parent, host, port, s}.
 * TLS (mbedTLS) is layered on top of this stream by libgit2 as before.
 */
#include <git2/sys/stream.h>
#include <netdb.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    git_stream parent;
    char *host;
    char *port;
    int s;
} cgit2_socket_stream;

static int cgit2_socket_connect(git_stream *stream) {
    cgit2_socket_stream *st = (cgit2_socket_stream *)stream;
    struct addrinfo hints, *info = NULL, *p;
    int rc, fd = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    if ((rc = getaddrinfo(st->host, st->port, &hints, &info)) != 0) {
        git_error_set_str(GIT_ERROR_NET, gai_strerror(rc));
        return -1;
    }
    for (p = info; p != NULL; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, p->ai_addr, p->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(info);
    if (fd < 0) {
        char message[300];
        snprintf(message, sizeof message, "failed to connect to %s:%s: %s", st->host, st->port, strerror(errno));
        git_error_set_str(GIT_ERROR_NET, message);
        return -1;
    }
    st->s = fd;
    return 0;
}

static ssize_t cgit2_socket_read(git_stream *stream, void *data, size_t len) {
    cgit2_socket_stream *st = (cgit2_socket_stream *)stream;
    ssize_t n;
    do { n = recv(st->s, data, len, 0); } while (n < 0 && errno == EINTR);
    if (n < 0) git_error_set_str(GIT_ERROR_NET, strerror(errno));
    return n;
}

static ssize_t cgit2_socket_write(git_stream *stream, const char *data, size_t len, int flags) {
    cgit2_socket_stream *st = (cgit2_socket_stream *)stream;
    ssize_t n;
    (void)flags;
    do { n = send(st->s, data, len, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n < 0) git_error_set_str(GIT_ERROR_NET, strerror(errno));
    return n;
}

static int cgit2_socket_close(git_stream *stream) {
    cgit2_socket_stream *st = (cgit2_socket_stream *)stream;
    int rc = 0;
    if (st->s >= 0) rc = close(st->s);
    st->s = -1;
    return rc;
}

static void cgit2_socket_free(git_stream *stream) {
    cgit2_socket_stream *st = (cgit2_socket_stream *)stream;
    free(st->host);
    free(st->port);
    free(st);
}

/* A new, unconnected stream to host:port (libgit2 calls connect next). */
static inline int cgit2_socket_stream_new(git_stream **out, const char *host, const char *port) {
    cgit2_socket_stream *st = calloc(1, sizeof *st);
    if (st == NULL) return -1;
    st->host = strdup(host);
    st->port = strdup(port);
    st->s = -1;
    if (st->host == NULL || st->port == NULL) {
        cgit2_socket_free(&st->parent);
        return -1;
    }
    st->parent.version = GIT_STREAM_VERSION;
    st->parent.connect = cgit2_socket_connect;
    st->parent.read = cgit2_socket_read;
    st->parent.write = cgit2_socket_write;
    st->parent.close = cgit2_socket_close;
    st->parent.free = cgit2_socket_free;
    *out = &st->parent;
    return 0;
}

static inline int cgit2_register_socket_stream(int (*init)(git_stream **, const char *, const char *)) {
    git_stream_registration registration;
    memset(&registration, 0, sizeof registration);
    registration.version = GIT_STREAM_VERSION;
    registration.init = init;
    return git_stream_register(GIT_STREAM_STANDARD, &registration);
}

#endif
