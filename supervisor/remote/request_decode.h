/*
 * Requests on the wire (SPEC section 7): one client message, JSON text or
 * a pickled dict, decoded into a typed struct request through the op
 * table, or refused with an error code and a message; and the two ways a
 * reply leaves: the error object, and a JSON reply re-encoded as a pickle.
 *
 * Pure: the decoder sees the bytes and the limit it is given, never the
 * supervisor, so the unit tests and the fuzzer run the very code the
 * listener does. What needs the supervisor's state (does the pool exist,
 * is the key another pool's, what a job's data is for its pool's type, is
 * the connection allowed the op) is the executor's, in request.c.
 */
#ifndef MPSUP_REQUEST_DECODE_H
#define MPSUP_REQUEST_DECODE_H

#include <stddef.h>

#include "common/buf.h"
#include "config/config.h"
#include "ipc/jsontext.h"

/* At most this many jobs in one submit_many. */
#define REQUEST_MAX_BATCH	100000
/* An idempotency key has 1 to this many bytes. */
#define REQUEST_KEY_MAX		256
/* The signal names the signal op knows (config/parse.h's). */
#define REQUEST_SIGNAL_NAMES	\
	"HUP INT QUIT KILL USR1 USR2 TERM CONT STOP ABRT ALRM WINCH"
/* jobs and logs: how many records when "limit" is not given. */
#define REQUEST_JOBS_LIMIT	50
#define REQUEST_LOGS_LIMIT	100

/* Flags of an op. */
#define REQUEST_POOL	0x1	/* names a pool, looked up before the rest */
#define REQUEST_SUBMITS	0x2	/* adds jobs: the client's pools apply */

/*
 * The op table, one row per op: tag (REQUEST_OP_<tag>), the "op" string,
 * the least role a client needs (enum client_role: monitor < submit <
 * admin; SPEC section 11), flags, the decode function (request_decode.c) and the
 * handler that executes it (request.c). Each of the two files expands the
 * columns it needs, so the decoder links without the supervisor. Adding
 * an op is one row here and its two functions.
 */
#define REQUEST_OP_TABLE(X)						\
	X(SUBMIT, "submit", ROLE_SUBMIT, REQUEST_POOL | REQUEST_SUBMITS,	\
	    decode_submit, exec_submit)					\
	X(SUBMIT_MANY, "submit_many", ROLE_SUBMIT,			\
	    REQUEST_POOL | REQUEST_SUBMITS,				\
	    decode_submit_many, exec_submit_many)			\
	X(RESULT, "result", ROLE_MONITOR, 0,				\
	    decode_result, exec_result)					\
	X(CANCEL, "cancel", ROLE_SUBMIT, 0,				\
	    decode_cancel, exec_cancel)					\
	X(STATUS, "status", ROLE_MONITOR, 0,				\
	    decode_status, exec_status)					\
	X(STOP, "stop", ROLE_ADMIN, 0,				\
	    decode_nothing, exec_stop)					\
	X(PAUSE, "pause", ROLE_ADMIN, REQUEST_POOL,		\
	    decode_pool, exec_pause)					\
	X(RESUME, "resume", ROLE_ADMIN, REQUEST_POOL,		\
	    decode_pool, exec_resume)					\
	X(RELOAD, "reload", ROLE_ADMIN, 0,				\
	    decode_nothing, exec_reload)				\
	X(SCALE, "scale", ROLE_ADMIN, REQUEST_POOL,			\
	    decode_scale, exec_scale)					\
	X(JOBS, "jobs", ROLE_MONITOR, REQUEST_POOL,			\
	    decode_jobs, exec_jobs)					\
	X(LOGS, "logs", ROLE_MONITOR, REQUEST_POOL,			\
	    decode_logs, exec_logs)					\
	X(RESTART, "restart", ROLE_ADMIN, REQUEST_POOL,		\
	    decode_pool, exec_restart)					\
	X(SIGNAL, "signal", ROLE_ADMIN, REQUEST_POOL,			\
	    decode_signal, exec_signal)					\
	X(DOWN, "down", ROLE_ADMIN, REQUEST_POOL,			\
	    decode_pool, exec_down)					\
	X(UP, "up", ROLE_ADMIN, REQUEST_POOL,				\
	    decode_pool, exec_up)					\
	X(DEAD, "dead", ROLE_MONITOR, REQUEST_POOL,			\
	    decode_dead, exec_dead)					\
	X(RETRY, "retry", ROLE_SUBMIT, REQUEST_POOL,			\
	    decode_retry, exec_retry)

