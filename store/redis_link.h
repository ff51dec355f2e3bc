/*
 * One connection to Redis on the supervisor's loop (hiredis's async API
 * with its libev adapter; no thread). The link connects, authenticates
 * (AUTH before anything else), selects its database and loads its Lua
 * scripts before it says it is up; it keeps its own timers, since
 * hiredis 0.14 has none for async contexts: a connect or a command
 * unanswered for REDIS_LINK_TIMEOUT seconds drops the connection. A
 * dropped link answers every outstanding command with a NULL reply,
 * reports down once, and reconnects with a growing back-off (100 ms to
 * 5 s), logging once per change of state, not once per attempt.
 *
 * A subscriber link (channels given) only subscribes, and hands each
 * message to cbs->message.
 */
#ifndef MPSUP_REDIS_LINK_H
#define MPSUP_REDIS_LINK_H

#include <ev.h>
#include <stddef.h>

#include "common/buf.h"

struct redisReply;
struct redis_link;

/* Unanswered this long, a connection is dropped (seconds). */
#define REDIS_LINK_TIMEOUT	5.0

/* Where and how to connect (strings are copied). */
struct redis_link_target {
	const char		*host;		/* TCP, or NULL */
	int			 port;
	const char		*path;		/* unix socket, or NULL */
	int			 db;
	const unsigned char	*password;	/* NULL: no AUTH */
	size_t			 password_len;
	const char		*label;		/* in logs: the url, no secret */
	int			 quiet;		/* log at debug level only */
};

struct redis_link_cbs {
	/* Up (the link logs "connected" itself only without this). */
	void	(*up)(void *arg);
	void	(*down)(void *arg, const char *why);
	/* Subscriber links: a message on one of their channels. */
	void	(*message)(void *arg, const char *channel, const char *msg,
		    size_t len);
};

/* A reply, or NULL: the link dropped before it came. */
typedef void	(*redis_link_cb)(void *arg, struct redisReply *);

/*
 * Arguments of one command, built up then sent; strings are copied into
 * one buffer, so any bytes may go in.
 */
struct redis_args {
	struct buf	 data;
	size_t		*off;
	size_t		 n, cap;
};

void	redis_args_init(struct redis_args *);
void	redis_args_reset(struct redis_args *);
void	redis_args_free(struct redis_args *);
void	redis_args_add(struct redis_args *, const char *, size_t);
void	redis_args_str(struct redis_args *, const char *);
/* One argument written in place: append to the buffer, then close it. */
struct buf *redis_args_open(struct redis_args *);
void	redis_args_close(struct redis_args *);
void	redis_args_fmt(struct redis_args *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* Start connecting; channels NULL-terminated for a subscriber, or NULL. */
struct redis_link *redis_link_new(struct ev_loop *,
		    const struct redis_link_target *, const char **channels,
		    const struct redis_link_cbs *, void *arg);
void		 redis_link_free(struct redis_link *);
/* Connected, authenticated, scripts loaded. */
int		 redis_link_up(const struct redis_link *);
/* Why it is down (the last error), or "". */
const char	*redis_link_why(const struct redis_link *);
/*
 * A Lua script, loaded at every connect (register before the first one
 * completes): returns its number for redis_link_eval().
 */
int		 redis_link_script(struct redis_link *, const char *src);
/* Send a command; -1 if the link is down (cb is then never called). */
int		 redis_link_cmd(struct redis_link *, redis_link_cb, void *arg,
		    const struct redis_args *);
/* EVALSHA script nkeys args...; as redis_link_cmd. */
int		 redis_link_eval(struct redis_link *, int script, int nkeys,
		    redis_link_cb, void *arg, const struct redis_args *);
/* Commands sent so far; whether every one up to that count is answered. */
unsigned long long redis_link_sent(const struct redis_link *);
int		 redis_link_answered(const struct redis_link *,
		    unsigned long long);

#endif
