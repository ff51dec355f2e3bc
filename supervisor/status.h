/*
 * The status document (SPEC section 9): one JSON object describing the
 * supervisor, its pools, their workers and job counters, built fresh for
 * each request (remote `status` op, `mpsup status`, HTTP /status).
 */
#ifndef MPSUP_STATUS_H
#define MPSUP_STATUS_H

#include "common/buf.h"

struct supervisor;

/* Append the document; pool_filter (or NULL) restricts it to one pool. */
void	status_append(struct supervisor *, struct buf *, const char *pool_filter);

/* Each pool's "history" too: its last hour in buckets (common/history.h). */
#define STATUS_HISTORY	0x1
/* "admin":true: the HTTP request carries the admin token (POST /retry). */
#define STATUS_ADMIN	0x2
/* The same, with STATUS_* flags. */
void	status_append_flags(struct supervisor *, struct buf *,
	    const char *pool_filter, unsigned flags);

#endif
