#include <libpq-fe.h>
#include <poll.h>

/* PG_DIAG_* are character-literal macros, which Swift does not import: expose them as
   functions so error decoding never hard-codes the letters. */
static inline int cpg_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int cpg_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
static inline int cpg_diag_message_detail(void) { return PG_DIAG_MESSAGE_DETAIL; }
static inline int cpg_diag_message_hint(void) { return PG_DIAG_MESSAGE_HINT; }
static inline int cpg_diag_constraint_name(void) { return PG_DIAG_CONSTRAINT_NAME; }

/* Discards server NOTICE/WARNING messages: libpq's default prints them to stderr, and this
   library must print nothing itself (e.g. "relation ... already exists, skipping"). */
static inline void cpg_ignore_notice(void *arg, const char *message) { (void)arg; (void)message; }
static inline void cpg_silence_notices(PGconn *conn) {
    PQsetNoticeProcessor(conn, cpg_ignore_notice, (void *)0);
}
