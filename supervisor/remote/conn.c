/*
 * The remote protocol's connections (see conn.h).
 *
 * A connection is a small state machine: AUTH until the handshake in
 * ipc/auth.c succeeds (bounded by a deadline), then READY, reading frames
 * into requests. Each request gets a reply slot at the tail of the
 * connection's reply queue; slots are answered immediately or later (a
 * wait), and replies leave strictly in request order. Replies are written
 * once per loop iteration; a client that stops reading is dropped once
 * its unsent replies pass a cap, so it cannot make the supervisor buffer
 * without bound or stall anyone else.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "ipc/auth.h"
#include "ipc/frame.h"
#include "supervisor/dispatch.h"
#include "supervisor/remote/clients.h"
#include "supervisor/remote/conn.h"
#include "supervisor/remote/request_decode.h"
#include "supervisor/remote/throttle.h"
#include "supervisor/supervisor.h"

#define CONN_READ		65536
#define CONN_MAX_PENDING	4096	/* requests awaiting their reply */
#define CONN_STREAM_UNSENT	(16u << 20)	/* or max_unsent, if less */

struct reply {
	TAILQ_ENTRY(reply)	 entry;
	struct conn		*conn;
	enum reply_encoding	 enc;
	int			 done;
	int			 held;		/* done, behind one that is not */
	int			 stream;	/* body: messages, framed, not sent */
	struct buf		 body;
	void			(*abort)(struct reply *, void *);
	void			*abort_arg;
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct conn_set		*set;
	int			 fd;
	ev_io			 rio;
	ev_io			 wio;
	ev_timer		 deadline;
	struct buf		 in;
	struct buf		 out;
	struct auth_server	*auth;	/* NULL once authenticated */
	ev_timer		 hold;	/* handshake delayed (auth_failures) */
	int			 local;	/* on a Unix socket */
	struct client		*client;	/* once authenticated */
	int			 closing;	/* close once out is sent */
	int			 drop;		/* close at the next flush */
	int			 streaming;	/* has an open stream */
	int			 paused;	/* not reading: too many pending */
	size_t			 nreplies;	/* requests without sent reply */
	size_t			 held_bytes;	/* of done replies not yet out */
	int			 dirty;
	char			 peer[96];
	unsigned char		 addr[16];	/* source, for throttling */
	int			 has_addr;
	TAILQ_HEAD(, reply)	 replies;
	TAILQ_ENTRY(conn)	 dirty_entry;
};

struct conn_set {
	struct supervisor	*sv;
	conn_handler_fn		 handler;	/* one request */
	struct client_table	*clients;
	struct throttle		*throttle;	/* per source address */
	TAILQ_HEAD(, conn)	 conns;
	TAILQ_HEAD(, conn)	 dirty;		/* with output to write */
	int			 n;
	int			 nlocal;	/* of them on Unix sockets */
};

static void	conn_read_cb(struct ev_loop *, ev_io *, int);
static int	conn_process_input(struct conn *);
static void	conn_write_cb(struct ev_loop *, ev_io *, int);
static void	conn_deadline_cb(struct ev_loop *, ev_timer *, int);
static void	conn_hold_cb(struct ev_loop *, ev_timer *, int);
static void	conn_auth_start(struct conn *);

struct conn_set *
conn_set_new(struct supervisor *sv, conn_handler_fn handler,
    struct client_table *clients, struct throttle *throttle)
{
	struct conn_set	*s = xcalloc(1, sizeof *s);

	s->sv = sv;
	s->handler = handler;
	s->clients = clients;
	s->throttle = throttle;
	TAILQ_INIT(&s->conns);
	TAILQ_INIT(&s->dirty);
	return s;
}

void
conn_set_free(struct conn_set *s)
{
	struct conn	*c;

	if (s == NULL)
		return;
	/* Last chance for replies such as the one to "stop". */
	conn_set_flush(s);
	while ((c = TAILQ_FIRST(&s->conns)) != NULL)
		conn_close(c);
	free(s);
}

int
conn_set_count(const struct conn_set *s, int local)
{
	return local < 0 ? s->n : local ? s->nlocal : s->n - s->nlocal;
}

