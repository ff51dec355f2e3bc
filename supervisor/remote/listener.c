/*
 * The listener (see listener.h).
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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "ipc/addr.h"
#include "ipc/auth.h"
#include "ipc/frame.h"
#include "supervisor/dispatch.h"
#include "supervisor/remote/clients.h"
#include "supervisor/remote/listener.h"
#include "supervisor/remote/request_decode.h"
#include "supervisor/remote/throttle.h"
#include "supervisor/supervisor.h"

#define LISTENER_READ		65536
#define LISTENER_MAX_PENDING	4096	/* requests awaiting their reply */
#define LISTENER_FD_BACKOFF	1.0	/* seconds without accept at EMFILE */
#define LISTENER_STREAM_UNSENT	(16u << 20)	/* or max_unsent, if less */

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
	struct listener		*l;
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

struct listen_sock {
	struct listener	*l;
	struct addr	 addr;
	int		 fd;
	ev_io		 io;
};

struct listener {
	struct supervisor	*sv;
	listener_handler_fn	 handler;	/* one request */
	struct listen_sock	*socks;
	size_t			 nsocks;
	struct client_table	*clients;
	TAILQ_HEAD(, conn)	 conns;
	TAILQ_HEAD(, conn)	 dirty;
	int			 nconns;
	int			 nlocal;	/* of them on Unix sockets */
	double			 full_logged_at;
	int			 accepting;
	struct throttle		*throttle;	/* per source address */
	ev_timer		 fd_backoff;	/* accept paused: out of fds */
};

static void	conn_read_cb(struct ev_loop *, ev_io *, int);
static int	conn_process_input(struct conn *);
static void	conn_write_cb(struct ev_loop *, ev_io *, int);
static void	conn_close(struct conn *);

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

int
listener_connections(const struct listener *l)
{
	return l->nconns;
}

void
listener_clients_status(const struct listener *l, struct buf *b)
{
	client_table_status(l->clients, b);
}

static void
conn_mark_dirty(struct conn *c)
{
	if (!c->dirty) {
		TAILQ_INSERT_TAIL(&c->l->dirty, c, dirty_entry);
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
 * dropped at the next flush (a stream's: LISTENER_STREAM_UNSENT at most).
 */
static void
conn_check_unsent(struct conn *c)
{
	uint64_t	max = c->l->sv->cfg->max_unsent;

	if (c->streaming && max > LISTENER_STREAM_UNSENT)
		max = LISTENER_STREAM_UNSENT;
	if (c->drop || buf_used(&c->out) + c->held_bytes <= max)
		return;
	log_warnx("client %s: more than %llu bytes of replies unread "
	    "(max_unsent); dropping the connection", c->peer,
	    (unsigned long long)max);
	c->drop = 1;
	ev_io_stop(c->l->sv->loop, &c->rio);
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

static void
conn_close(struct conn *c)
{
	struct listener	*l = c->l;
	struct ev_loop	*loop = l->sv->loop;
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
		TAILQ_REMOVE(&l->dirty, c, dirty_entry);
	TAILQ_REMOVE(&l->conns, c, entry);
	l->nconns--;
	if (c->local)
		l->nlocal--;
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
	struct ev_loop	*loop = c->l->sv->loop;
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
	if (c->paused && c->nreplies < LISTENER_MAX_PENDING / 2) {
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
listener_flush(struct listener *l)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&l->dirty)) != NULL) {
		TAILQ_REMOVE(&l->dirty, c, dirty_entry);
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
	    c->l->sv->cfg->auth_timeout);
	conn_close(c);
}

/* Count a failed handshake against the connection's source address. */
static void
conn_auth_failed(struct conn *c)
{
	struct listener	*l = c->l;

	if (c->has_addr && l->sv->cfg->auth_failures > 0)
		throttle_failure(l->throttle, c->addr, ev_now(l->sv->loop));
}

/*
 * The oldest connection still in its handshake: from addr (or, with addr
 * NULL, on a socket of the same kind: local or TCP), or NULL.
 */
static struct conn *
listener_oldest_pending(struct listener *l, const unsigned char *addr,
    int local)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &l->conns, entry) {
		if (c->auth == NULL || c->fd == -1)
			continue;
		if (addr != NULL ? c->has_addr && memcmp(c->addr, addr, 16) == 0 :
		    c->local == local)
			return c;
	}
	return NULL;
}

/*
 * An address already has max_handshakes_per_address connections that have
 * not authenticated: the oldest of them makes room for the new one, so one
 * address cannot take every slot with handshakes left to auth_timeout,
 * and its next good client (whose handshake takes milliseconds) is still
 * served. Logged once a minute per address.
 */
