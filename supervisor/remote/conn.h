/*
 * The remote protocol's connections, once accepted (listener.h accepts
 * them and decides which get in): the multiprocessing.connection
 * handshake, then one request per frame to the handler, and the replies,
 * in request order, as frames.
 */
#ifndef MPSUP_CONN_H
#define MPSUP_CONN_H

#include <stddef.h>

#include "common/buf.h"

struct supervisor;
struct conn;
struct conn_set;
struct reply;
struct client;
struct client_table;
struct throttle;

enum reply_encoding { REPLY_JSON, REPLY_PICKLE };

/* What serves one request message of c (request.h); msg is borrowed. */
typedef void	(*conn_handler_fn)(struct supervisor *, struct conn *c,
		    const void *msg, size_t len);

/*
 * The connections of one listener. Authenticated messages go to handler;
 * keys are looked up in clients; failed handshakes are counted in
 * throttle against their source address. Both stay the caller's.
 */
struct conn_set	*conn_set_new(struct supervisor *, conn_handler_fn,
		    struct client_table *clients, struct throttle *throttle);
/* Write what is pending a last time, then close every connection. */
void		 conn_set_free(struct conn_set *);
/* Write pending replies (once per loop iteration). */
void		 conn_set_flush(struct conn_set *);
/* Connections on Unix sockets (local 1), on TCP (0), or all (-1). */
int		 conn_set_count(const struct conn_set *, int local);
/*
 * The oldest connection still in its handshake: from addr (16 bytes) or,
 * with addr NULL, on a socket of the kind local says; or NULL.
 */
struct conn	*conn_set_oldest_pending(struct conn_set *,
		    const unsigned char *addr, int local);
/* Connections from addr still in their handshake, counted up to max. */
long		 conn_set_pending_from(const struct conn_set *,
		    const unsigned char *addr, long max);

/*
 * A connection accepted on fd (non-blocking, close-on-exec): from addr
 * (its 16-byte source, for throttling) or, with addr NULL, on a Unix
 * socket; peer names it in the log. Its handshake starts after delay
 * seconds (auth_failures), and must end within auth_timeout.
 */
void		 conn_open(struct conn_set *, int fd, const unsigned char *addr,
		    const char *peer, double delay);
/* Close it now; pending replies' abort callbacks run. */
void		 conn_close(struct conn *);

/* For request handlers: a reply slot, answered now or later. */
struct reply	*conn_reply_new(struct conn *, enum reply_encoding);
/* The slot's body: one JSON object (converted for pickled requests). */
struct buf	*reply_body(struct reply *);
/*
 * The body emptied, with room for size bytes: for a big reply whose size
 * is known, which then goes out without being copied again.
 */
struct buf	*reply_body_sized(struct reply *, size_t size);
/* The body is complete: send it once the replies before it went out. */
void		 reply_done(struct reply *);
/*
 * Send body[0..len) (one JSON object) as one more message of a reply that
 * stays open: a stream, such as `logs` following the log. Its messages
 * leave in order after the replies before it; the reply is never done,
 * and ends when the connection closes (its abort callback runs). The
 * unsent bytes count against max_unsent like any reply's: a client that
 * does not read its stream is dropped.
 */
void		 reply_stream(struct reply *, const char *body, size_t len);
/* Called if the connection goes away while the reply is pending. */
void		 reply_set_abort(struct reply *, void (*)(struct reply *, void *),
		    void *);
struct conn	*reply_conn(struct reply *);
/* The client it authenticated as (clients.h); NULL before. */
struct client	*conn_client(const struct conn *);
const char	*conn_peer(const struct conn *);

#endif
