/*
 * A Redis host name looked up off the loop. hiredis 0.14 calls
 * getaddrinfo() inside every connect, and a resolver that does not
 * answer holds it for its whole timeout (seconds, per attempt): on the
 * loop, that held every client, timer and worker with it, at each
 * reconnect. A thread of its own asks instead, and the loop gets the
 * numeric address, which hiredis then takes without asking anyone.
 */
#ifndef MPSUP_REDIS_LOOKUP_H
#define MPSUP_REDIS_LOOKUP_H

#include <ev.h>

struct redis_lookup;

/* Room for any numeric address, an IPv6 one with its scope too. */
#define REDIS_LOOKUP_ADDR	(46 + 16)

/*
 * Look host up (IPv4 first, then IPv6, as hiredis does); on the loop,
 * cb(arg, addr, NULL) with the first address, or cb(arg, NULL, why).
 * NULL with *cause if the thread cannot start.
 */
struct redis_lookup *redis_lookup_start(struct ev_loop *, const char *host,
		    void (*cb)(void *, const char *addr, const char *why),
		    void *arg, char **cause);
/* The answer is not wanted: cb is not called; the thread ends by itself. */
void		 redis_lookup_cancel(struct redis_lookup *);
/* Whether host is an IPv4 or IPv6 address already. */
int		 redis_lookup_numeric(const char *host);

#endif
