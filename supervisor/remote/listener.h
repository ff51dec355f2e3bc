/*
 * The authenticated listener: accepts connections on every `listen`
 * address and decides which get in (max_connections per kind of socket,
 * max_handshakes_per_address, the auth_failures delay, a pause when out
 * of descriptors); conn.h runs them: the multiprocessing.connection
 * handshake, then one request per frame, the replies in request order.
 */
#ifndef MPSUP_LISTENER_H
#define MPSUP_LISTENER_H

#include "common/buf.h"
#include "supervisor/remote/conn.h"

struct supervisor;
struct listener;

/*
 * Open every address and load the keys; each authenticated message goes
 * to handler. NULL with *cause on failure.
 */
struct listener	*listener_new(struct supervisor *, conn_handler_fn,
		    char **cause);
void		 listener_free(struct listener *);
void		 listener_stop_accepting(struct listener *);
/* Write pending replies (once per loop iteration). */
void		 listener_flush(struct listener *);
int		 listener_connections(const struct listener *);
/* Append the clients as a JSON array (clients.h). */
void		 listener_clients_status(const struct listener *,
		    struct buf *);

#endif
