/*
 * Inside the Redis queue (queue_redis*.c): the state its files share.
 * Included only by them.
 *
 * The model. Every pool's queue is a Redis stream with one consumer
 * group; each node reads it as consumer NODE:BOOT. A job's record is a
 * hash; the Lua scripts of queue_redis_lua.c make every change of state
 * atomic. This process holds, as ordinary job objects:
 *   - jobs it accepted (submitted here): pending until the submit batch
 *     is answered, then "shadows" in the id table, counted as queued,
 *     until Redis says they ended (a message to this node);
 *   - jobs it claimed from a stream to run on its workers (local), which
 *     use the memory queue's FIFOs, timers and retries, and whose ends
 *     and new attempts go back to Redis in one batch per loop iteration;
 *   - finished records, kept for result_ttl as the memory queue keeps
 *     them.
 * Jobs it knows nothing of are fetched when asked for (queue_fetch).
 */
#ifndef MPSUP_QUEUE_REDIS_H
#define MPSUP_QUEUE_REDIS_H

#include "store/queue_impl.h"
#include "store/redis_link.h"

struct queue_cluster_opts;
struct qr_round;

/*
 * What job_seg() holds for jobs of the Redis queue. A local job: its
 * stream entry's index in the entry table (bits 16-39) and the attempts
 * its claim counted (bits 0-15).
 */
#define QR_SHADOW	(1ULL << 40)	/* accepted here, kept in Redis */
#define QR_LOCAL	(1ULL << 41)	/* claimed here */
#define QR_SENT		(1ULL << 42)	/* with QR_SHADOW: its submit unanswered */
#define QR_ATTEMPTS(s)	((unsigned)((s) & 0xffffULL))
/*
 * The most attempts a blob or record from Redis may say (one more must
 * fit QR_ATTEMPTS), and its latest time (s, as the SQLite store's
 * records: year 5138); beyond either it is malformed.
 */
#define QR_ATTEMPTS_MAX	65534
#define QR_TIME_MAX	1e11
#define QR_ENTRY(s)	((unsigned)(((s) >> 16) & 0xffffffULL))
#define QR_SEG(entry, attempts)	(QR_LOCAL | ((uint64_t)(entry) << 16) | \
	((attempts) & 0xffffULL))
/* Fields of one job in an update batch (see qr_update). */
#define QR_UPDATE_FIELDS	7
/* Jobs per stream entry at most (a submitted batch is cut in entries). */
#define QR_ENTRY_MAX	64
#define QR_ENTRY_MAX_S	"64"

enum {
	QR_SCRIPT_SUBMIT, QR_SCRIPT_CLAIM, QR_SCRIPT_UPDATE,
	QR_SCRIPT_CANCEL, QR_SCRIPT_PROMOTE, QR_SCRIPT_FETCH,
	QR_SCRIPT_REAP, QR_SCRIPT_DEPTH, QR_SCRIPT_RECOVER, QR_SCRIPT_NUMBER,
	QR_SCRIPT_KEEPNUM, QR_NSCRIPTS
};

/* One pool's part in Redis. */
struct qr_pool {
	struct queue_pool	*qp;
	struct queue_redis	*qr;
	char			*name;
	char			*pre;		/* "mpsup:{NAME}:" */
	char			*kq, *kd;	/* its stream, its delayed set */
	int			 claiming;	/* a claim is in flight */
	int			 more;		/* the last claim was full */
	int			 again;		/* upd holds resent updates */
	struct redis_args	 upd;		/* ends and attempts to send */
	size_t			 nupd;
	/* Cluster-wide, as of the last look. */
	long long		 depth, running, delayed;
	/* Claims failing: since when logged, and how many since. */
	int			 claim_failing;
	double			 claim_logged_at;
	unsigned long		 claim_errors;
};

/* A stream entry whose jobs this node holds. */
struct qr_entry {
	char			 x[44];		/* its id in the stream */
	char			*origin;	/* who accepted them; NULL: us */
	char			*slots;		/* its field k */
	struct qr_pool		*rp;
	unsigned		 left;		/* jobs held, not ended */
	unsigned		 next_free;
	int			 used;
};

/* A queued job's blob, parsed (pointers into it). */
struct qr_blob {
	unsigned		 attempts;
	double			 submitted, not_before;
	int			 priority;
	const char		*client, *key, *group, *data;
	size_t			 client_len, key_len, group_len, data_len;
};

/* A node as the registry has it. */
struct qr_node {
	char			*consumer;
	char			*info;		/* its JSON */
	int			 live;
};