static void
listener_cap_handshakes(struct listener *l, const unsigned char *addr,
    const char *display)
{
	struct conn	*c;
	long		 max = l->sv->cfg->max_handshakes, n = 0;

	if (max == 0)
		return;
	TAILQ_FOREACH(c, &l->conns, entry)
		if (c->auth != NULL && c->has_addr &&
		    memcmp(c->addr, addr, 16) == 0 && ++n >= max)
			break;
	if (n < max || (c = listener_oldest_pending(l, addr, 0)) == NULL)
		return;
	if (throttle_first_cap(l->throttle, addr, ev_now(l->sv->loop)))
		log_warnx("%s: %ld handshakes in progress "
		    "(max_handshakes_per_address); closing its oldest for each "
		    "new connection", display, n);
	conn_close(c);
}

/*
 * Room for a new connection on a socket of this kind (Unix and TCP have
 * max_connections each, so no TCP flood refuses a local client): when
 * full, the oldest connection of that kind still in its handshake makes
 * room; if every one has authenticated, the new one is refused. 0 if
 * there is room now.
 */
static int
listener_room(struct listener *l, int local, const char *where)
{
	long		 max = l->sv->cfg->max_connections;
	int		 n = local ? l->nlocal : l->nconns - l->nlocal;
	struct conn	*c;
	double		 now = ev_now(l->sv->loop);

	if (n < max)
		return 0;
	c = listener_oldest_pending(l, NULL, local);
	if (now - l->full_logged_at >= 10.0) {
		log_warnx("%s: max_connections (%ld) reached; %s", where, max,
		    c != NULL ? "closing the oldest connection still in its "
		    "handshake" : "refusing a connection");
		l->full_logged_at = now;
	}
	if (c == NULL)
		return -1;
	conn_close(c);
	return 0;
}

/* Start the handshake: send the challenge, read the answer. */
static void
conn_auth_start(struct conn *c)
{
	auth_server_start(c->auth, &c->out);
	conn_mark_dirty(c);
	ev_io_start(c->l->sv->loop, &c->rio);
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
		ev_io_stop(c->l->sv->loop, &c->rio);
		if (buf_used(&c->out) == 0) {
			conn_close(c);
			return -1;
		}
		return -1;
	}
	c->client = client_table_get(c->l->clients, auth_server_key(c->auth));
	client_connections_add(c->client, 1);
	ev_timer_stop(c->l->sv->loop, &c->deadline);
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
	uint64_t	 max = c->auth ? AUTH_MSG_MAX : c->l->sv->cfg->max_message;
	const void	*payload;
	const char	*err = NULL;
	size_t		 plen, flen;
	int		 r;

	while (!c->closing && !c->drop) {
		if (c->auth == NULL && c->nreplies >= LISTENER_MAX_PENDING) {
			if (!c->paused) {
				c->paused = 1;
				ev_io_stop(c->l->sv->loop, &c->rio);
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
			max = c->l->sv->cfg->max_message;
			continue;
		}
		c->l->handler(c->l->sv, c, payload, plen);
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

	n = buf_read_fd(&c->in, c->fd, LISTENER_READ);
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

/* Out of descriptors: stop accepting for a moment instead of spinning. */
static void
listener_fd_backoff(struct listener *l)
{
	size_t	i;

	log_warnx("out of file descriptors (%s); not accepting connections "
	    "for %.0fs", strerror(errno), LISTENER_FD_BACKOFF);
	for (i = 0; i < l->nsocks; i++)
		if (l->socks[i].fd != -1)
			ev_io_stop(l->sv->loop, &l->socks[i].io);
	ev_timer_set(&l->fd_backoff, LISTENER_FD_BACKOFF, 0);
	ev_timer_start(l->sv->loop, &l->fd_backoff);
}

static void
listener_fd_backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct listener	*l = t->data;
	size_t		 i;

	if (!l->accepting)
		return;
	for (i = 0; i < l->nsocks; i++)
		if (l->socks[i].fd != -1)
			ev_io_start(loop, &l->socks[i].io);
}

/* A connection accepted on ls: make room for it, then its handshake. */
static void
listener_admit(struct listener *l, struct listen_sock *ls, int fd,
    const struct sockaddr_storage *ss)
{
	struct ev_loop	*loop = l->sv->loop;
	struct conn	*c;
	unsigned char	 addr[16];
	char		 src[INET6_ADDRSTRLEN];
	int		 has_addr;
	double		 delay = 0;

	memset(addr, 0, sizeof addr);
	has_addr = throttle_source(ss, addr, src, sizeof src);
	if (listener_room(l, !has_addr, ls->addr.display) == -1) {
		close(fd);
		return;
	}
	if (has_addr) {
		listener_cap_handshakes(l, addr, src);
		delay = throttle_delay(l->throttle, addr,
		    l->sv->cfg->auth_failures, ev_now(loop), src);
	}
	c = xcalloc(1, sizeof *c);
	c->l = l;
	c->fd = fd;
	c->has_addr = has_addr;
	c->local = !has_addr;
	memcpy(c->addr, addr, sizeof addr);
	TAILQ_INIT(&c->replies);
	snprintf(c->peer, sizeof c->peer, "%s (#%d on %s)", src, fd,
	    ls->addr.display);
	c->auth = client_table_auth(l->clients, l->sv->cfg->legacy_md5);
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	c->rio.data = c;
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	c->wio.data = c;
	ev_timer_init(&c->deadline, conn_deadline_cb,
	    l->sv->cfg->auth_timeout, 0);
	c->deadline.data = c;
	ev_timer_start(loop, &c->deadline);
	ev_timer_init(&c->hold, conn_hold_cb, delay, 0);
	c->hold.data = c;
	TAILQ_INSERT_TAIL(&l->conns, c, entry);
	l->nconns++;
	l->nlocal += c->local;
	if (delay > 0)
		ev_timer_start(loop, &c->hold);
	else
		conn_auth_start(c);
}

static void
listener_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listen_sock	*ls = w->data;
	struct listener		*l = ls->l;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd;

	for (int i = 0; i < 64; i++) {
		sslen = sizeof ss;
		fd = accept4(ls->fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				listener_fd_backoff(l);
				return;
			}
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept on %s", ls->addr.display);
			return;
		}
		listener_admit(l, ls, fd, &ss);
	}
}

