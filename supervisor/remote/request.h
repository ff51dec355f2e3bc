/*
 * Requests on an authenticated connection (SPEC section 7): decode one
 * message, act on it, and fill its reply slot now or when the job it
 * waits for ends.
 */
#ifndef MPSUP_REQUEST_H
#define MPSUP_REQUEST_H

#include <stddef.h>

#include "common/buf.h"

struct conn;

void	request_handle(struct conn *, const void *msg, size_t len);
/* Re-encode a JSON reply body as a pickle, in place. */
void	request_pickle_reply(struct buf *body);

#endif
