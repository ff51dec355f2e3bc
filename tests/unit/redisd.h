/*
 * A private redis-server for the C unit tests (the cluster queue's): one
 * started on a unix socket in a new folder under /tmp, TCP off, no
 * snapshots, no AOF, never the system's Redis. It gets SIGKILL from the
 * kernel when the process that started it dies (PR_SET_PDEATHSIG), so a
 * test that crashes in Check's forked child leaves no server behind;
 * redisd_stop() is still the way to end one.
 */
#ifndef MPSUP_TESTS_REDISD_H
#define MPSUP_TESTS_REDISD_H

#include <stddef.h>
#include <sys/types.h>

#define REDISD_SERVER	"/usr/bin/redis-server"

struct redisd {
	pid_t	pid;		/* 0: not running */
	char	dir[64];	/* its own folder, removed by redisd_stop() */
	char	sock[96];	/* its unix socket, in dir */
	char	log[96];	/* its log, in dir */
};

/*
 * Start one and wait until it answers PING on its socket; returns the
 * socket's path (r->sock), or NULL after saying why on stderr, with
 * nothing left running and the folder removed.
 */
const char	*redisd_start(struct redisd *r);
/* SIGTERM, SIGKILL after 5 s, reap it, remove its folder; harmless twice. */
void		 redisd_stop(struct redisd *r);
/*
 * Send one command (argv, NULL-terminated) to the socket at path over a
 * plain connection and copy the first line of the reply ("+PONG", ":1",
 * "$3", "-ERR ...") into reply. 0, or -1 if it could not be asked.
 */
int		 redisd_ask(const char *path, const char *const argv[],
		    char *reply, size_t size);

#endif
