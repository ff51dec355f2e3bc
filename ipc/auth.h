/*
 * The mutual HMAC challenge-response of multiprocessing.connection (SPEC
 * section 7, reference/mp-connection-protocol.md section 2.4).
 *
 * The server side is a message-driven state machine with no I/O: the caller
 * sends what auth_server_start() and auth_server_feed() append to its
 * output buffer and feeds it every frame payload it receives (read with a
 * cap of AUTH_MSG_MAX) until the result is AUTH_OK or AUTH_FAIL. The
 * handshake timeout is the caller's, since only it owns a clock.
 *
 * The client side is blocking, for the CLI and the tests.
 */
#ifndef MPSUP_AUTH_H
#define MPSUP_AUTH_H

#include <stddef.h>

struct buf;
struct auth_server;

#define AUTH_MSG_MAX		256	/* largest handshake message */
#define AUTH_TIMEOUT_MS		10000	/* client I/O bound */

#define AUTH_MORE		0
#define AUTH_OK			1
#define AUTH_FAIL		-1

/* A key a client may authenticate with (auth_server_new copies it). */
struct auth_key {
	const unsigned char	*key;
	size_t			 len;
};

/* auth_client_handshake() flags. */
#define AUTH_CLIENT_LEGACY	0x1	/* exactly like Python <= 3.11 */

struct auth_server	*auth_server_new(const struct auth_key *, size_t,
			    int);
void			 auth_server_free(struct auth_server *);
void			 auth_server_start(struct auth_server *,
			    struct buf *);
int			 auth_server_feed(struct auth_server *, const void *,
			    size_t, struct buf *, const char **);
int			 auth_server_key(const struct auth_server *);
int			 auth_server_legacy(const struct auth_server *);

int	auth_client_handshake(int, const unsigned char *, size_t, int,
	    char **);

#endif