struct listener *
listener_new(struct supervisor *sv, listener_handler_fn handler, char **cause)
{
	struct config	*cfg = sv->cfg;
	struct listener	*l;
	struct rlimit	 rl;
	size_t		 i;

	l = xcalloc(1, sizeof *l);
	l->sv = sv;
	l->handler = handler;
	l->throttle = throttle_new();
	TAILQ_INIT(&l->conns);
	TAILQ_INIT(&l->dirty);
	ev_timer_init(&l->fd_backoff, listener_fd_backoff_cb, 0, 0);
	l->fd_backoff.data = l;
	if ((l->clients = client_table_new(cfg, cause)) == NULL)
		goto fail;
	l->socks = xcalloc(cfg->nlisten, sizeof *l->socks);
	for (i = 0; i < cfg->nlisten; i++) {
		struct listen_sock *ls = &l->socks[i];

		ls->l = l;
		ls->fd = -1;
		if (addr_parse(cfg->listen[i], &ls->addr, cause) == -1)
			goto fail;
		l->nsocks++;
		if ((ls->fd = addr_listen(&ls->addr, SOMAXCONN, cause)) == -1)
			goto fail;
		ev_io_init(&ls->io, listener_accept_cb, ls->fd, EV_READ);
		ls->io.data = ls;
		ev_io_start(sv->loop, &ls->io);
		log_info("listening on %s", ls->addr.display);
	}
	l->accepting = 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)cfg->max_connections + 64 > rl.rlim_cur)
		log_warnx("max_connections = %ld, but the open-file limit is "
		    "%llu: past about %llu connections accepts will pause "
		    "(raise it with ulimit -n or LimitNOFILE=)",
		    cfg->max_connections, (unsigned long long)rl.rlim_cur,
		    (unsigned long long)(rl.rlim_cur > 64 ? rl.rlim_cur - 64 :
		    0));
	return l;
fail:
	listener_free(l);
	return NULL;
}

/* Close the listening sockets that are open. */
static void
listener_close_socks(struct listener *l)
{
	size_t	i;

	for (i = 0; i < l->nsocks; i++) {
		if (l->socks[i].fd == -1)
			continue;
		ev_io_stop(l->sv->loop, &l->socks[i].io);
		close(l->socks[i].fd);
		l->socks[i].fd = -1;
		if (l->socks[i].addr.family == AF_UNIX)
			addr_unlink(&l->socks[i].addr);
	}
}

void
listener_stop_accepting(struct listener *l)
{
	if (!l->accepting)
		return;
	l->accepting = 0;
	listener_close_socks(l);
}

void
listener_free(struct listener *l)
{
	struct conn	*c;
	size_t		 i;

	if (l == NULL)
		return;
	ev_timer_stop(l->sv->loop, &l->fd_backoff);
	/* Last chance for replies such as the one to "stop". */
	listener_flush(l);
	while ((c = TAILQ_FIRST(&l->conns)) != NULL)
		conn_close(c);
	listener_close_socks(l);
	for (i = 0; i < l->nsocks; i++)
		addr_free(&l->socks[i].addr);
	free(l->socks);
	throttle_free(l->throttle);
	client_table_free(l->clients);
	free(l);
}
