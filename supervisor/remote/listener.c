/*
 * The listener (see listener.h): the listening sockets, and who gets in.
 * What an accepted connection does is conn.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "ipc/addr.h"
#include "supervisor/remote/clients.h"
#include "supervisor/remote/listener.h"
#include "supervisor/remote/throttle.h"
#include "supervisor/supervisor.h"

#define LISTENER_FD_BACKOFF	1.0	/* seconds without accept at EMFILE */

struct listen_sock {
	struct listener	*l;
	struct addr	 addr;
	int		 fd;
	ev_io		 io;
};

struct listener {
	struct supervisor	*sv;
	struct listen_sock	*socks;
	size_t			 nsocks;
	struct client_table	*clients;
	struct conn_set		*conns;
	double			 full_logged_at;
	int			 accepting;
	struct throttle		*throttle;	/* per source address */
	ev_timer		 fd_backoff;	/* accept paused: out of fds */
};

int
listener_connections(const struct listener *l)
{
	return conn_set_count(l->conns, -1);
}

void
listener_clients_status(const struct listener *l, struct buf *b)
{
	client_table_status(l->clients, b);
}

void
listener_flush(struct listener *l)
{
	conn_set_flush(l->conns);
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
	long		 max = l->sv->cfg->max_handshakes, n;

	if (max == 0)
		return;
	n = conn_set_pending_from(l->conns, addr, max);
	if (n < max || (c = conn_set_oldest_pending(l->conns, addr, 0)) == NULL)
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
	struct conn	*c;
	double		 now = ev_now(l->sv->loop);

	if (conn_set_count(l->conns, local) < max)
		return 0;
	c = conn_set_oldest_pending(l->conns, NULL, local);
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
	unsigned char	 addr[16];
	char		 src[INET6_ADDRSTRLEN], peer[96];
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
		    l->sv->cfg->auth_failures, ev_now(l->sv->loop), src);
	}
	snprintf(peer, sizeof peer, "%s (#%d on %s)", src, fd,
	    ls->addr.display);
	conn_open(l->conns, fd, has_addr ? addr : NULL, peer, delay);
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
listener_new(struct supervisor *sv, conn_handler_fn handler, char **cause)
{
	struct config	*cfg = sv->cfg;
	struct listener	*l;
	struct rlimit	 rl;
	size_t		 i;

	l = xcalloc(1, sizeof *l);
	l->sv = sv;
	l->throttle = throttle_new();
	ev_timer_init(&l->fd_backoff, listener_fd_backoff_cb, 0, 0);
	l->fd_backoff.data = l;
	if ((l->clients = client_table_new(cfg, cause)) == NULL)
		goto fail;
	l->conns = conn_set_new(sv, handler, l->clients, l->throttle);
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
	size_t	i;

	if (l == NULL)
		return;
	ev_timer_stop(l->sv->loop, &l->fd_backoff);
	conn_set_free(l->conns);
	listener_close_socks(l);
	for (i = 0; i < l->nsocks; i++)
		addr_free(&l->socks[i].addr);
	free(l->socks);
	throttle_free(l->throttle);
	client_table_free(l->clients);
	free(l);
}
