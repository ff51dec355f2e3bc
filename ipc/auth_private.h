/*
 * Test hooks of the handshake (see auth.h): the same code paths as the
 * public functions, with the caller choosing the random nonce so the
 * byte-exact transcripts of the protocol note can be replayed. Never use
 * these outside tests.
 */
#ifndef MPSUP_AUTH_PRIVATE_H
#define MPSUP_AUTH_PRIVATE_H

#include <stddef.h>

#define AUTH_NONCE_LEN		40	/* modern challenge nonce */
#define AUTH_LEGACY_NONCE_LEN	20	/* Python <= 3.11 challenge */

/* The client's read/write bound: AUTH_TIMEOUT_MS unless a test lowers it. */
extern int		 auth_client_timeout_ms;

struct auth_key;
struct auth_server	*auth_server_new_with_nonce(const struct auth_key *,
			    size_t, int, const unsigned char[AUTH_NONCE_LEN]);
int			 auth_client_handshake_with_nonce(int,
			    const unsigned char *, size_t, int,
			    const unsigned char *, size_t, char **);

#endif
