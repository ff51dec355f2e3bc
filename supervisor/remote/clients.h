/*
 * The clients of the socket (SPEC section 11) as the listener serves
 * them: each one's key, loaded once at start, its role and pools, and
 * how many connections it has now. A connection becomes a client's when
 * the key that answered the challenge is that client's.
 */
#ifndef MPSUP_CLIENTS_H
#define MPSUP_CLIENTS_H

#include <stddef.h>

struct buf;
struct config;
struct auth_server;
struct client_table;
struct client;

/*
 * Load every client's key (the default client's is created when
 * missing); two clients with the same key are refused. NULL with *cause.
 */
struct client_table	*client_table_new(const struct config *, char **cause);
void			 client_table_free(struct client_table *);
/* A handshake any client's key may answer (see auth_server_key()). */
struct auth_server	*client_table_auth(const struct client_table *,
			    int legacy_md5);
/* The client whose key has that index in the handshake. */
struct client		*client_table_get(struct client_table *, int index);
/* Append the clients as a JSON array: name, role, connections. */
void			 client_table_status(const struct client_table *,
			    struct buf *);

const char	*client_name(const struct client *);
int		 client_role(const struct client *);	/* enum client_role */
int		 client_may_use_pool(const struct client *, const char *pool);
/* A connection of the client came (+1) or went (-1). */
void		 client_connections_add(struct client *, int);

#endif
