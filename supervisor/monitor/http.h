/*
 * The HTTP monitoring endpoint (SPEC section 9) on `[supervisor] status`:
 * GET /status (the status document, with ?history=1 each pool's last
 * hour), /metrics (Prometheus text), /job and /jobs (a job's record, the
 * recent jobs: jobview.h), /dead (the dead letters: deadview.h), / (the
 * dashboard page) and /healthz; and POST /retry (a dead letter queued
 * again), the one request that changes anything, with the admin token
 * (http_auth.h). libmicrohttpd runs without threads of its
 * own: its epoll descriptor is watched by the supervisor's libev loop, so
 * every request is answered from the loop, between two dispatch steps, and
 * sees the supervisor's state as it is at that moment.
 *
 * The endpoint keeps answering during a graceful stop (the document then
 * says "stopping":true, and /healthz still says ok) until the supervisor
 * exits.
 */
#ifndef MPSUP_HTTP_H
#define MPSUP_HTTP_H

struct supervisor;
struct supervisor_service;
struct http;

/* The endpoint as a service of the supervisor (supervisor.h). */
extern const struct supervisor_service http_service;

/* Connections and timeouts: a slow or greedy client costs only a slot. */
#define HTTP_MAX_CONNECTIONS	64
#define HTTP_MAX_PER_IP		32
#define HTTP_IDLE_TIMEOUT	10		/* seconds */
#define HTTP_CONNECTION_MEMORY	(32u << 10)	/* per connection: headers */

/*
 * Listen on sv->cfg->status and load the token file, if any. Returns the
 * server, or NULL with cause (allocated) naming the address or file.
 */
struct http	*http_new(struct supervisor *, char **cause);
void		 http_free(struct http *);
/* HTTP connections open now. */
unsigned int	 http_connections(struct http *);
/* Who a route answers (http_route_check()'s *token). */
#define HTTP_ROUTE_OPEN		0	/* anyone (under status_hosts) */
#define HTTP_ROUTE_STATUS	1	/* the status token, if configured */
#define HTTP_ROUTE_ADMIN	2	/* the admin token; none: 404 */

/*
 * How the route table answers method and path (a URL without its query):
 * 200, with *token set to the HTTP_ROUTE_* it needs; 404; or 405 for a
 * path answered to another method, or a method no route takes.
 */
unsigned int	 http_route_check(const char *method, const char *path,
		    int *token);

#endif
