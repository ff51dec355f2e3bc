/*
 * What the listener remembers of each source address for a minute: the
 * handshakes that failed (auth_failures) and whether its cap on pending
 * handshakes was logged. An IPv6 address counts by its /64 (one host can
 * have all of it), an IPv4 address by itself. A fixed number of slots,
 * the oldest reused, so a flood of addresses costs a bounded amount of
 * memory.
 */
#ifndef MPSUP_THROTTLE_H
#define MPSUP_THROTTLE_H

#include <stddef.h>
#include <sys/socket.h>

#define THROTTLE_SLOTS	1024	/* source addresses remembered */
#define THROTTLE_WINDOW	60.0	/* seconds */
/* Handshakes of an address past auth_failures wait this long at most. */
#define THROTTLE_MAX_DELAY 1.0

struct throttle;

struct throttle	*throttle_new(void);
void		 throttle_free(struct throttle *);
/*
 * The source address of an accepted socket in 16-byte form (IPv4 mapped;
 * IPv6 cut to its /64) and as text; 0 (display "local") for a Unix socket.
 */
int		 throttle_source(const struct sockaddr_storage *,
		    unsigned char out[16], char *display, size_t len);
/* A handshake from addr failed. */
void		 throttle_failure(struct throttle *, const unsigned char addr[16],
		    double now);
/*
 * How long a new handshake from addr waits before its challenge: 0 until
 * it failed max handshakes (0: no limit) in this window, then doubling
 * from 50 ms with each further failure, never more than
 * THROTTLE_MAX_DELAY (a slower brute force, never a lock-out of the
 * address's good clients). The first delay is logged, naming display.
 */
double		 throttle_delay(struct throttle *, const unsigned char addr[16],
		    long max, double now, const char *display);
/* addr reached its cap on pending handshakes: true the first time a window. */
int		 throttle_first_cap(struct throttle *,
		    const unsigned char addr[16], double now);

#endif
