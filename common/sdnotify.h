/*
 * The service manager's notification protocol (sd_notify(3)), spoken
 * without libsystemd: one datagram of "KEY=VALUE" lines per message, sent
 * to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for
 * the abstract namespace). Without $NOTIFY_SOCKET every call is a no-op,
 * so the supervisor calls them unconditionally.
 */
#ifndef MPSUP_SDNOTIFY_H
#define MPSUP_SDNOTIFY_H

/*
 * Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID and take them out
 * of the environment (the workers must not inherit them). 0 if there is
 * nothing to notify or the socket is ready; -1 with *cause (allocated) if
 * a variable is malformed or the socket cannot be made.
 */
int	sdnotify_open(char **cause);
void	sdnotify_close(void);
/* Whether $NOTIFY_SOCKET named a socket. */
int	sdnotify_enabled(void);
/*
 * Send msg (lines without the trailing newline); a failure is logged
 * once, never fatal: the manager may simply not listen.
 */
void	sdnotify_send(const char *msg);
void	sdnotify_sendf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/*
 * The interval at which WATCHDOG=1 is due (half of $WATCHDOG_USEC) in
 * seconds, or 0 when no watchdog is asked of this process (none set, or
 * $WATCHDOG_PID names another process).
 */
double	sdnotify_watchdog_interval(void);

#endif
