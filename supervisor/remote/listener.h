/*
 * The authenticated listener: accepts connections on every `listen`
 * address, runs the multiprocessing.connection handshake, then reads one
 * request per frame and writes the replies, in request order, as frames.
 */
#ifndef MPSUP_LISTENER_H
#define MPSUP_LISTENER_H

#include <stddef.h>

#include "common/buf.h"

struct supervisor;
struct listener;
struct conn;
struct reply;
struct client;

enum reply_encoding { REPLY_JSON, REPLY_PICKLE };

/* What serves one request message of c (request.h); msg is borrowed. */
typedef void	(*listener_handler_fn)(struct supervisor *, struct conn *c,
		    const void *msg, size_t len);

/*
 * Open every address and load the keys; each authenticated message goes
 * to handler. NULL with *cause on failure.
 */
struct listener	*listener_new(struct supervisor *, listener_handler_fn,
		    char **cause);
void		 listener_free(struct listener *);
void		 listener_stop_accepting(struct listener *);
/* Write pending replies (once per loop iteration). */
void		 listener_flush(struct listener *);
int		 listener_connections(const struct listener *);
/* Append the clients as a JSON array (clients.h). */
void		 listener_clients_status(const struct listener *,
		    struct buf *);

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