#define REQUEST_OP_ENUM(tag, name, role, flags, decode, exec)		\
	REQUEST_OP_##tag,
enum request_op_id {
	REQUEST_OP_TABLE(REQUEST_OP_ENUM)
	REQUEST_NOPS
};
#undef REQUEST_OP_ENUM

/* An op as the decoder knows it: a row of the table without its handler. */
struct request_op {
	enum request_op_id	 id;
	const char		*name;
	int			 role;
	int			 flags;
};

/* Why a message was refused; request_error_name() is the wire code. */
enum request_error {
	REQUEST_OK,
	REQUEST_BAD_REQUEST,	/* not a request, or a member is wrong */
	REQUEST_UNKNOWN_OP,	/* "op" names no op of the table */
	REQUEST_TOO_LARGE,	/* more than REQUEST_MAX_BATCH jobs */
	REQUEST_NERRORS
};

/* One job of a submit (the request itself) or of submit_many's "jobs". */
struct request_job {
	struct jsontext_span	 desc;	/* its description, a JSON object */
	struct jsontext_span	 data;	/* its "data" member (p NULL: none) */
	char			*key;	/* "key", or NULL */
	/* Flow fields: "priority", "delay" or "not_before", "group". */
	int			 priority;
	double			 delay;		/* seconds, or -1: none */
	double			 not_before;	/* wall clock, or 0: none */
	char			*group;		/* or NULL */
};

/*
 * A decoded request. Spans are borrowed from the message (or, for a
 * pickle, from text): they are valid while both are.
 */
struct request {
	const struct request_op	*op;		/* NULL: not known */
	int			 pickled;	/* reply with a pickle */

	enum request_error	 error;
	char			*message;	/* for the client, with error */
	/*
	 * The error comes after jobs[0..njobs), which the executor checks
	 * against the pool first: a client learns of the first wrong job,
	 * in order, whichever side finds it.
	 */
	int			 error_after_jobs;

	int			 has_pool;	/* "pool" is a string */
	char			*pool;		/* it, or NULL if it has a NUL */
	struct jsontext_span	 id;		/* "id", quotes included */
	double			 timeout;	/* seconds, or -1: none */
	int			 wait;		/* "wait": true */
	int			 workers;	/* scale */
	unsigned		 states;	/* jobs: JOBLIST_STATE() bits, 0 all */
	double			 since;		/* jobs: seconds back, or -1 */
	size_t			 limit;		/* jobs, logs: at most */
	int			 follow;	/* logs: "follow": true */
	char			*job;		/* logs: "job", or NULL */
	int			 signum;	/* signal */
	struct jsontext_span	 ids;		/* retry: "ids", strings */
	int			 all;		/* retry: "all": true */
	struct request_job	*jobs;
	size_t			 njobs;
	size_t			 jobs_room;	/* jobs[] has room for */
	struct buf		 text;		/* a pickle's JSON text */
};

/*
 * Decode msg[0..len): a pickle if it starts with the PROTO opcode (0x80),
 * else JSON text; max_message caps a pickle's JSON text. Fills *req
 * either way (free it with request_free()); returns 0, or -1 with
 * req->error and req->message (and req->op, if the op was known).
 */
int		 request_decode(const void *msg, size_t len,
		    size_t max_message, struct request *req);
void		 request_free(struct request *);
/*
 * The decoder's own: append the job described at desc (its object, up to
 * the end of the list it is in) to req->jobs, NULL or the message for a
 * malformed one (the job stays, for request_free); let go of req->jobs
 * (request_job.c).
 */
const char	*request_job_add(struct request *,
		    const struct jsontext_span *desc);
void		 request_jobs_free(struct request *);
/* The table's row for an op name, or NULL. */
const struct request_op	*request_op_find(const char *name);
/* "bad_request", "unknown_op", "too_large" (NULL for REQUEST_OK). */
const char	*request_error_name(enum request_error);

/* Write b as the error reply {"ok":false,"error":code,"message":msg}. */
void		 request_error_reply(struct buf *b, const char *code,
		    const char *msg);
/* Re-encode a JSON reply body as a pickle, in place. */
void		 request_pickle_reply(struct buf *body);

#endif