struct queue_redis {
	struct queue		*q;
	struct redis_link	*link;		/* commands */
	struct redis_link	*sub;		/* this node's channels */
	char			*label;		/* the url, no password */
	char			*node;
	char			*consumer;	/* node:boot */
	double			 lease;
	double			 lease_at;	/* last renewal answered */
	int			 lease_stale;	/* starting nothing */
	unsigned		 lease_checks;	/* answers awaited */
	int			 script[QR_NSCRIPTS];
	struct qr_pool		**pools;
	size_t			 npools;
	struct job_list		 pending;	/* submitted, not sent */
	struct qr_round		*answering;	/* whose acks are answered */
	size_t			 npending;
	ev_timer		 beat;		/* heartbeat, reap, look */
	ev_timer		 promote;	/* delayed jobs come due */
	ev_timer		 kick;		/* claim again next turn */
	struct qr_node		*nodes;
	size_t			 nnodes;
	int			 looking;	/* a look is in flight */
	void			(*registry_cb)(void *);	/* after a look */
	void			*registry_arg;
	int			 numbered;	/* ids can be made */
	int			 number;	/* this node's, while numbered */
	int			 numbering;	/* asked for one */
	struct qr_entry		*ents;		/* entries held; 0 unused */
	size_t			 nents, ents_cap;
	unsigned		 ent_free;	/* free list, 0: none */
	/*
	 * Ends told on the channels of jobs not known here: a fetch that
	 * made its job known may have been answered after the job's end
	 * came on the other connection, and reads it again if this moved.
	 */
	unsigned long long	 ends_unknown;
	unsigned long long	*marks;		/* of the pending jobs */
	size_t			 nmarks, marks_cap;
	/* Counters for status. */
	unsigned long long	 unavailable;	/* submits refused */
	unsigned long long	 fenced;	/* late ends ignored */
	unsigned long long	 requeued;	/* of lost nodes, by us */
	unsigned long long	 batches;
};

#define QR(q)	((struct queue_redis *)(q)->impl)

extern const char	queue_redis_lua_submit[];
extern const char	queue_redis_lua_claim[];
extern const char	queue_redis_lua_update[];
extern const char	queue_redis_lua_cancel[];
extern const char	queue_redis_lua_promote[];
extern const char	queue_redis_lua_fetch[];
extern const char	queue_redis_lua_reap[];
extern const char	queue_redis_lua_recover[];
extern const char	queue_redis_lua_number[];
extern const char	queue_redis_lua_keepnum[];

/* queue_redis_rec.c */
void		 qr_put_time(struct buf *, double);
/* Decimal digits (a length in a blob or message); SIZE_MAX if not. */
size_t		 qr_len(const char *, size_t);
/* A queued job as its stream entry holds it. */
void		 qr_blob(struct buf *, const struct job *);
int		 qr_blob_parse(const char *, size_t, struct qr_blob *);
struct job	*qr_blob_job(struct qr_pool *, const char *id, const char *,
		    size_t, struct qr_blob *);
/* An ended job's record. */
void		 qr_rec(struct buf *, const struct job *);
struct job	*qr_rec_job(struct qr_pool *, const char *id, const char *,
		    size_t);
/* A job from a fetch's answer, which has at least 3 elements. */
struct job	*qr_record(struct qr_pool *, const char *id,
		    struct redisReply *);
unsigned	 qr_entry_new(struct queue_redis *, struct qr_pool *,
		    const char *x, size_t, const char *origin, size_t,
		    const char *slots, size_t);
struct qr_entry	*qr_entry_get(struct queue_redis *, unsigned);
void		 qr_entry_free(struct queue_redis *, unsigned);
void		 qr_entries_free(struct queue_redis *);

/* queue_redis_lease.c */
/* Whether this node may start what it holds (its lease is fresh). */
int		 qr_lease_held(struct queue_redis *);
void		 qr_lease_renew(struct queue_redis *);
/* A queued job held here leaves (see queue_redis_lease.c). */
void		 qr_let_go(struct queue_redis *, struct job *, int elsewhere);

/* queue_redis.c */
struct qr_pool	*qr_pool_of(struct queue_redis *, const struct queue_pool *);
struct qr_pool	*qr_pool_named(struct queue_redis *, const char *);
/* An entry of pool rp taken from its stream: its jobs run here. */
void		 qr_took(struct queue_redis *, struct qr_pool *,
		    struct redisReply *);
/* Jobs accepted here ended somewhere (a message on our channel). */
void		 qr_ended(struct queue_redis *, const char *, size_t);
/* Another node asks to cancel a job running here. */
void		 qr_cancel_asked(struct queue_redis *, const char *, size_t);

/* queue_redis_node.c */
/* Be told when a job ends (a key's job, run by another node). */
void		 qr_watch(struct queue_redis *, struct job *);
/* A shadow ends as rec (a record read from Redis) says. */
void		 qr_shadow_close(struct queue_redis *, struct job *,
		    const struct job *rec);
struct queue_fetch *qr_fetch(struct queue *, const char *, size_t, int,
		    void (*)(void *, struct job *, const char *), void *);
struct queue_fetch *qr_cancel_remote(struct queue *, const char *,
		    const char *, void (*)(void *, const char *, const char *),
		    void *);
/* Connected, and this node has its number. */
int		 qr_ready(const struct queue_redis *);

/* queue_redis_net.c */
/* The job an id stood for in the submit being answered (a key's job). */
struct job	*qr_alias(const struct queue_redis *, const char *, size_t);
int		 qr_net_open(struct queue_redis *,
		    const struct queue_cluster_opts *, char **);
void		 qr_net_close(struct queue_redis *);
/* Send the pending submits (one batch per pool) and the updates. */
void		 qr_net_commit(struct queue_redis *);
/* Take up to n jobs of rp from its stream (answer: qr_took each). */
void		 qr_net_claim(struct queue_redis *, struct qr_pool *,
		    unsigned n);

#endif