long
conn_set_pending_from(const struct conn_set *s, const unsigned char *addr,
    long max)
{
	struct conn	*c;
	long		 n = 0;

	TAILQ_FOREACH(c, &s->conns, entry)
		if (c->auth != NULL && c->has_addr &&
		    memcmp(c->addr, addr, 16) == 0 && ++n >= max)
			break;
	return n;
}

struct conn *
reply_conn(struct reply *r)
{
	return r->conn;
}

struct client *
conn_client(const struct conn *c)
{
	return c->client;
}

const char *
conn_peer(const struct conn *c)
{
	return c->peer;
}

static void
conn_mark_dirty(struct conn *c)
{
	if (!c->dirty) {
		TAILQ_INSERT_TAIL(&c->set->dirty, c, dirty_entry);
		c->dirty = 1;
	}
}

struct reply *
conn_reply_new(struct conn *c, enum reply_encoding enc)
{
	struct reply	*r = xcalloc(1, sizeof *r);

	r->conn = c;
	r->enc = enc;
	TAILQ_INSERT_TAIL(&c->replies, r, entry);
	c->nreplies++;
	return r;
}

struct buf *
reply_body(struct reply *r)
{
	return &r->body;
}

struct buf *
reply_body_sized(struct reply *r, size_t size)
{
	buf_reset_headroom(&r->body, FRAME_HEADER_MAX, size);
	return &r->body;
}

void
reply_set_abort(struct reply *r, void (*fn)(struct reply *, void *),
    void *arg)
{
	r->abort = fn;
	r->abort_arg = arg;
}

/*
 * Unsent reply bytes count against max_unsent whether they wait in the
 * output or behind a reply that is not ready yet; past it the client is
 * dropped at the next flush (a stream's: CONN_STREAM_UNSENT at most).
 */
static void
conn_check_unsent(struct conn *c)
{
	uint64_t	max = c->set->sv->cfg->max_unsent;

	if (c->streaming && max > CONN_STREAM_UNSENT)
		max = CONN_STREAM_UNSENT;
	if (c->drop || buf_used(&c->out) + c->held_bytes <= max)
		return;
	log_warnx("client %s: more than %llu bytes of replies unread "
	    "(max_unsent); dropping the connection", c->peer,
	    (unsigned long long)max);
	c->drop = 1;
	ev_io_stop(c->set->sv->loop, &c->rio);
	conn_mark_dirty(c);
}

/* Move finished replies at the head of the queue into the output. */
static void
conn_push_replies(struct conn *c)
{
	struct reply	*r;

	while ((r = TAILQ_FIRST(&c->replies)) != NULL && r->done) {
		TAILQ_REMOVE(&c->replies, r, entry);
		c->nreplies--;
		if (r->held)
			c->held_bytes -= buf_used(&r->body);
		if (r->enc == REPLY_PICKLE)
			request_pickle_reply(&r->body);
		frame_append_buf(&c->out, &r->body);	/* see reply_body_sized */
		free(r);
	}
	if (r != NULL && r->stream) {	/* an open stream: its messages go */
		c->held_bytes -= buf_used(&r->body);
		buf_append(&c->out, buf_head(&r->body), buf_used(&r->body));
		buf_free(&r->body);
	}
	if (buf_used(&c->out) > 0 || c->paused)
		conn_mark_dirty(c);
	conn_check_unsent(c);
}

void
reply_done(struct reply *r)
{
	struct conn	*c = r->conn;

	r->done = 1;
	r->abort = NULL;
	if (r == TAILQ_FIRST(&c->replies))
		conn_push_replies(c);
	else {
		r->held = 1;
		c->held_bytes += buf_used(&r->body);
		conn_check_unsent(c);
	}
}

void
reply_stream(struct reply *r, const char *body, size_t len)
{
	struct conn	*c = r->conn;
	struct buf	 msg = BUF_INIT;
	size_t		 held = buf_used(&r->body);
	int		 first = r == TAILQ_FIRST(&c->replies);

	buf_append(&msg, body, len);
	if (r->enc == REPLY_PICKLE)
		request_pickle_reply(&msg);
	r->stream = c->streaming = 1;
	frame_append(first ? &c->out : &r->body, buf_head(&msg), buf_used(&msg));
	c->held_bytes += buf_used(&r->body) - held;
	conn_mark_dirty(c);
	buf_free(&msg);
	conn_check_unsent(c);
}

