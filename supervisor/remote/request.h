/*
 * Requests on an authenticated connection (SPEC section 7): decode one
 * message (request_decode.h), run it against the supervisor, and fill its
 * reply slot now or when the jobs it waits for end.
 */
#ifndef MPSUP_REQUEST_H
#define MPSUP_REQUEST_H

#include <stddef.h>

struct supervisor;
struct supervisor_service;
struct conn;

/*
 * The authenticated listener serving requests, as a service of the
 * supervisor (supervisor.h).
 */
extern const struct supervisor_service remote_service;

/* Serve one message of c; msg is borrowed for the call only. */
void	request_handle(struct supervisor *, struct conn *, const void *msg,
	    size_t len);

#endif
