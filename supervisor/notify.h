/*
 * The supervisor's side of the service manager's notifications
 * (common/sdnotify.h): READY=1 once it serves, a STATUS= summary at most
 * once a second, RELOADING=1 ... READY=1 around a reload, STOPPING=1, and
 * WATCHDOG=1 from the loop at half of $WATCHDOG_USEC, so that a loop that
 * no longer turns stops the pings. Every call is a no-op when the process
 * was not started with $NOTIFY_SOCKET.
 */
#ifndef MPSUP_NOTIFY_H
#define MPSUP_NOTIFY_H

#include <ev.h>
#include <stddef.h>

struct notify;
struct pool;

/*
 * Start the watchdog timer on loop; the summary counts the pools in
 * *pools (the supervisor's array, read each time: reloads replace it).
 */
struct notify	*notify_new(struct ev_loop *loop, struct pool ***pools,
		    size_t *npools);
void		 notify_free(struct notify *);
/* Every listener is bound and the first workers spawned (or a reload ended). */
void		 notify_ready(struct notify *);
void		 notify_reloading(struct notify *);
void		 notify_stopping(struct notify *);

#endif