void
conn_close(struct conn *c)
{
	struct conn_set	*s = c->set;
	struct ev_loop	*loop = s->sv->loop;
	struct reply	*r;

	if (c->fd == -1)
		return;
	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	ev_timer_stop(loop, &c->deadline);
	ev_timer_stop(loop, &c->hold);
	close(c->fd);
	c->fd = -1;
	while ((r = TAILQ_FIRST(&c->replies)) != NULL) {
		TAILQ_REMOVE(&c->replies, r, entry);
		if (r->abort != NULL)
			r->abort(r, r->abort_arg);
		buf_free(&r->body);
		free(r);
	}
	if (c->dirty)
		TAILQ_REMOVE(&s->dirty, c, dirty_entry);
	TAILQ_REMOVE(&s->conns, c, entry);
	s->n--;
	if (c->local)
		s->nlocal--;
	if (c->client != NULL)
		client_connections_add(c->client, -1);
	auth_server_free(c->auth);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/* Write what is pending; 0 when all is out (or the conn closed). */
static void
conn_flush(struct conn *c)
{
	struct ev_loop	*loop = c->set->sv->loop;
	ssize_t		 n;

	if (c->drop) {
		conn_close(c);
		return;
	}
	/*
	 * Requests held back for too many pending replies: go on once half
	 * are answered, whether or not the client reads those answers yet
	 * (it may be busy writing; max_unsent bounds what it leaves unread).
	 */
	if (c->paused && c->nreplies < CONN_MAX_PENDING / 2) {
		c->paused = 0;
		ev_io_start(loop, &c->rio);
		if (conn_process_input(c) == -1)
			return;
	}
	while (buf_used(&c->out) > 0) {
		n = send(c->fd, buf_head(&c->out), buf_used(&c->out),
		    MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			ev_io_start(loop, &c->wio);
			return;
		}
		conn_close(c);
		return;
	}
	ev_io_stop(loop, &c->wio);
	buf_trim(&c->out, 128 << 10);
	if (c->closing) {
		conn_close(c);
		return;
	}
}

void
conn_set_flush(struct conn_set *s)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&s->dirty)) != NULL) {
		TAILQ_REMOVE(&s->dirty, c, dirty_entry);
		c->dirty = 0;
		conn_flush(c);
	}
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	conn_flush(w->data);
}

static void
conn_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct conn	*c = t->data;

	log_warnx("client %s: no successful handshake within %.1fs "
	    "(auth_timeout); disconnecting", c->peer,
	    c->set->sv->cfg->auth_timeout);
	conn_close(c);
}

/* Count a failed handshake against the connection's source address. */
static void
conn_auth_failed(struct conn *c)
{
	struct conn_set	*s = c->set;

	if (c->has_addr && s->sv->cfg->auth_failures > 0)
		throttle_failure(s->throttle, c->addr, ev_now(s->sv->loop));
}

/*
 * The oldest connection still in its handshake: from addr (or, with addr
 * NULL, on a socket of the same kind: local or TCP), or NULL.
 */
struct conn *
conn_set_oldest_pending(struct conn_set *s, const unsigned char *addr,
    int local)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &s->conns, entry) {
		if (c->auth == NULL || c->fd == -1)
			continue;
		if (addr != NULL ? c->has_addr && memcmp(c->addr, addr, 16) == 0 :
		    c->local == local)
			return c;
	}
	return NULL;
}

/* Start the handshake: send the challenge, read the answer. */
static void
conn_auth_start(struct conn *c)
{
	auth_server_start(c->auth, &c->out);
	conn_mark_dirty(c);
	ev_io_start(c->set->sv->loop, &c->rio);
}

/* A delayed handshake's time has come. */
static void
conn_hold_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	conn_auth_start(t->data);
}

