/*
 * The /metrics document: the counters and gauges of the status document
 * (SPEC section 9) in the Prometheus text exposition format 0.0.4, with
 * the `mpsup_` prefix, built fresh from the pools for each request.
 */
#ifndef MPSUP_METRICS_H
#define MPSUP_METRICS_H

#include "common/buf.h"

struct supervisor;

/* Append every metric family, each with its HELP and TYPE lines. */
void	metrics_append(struct supervisor *, struct buf *,
	    unsigned int http_connections);
/* Append s as a label value: backslash, quote and newline escaped. */
void	metrics_label_append(struct buf *, const char *);

#endif
