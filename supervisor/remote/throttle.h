/*
 * What the listener remembers of each source address for a minute: the
 * handshakes that failed (auth_failures) and whether its cap on pending
 * handshakes was logged. A fixed number of slots, the oldest reused, so a
 * flood of addresses costs a bounded amount of memory.
 */
#ifndef MPSUP_THROTTLE_H
#define MPSUP_THROTTLE_H

#include <stddef.h>
#include <sys/socket.h>

#define THROTTLE_SLOTS	1024	/* source addresses remembered */
#define THROTTLE_WINDOW	60.0	/* seconds */

struct throttle;

struct throttle	*throttle_new(void);
void		 throttle_free(struct throttle *);
/*
 * The source address of an accepted socket in 16-byte form (IPv4 mapped)
 * and as text; 0 (display "local") for a Unix socket.
 */
int		 throttle_source(const struct sockaddr_storage *,
		    unsigned char out[16], char *display, size_t len);
/* A handshake from addr failed. */
void		 throttle_failure(struct throttle *, const unsigned char addr[16],
		    double now);
/*
 * True if addr failed max handshakes (0: no limit) in this window; the
 * first refusal is logged, naming display.
 */
int		 throttle_blocked(struct throttle *, const unsigned char addr[16],
		    long max, double now, const char *display);
/* addr reached its cap on pending handshakes: true the first time a window. */
int		 throttle_first_cap(struct throttle *,
		    const unsigned char addr[16], double now);

#endif