/* One handshake message. Returns -1 if the connection was closed. */
static int
conn_auth(struct conn *c, const void *msg, size_t len)
{
	const char	*err = NULL;
	int		 r;

	r = auth_server_feed(c->auth, msg, len, &c->out, &err);
	if (buf_used(&c->out) > 0)
		conn_mark_dirty(c);
	if (r == AUTH_MORE)
		return 0;
	if (r == AUTH_FAIL) {
		log_warnx("client %s: authentication failed: %s", c->peer,
		    err ? err : "refused");
		conn_auth_failed(c);
		/* Say #FAILURE# if the state machine queued it, then close. */
		c->closing = 1;
		ev_io_stop(c->set->sv->loop, &c->rio);
		if (buf_used(&c->out) == 0) {
			conn_close(c);
			return -1;
		}
		return -1;
	}
	c->client = client_table_get(c->set->clients, auth_server_key(c->auth));
	client_connections_add(c->client, 1);
	ev_timer_stop(c->set->sv->loop, &c->deadline);
	log_debug("client %s: authenticated as %s (%s%s)", c->peer,
	    client_name(c->client),
	    config_role_name(client_role(c->client)),
	    auth_server_legacy(c->auth) ? ", legacy MD5" : "");
	auth_server_free(c->auth);
	c->auth = NULL;
	return 0;
}

/*
 * Handle the whole frames buffered so far. A connection with too many
 * requests awaiting replies (waits, or replies the client does not read)
 * stops being read until half of them are answered. Returns -1 if the
 * connection was closed.
 */
static int
conn_process_input(struct conn *c)
{
	uint64_t	 max = c->auth ? AUTH_MSG_MAX : c->set->sv->cfg->max_message;
	const void	*payload;
	const char	*err = NULL;
	size_t		 plen, flen;
	int		 r;

	while (!c->closing && !c->drop) {
		if (c->auth == NULL && c->nreplies >= CONN_MAX_PENDING) {
			if (!c->paused) {
				c->paused = 1;
				ev_io_stop(c->set->sv->loop, &c->rio);
			}
			break;
		}
		r = frame_peek(buf_head(&c->in), buf_used(&c->in), max,
		    &payload, &plen, &flen, &err);
		if (r == 0)
			break;
		if (r == -1) {
			size_t		hlen;
			uint64_t	announced;
			const char	*e2;

			if (frame_parse_header(buf_head(&c->in),
			    buf_used(&c->in), UINT64_MAX, &hlen, &announced,
			    &e2) == 1)
				log_warnx("client %s: frame of %llu bytes is "
				    "larger than %s (%llu); disconnecting",
				    c->peer, (unsigned long long)announced,
				    c->auth ? "a handshake message" :
				    "max_message", (unsigned long long)max);
			else
				log_warnx("client %s: %s; disconnecting",
				    c->peer, err ? err : "bad frame");
			conn_close(c);
			return -1;
		}
		if (c->auth != NULL) {
			if (conn_auth(c, payload, plen) == -1)
				return -1;
			buf_consume(&c->in, flen);
			max = c->set->sv->cfg->max_message;
			continue;
		}
		c->set->handler(c->set->sv, c, payload, plen);
		buf_consume(&c->in, flen);
	}
	buf_trim(&c->in, 128 << 10);
	return 0;
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;
	ssize_t		 n;

	n = buf_read_fd(&c->in, c->fd, CONN_READ);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	(void)conn_process_input(c);
	/* Between two clients' reads: a safe point to commit. */
	dispatch_commit_if_late();
}

void
conn_open(struct conn_set *s, int fd, const unsigned char *addr,
    const char *peer, double delay)
{
	struct ev_loop	*loop = s->sv->loop;
	struct conn	*c = xcalloc(1, sizeof *c);

	c->set = s;
	c->fd = fd;
	c->has_addr = addr != NULL;
	c->local = addr == NULL;
	if (addr != NULL)
		memcpy(c->addr, addr, sizeof c->addr);
	TAILQ_INIT(&c->replies);
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	c->auth = client_table_auth(s->clients, s->sv->cfg->legacy_md5);
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	c->rio.data = c;
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	c->wio.data = c;
	ev_timer_init(&c->deadline, conn_deadline_cb,
	    s->sv->cfg->auth_timeout, 0);
	c->deadline.data = c;
	ev_timer_start(loop, &c->deadline);
	ev_timer_init(&c->hold, conn_hold_cb, delay, 0);
	c->hold.data = c;
	TAILQ_INSERT_TAIL(&s->conns, c, entry);
	s->n++;
	s->nlocal += c->local;
	if (delay > 0)
		ev_timer_start(loop, &c->hold);
	else
		conn_auth_start(c);
}
