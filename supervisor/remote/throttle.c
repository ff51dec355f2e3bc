/*
 * Per-address memory of the listener (see throttle.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/remote/throttle.h"

/* One source address in the current window. */
struct throttle_slot {
	unsigned char	addr[16];	/* IPv4 mapped into IPv6 form */
	double		since;
	long		failures;
	int		warned;
	int		capped;		/* max_handshakes_per_address logged */
};

struct throttle {
	struct throttle_slot	*slots;		/* THROTTLE_SLOTS, when used */
};

struct throttle *
throttle_new(void)
{
	return xcalloc(1, sizeof (struct throttle));
}

void
throttle_free(struct throttle *t)
{
	if (t != NULL) {
		free(t->slots);
		free(t);
	}
}

/* The slot of an address, or NULL; create makes one if needed. */
static struct throttle_slot *
throttle_find(struct throttle *t, const unsigned char *addr, int create,
    double now)
{
	struct throttle_slot	*s, *oldest = NULL;
	int			 i;

	if (t->slots == NULL) {
		if (!create)
			return NULL;
		t->slots = xcalloc(THROTTLE_SLOTS, sizeof *t->slots);
	}
	for (i = 0; i < THROTTLE_SLOTS; i++) {
		s = &t->slots[i];
		if (s->since > 0 && memcmp(s->addr, addr, 16) == 0) {
			if (now - s->since >= THROTTLE_WINDOW) {
				s->since = now;
				s->failures = 0;
				s->warned = 0;
				s->capped = 0;
			}
			return s;
		}
		if (oldest == NULL || s->since < oldest->since)
			oldest = s;
	}
	if (!create)
		return NULL;
	/* Reuse the slot whose window is oldest. */
	memset(oldest, 0, sizeof *oldest);
	memcpy(oldest->addr, addr, 16);
	oldest->since = now;
	return oldest;
}

void
throttle_failure(struct throttle *t, const unsigned char addr[16], double now)
{
	throttle_find(t, addr, 1, now)->failures++;
}

double
throttle_delay(struct throttle *t, const unsigned char addr[16], long max,
    double now, const char *display)
{
	struct throttle_slot	*s;
	double			 delay = 0.05;
	long			 i;

	if (max == 0)
		return 0;
	s = throttle_find(t, addr, 0, now);
	if (s == NULL || s->failures < max)
		return 0;
	for (i = max; i < s->failures && delay < THROTTLE_MAX_DELAY; i++)
		delay *= 2;
	if (delay > THROTTLE_MAX_DELAY)
		delay = THROTTLE_MAX_DELAY;
	if (!s->warned) {
		log_warnx("%s: %ld failed handshakes within %.0fs "
		    "(auth_failures); its handshakes wait up to %.1fs for the "
		    "rest of the minute", display, s->failures,
		    THROTTLE_WINDOW, THROTTLE_MAX_DELAY);
		s->warned = 1;
	}
	return delay;
}

int
throttle_first_cap(struct throttle *t, const unsigned char addr[16],
    double now)
{
	struct throttle_slot	*s = throttle_find(t, addr, 1, now);

	if (s->capped)
		return 0;
	s->capped = 1;
	return 1;
}

int
throttle_source(const struct sockaddr_storage *ss, unsigned char out[16],
    char *display, size_t len)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &sin->sin_addr, 4);
		inet_ntop(AF_INET, &sin->sin_addr, display, (socklen_t)len);
		return 1;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(out, &sin6->sin6_addr, 16);
		/* A host has a whole /64 (not an IPv4-mapped address). */
		if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			memset(out + 8, 0, 8);
		inet_ntop(AF_INET6, &sin6->sin6_addr, display, (socklen_t)len);
		return 1;
	}
	snprintf(display, len, "local");
	return 0;
}
