/*
 * The HTTP monitoring endpoint (see http.h).
 *
 * libmicrohttpd runs in "external polling" mode with epoll and no thread:
 * an ev_io on its epoll descriptor calls MHD_run() when a socket is ready,
 * and after every run an ev_timer is armed from MHD_get_timeout() for the
 * earliest connection timeout (or data MHD has buffered). With no
 * connection open MHD wants no timeout, so an idle supervisor is not woken.
 *
 * Nothing here reads a request body: a request that sends one is refused
 * and its connection closed. The one request that changes state, POST
 * /retry, needs the admin token (http_auth.h) and is served only when
 * status_admin_token_file is set. Oversized headers and malformed request lines
 * are refused by MHD itself (4xx) within HTTP_CONNECTION_MEMORY.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "ipc/addr.h"
#include "supervisor/monitor/deadview.h"
#include "supervisor/monitor/http.h"
#include "supervisor/monitor/http_auth.h"
#include "supervisor/monitor/jobview.h"
#include "supervisor/monitor/mhd_api.h"
#include "supervisor/monitor/metrics.h"
#include "supervisor/pool.h"
#include "supervisor/status.h"
#include "supervisor/supervisor.h"

/* The dashboard page, generated from supervisor/monitor/dashboard.html at build. */
extern const unsigned char	dashboard_html[];
extern const size_t		dashboard_html_len;

#define HTTP_CT_TEXT	"text/plain; charset=utf-8"
#define HTTP_CT_JSON	"application/json"
#define HTTP_CT_METRICS	"text/plain; version=0.0.4; charset=utf-8"
#define HTTP_CT_HTML	"text/html; charset=utf-8"

/* The page is static and talks only to this server. */
#define HTTP_DASHBOARD_CSP \
	"default-src 'none'; script-src 'unsafe-inline'; " \
	"style-src 'unsafe-inline'; connect-src 'self'; img-src data:; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

struct http {
	struct supervisor	*sv;
	struct MHD_Daemon	*mhd;
	ev_io			 io;		/* MHD's epoll descriptor */
	ev_timer		 timer;		/* MHD_get_timeout() */
	int			 starting;	/* keep MHD's messages */
	char			*start_error;
	struct http_auth	*auth;		/* the tokens */
};

/*
 * MHD's own messages. While the daemon starts they explain a failure (the
 * last one becomes the cause); afterwards they are about single clients
 * (bad requests, limits reached), so they stay at debug level.
 */
static void __attribute__((format(printf, 2, 0)))
http_mhd_log(void *arg, const char *fmt, va_list ap)
{
	struct http	*h = arg;
	char		*msg;
	size_t		 n;

	xvasprintf(&msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	if (h->starting) {
		free(h->start_error);
		h->start_error = msg;
		return;
	}
	log_debug("status: %s", msg);
	free(msg);
}

/*
 * A response with the headers every reply carries, or NULL (MHD out of
 * memory). With MHD_RESPMEM_MUST_FREE, data passes to MHD either way.
 */
static struct MHD_Response *
http_response(const char *type, const void *data, size_t len,
    enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response	*r;

	r = MHD_create_response_from_buffer(len, (void *)data, mode);
	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)data);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	return r;
}

/* Queue r (NULL closes the connection) and drop our reference to it. */
static enum MHD_Result
http_queue(struct MHD_Connection *c, unsigned int code, struct MHD_Response *r)
{
	enum MHD_Result	rv;

	if (r == NULL)
		return MHD_NO;
	rv = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rv;
}

/* A short plain-text reply (errors, /healthz). */
static enum MHD_Result
http_reply_text(struct MHD_Connection *c, unsigned int code, const char *text)
{
	return http_queue(c, code, http_response(HTTP_CT_TEXT, text,
	    strlen(text), MHD_RESPMEM_PERSISTENT));
}

/* A reply built in b, whose memory passes to MHD. */
static enum MHD_Result
http_reply_buf(struct MHD_Connection *c, const char *type, struct buf *b)
{
	struct MHD_Response	*r;

	r = http_response(type, b->data, b->len, MHD_RESPMEM_MUST_FREE);
	memset(b, 0, sizeof *b);
	return http_queue(c, MHD_HTTP_OK, r);
}

/* What the request's Authorization header proves. */
static enum http_auth_level
http_level(struct http *h, struct MHD_Connection *c)
{
	return http_auth_level(h->auth, MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
}

/* May the request read? With a status token, the admin's also does. */
static int
http_authorized(struct http *h, struct MHD_Connection *c)
{
	return !http_auth_has_token(h->auth) ||
	    http_level(h, c) != HTTP_AUTH_NONE;
}

static enum MHD_Result
http_unauthorized(struct MHD_Connection *c)
{
	static const char	 text[] = "unauthorized: send \"Authorization: "
	    "Bearer TOKEN\" (status_token_file)\n";
	struct MHD_Response	*r;

	r = http_response(HTTP_CT_TEXT, text, sizeof text - 1,
	    MHD_RESPMEM_PERSISTENT);
	if (r != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"mpsup\"");
	return http_queue(c, MHD_HTTP_UNAUTHORIZED, r);
}

/*
 * Without a token, may this request be answered? Its Host: header must
 * name one of status_hosts (http_auth_host_ok()): a page whose name an
 * attacker rebinds to this address sends its own name there.
 */
static int
http_host_allowed(struct http *h, struct MHD_Connection *c, int always)
{
	if (http_auth_has_token(h->auth) && !always)
		return 1;
	return http_auth_host_ok(h->auth, MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST));
}

static enum MHD_Result
http_misdirected(struct MHD_Connection *c)
{
	return http_reply_text(c, MHD_HTTP_MISDIRECTED_REQUEST,
	    "misdirected request: this Host is not in status_hosts\n");
}

/* An error reply whose text was built in b (its memory passes to MHD). */
static enum MHD_Result
http_reply_error(struct MHD_Connection *c, unsigned int code, struct buf *b)
{
	struct MHD_Response	*r;

	r = http_response(HTTP_CT_TEXT, b->data, b->len, MHD_RESPMEM_MUST_FREE);
	memset(b, 0, sizeof *b);
	return http_queue(c, code, r);
}

/* The query parameters a route takes, and the first one it does not. */
struct http_args {
	const char *const	*known;
	const char		*unknown;
};

static enum MHD_Result
http_arg_cb(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_args	*a = arg;
	size_t			 i;

	for (i = 0; a->known[i] != NULL; i++)
		if (strcmp(key, a->known[i]) == 0)
			return MHD_YES;
	a->unknown = key;
	return MHD_NO;
}

/*
 * Refuse (400, naming it) a query parameter not in known, NULL-ended:
 * nothing a client asks for is silently ignored. 0 if all are known.
 */
static int
http_args_check(struct MHD_Connection *c, const char *const *known,
    enum MHD_Result *rv)
{
	struct http_args	 a = { known, NULL };
	struct buf		 b = BUF_INIT;
	size_t			 i;

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, http_arg_cb, &a);
	if (a.unknown == NULL)
		return 0;
	buf_append_str(&b, "unknown parameter '");
	for (i = 0; a.unknown[i] != '\0' && i < 64; i++)
		buf_append(&b, a.unknown[i] > ' ' && a.unknown[i] < 0x7f ?
		    &a.unknown[i] : "?", 1);
	buf_append_str(&b, "'\n");
	*rv = http_reply_error(c, MHD_HTTP_BAD_REQUEST, &b);
	return -1;
}

/* GET /status[?pool=NAME][&history=1] */
static enum MHD_Result
http_status(struct http *h, struct MHD_Connection *c)
{
	static const char *const known[] = { "pool", "history", NULL };
	struct buf	 b = BUF_INIT;
	const char	*pool, *history;
	unsigned	 flags = 0;
	size_t		 i;
	enum MHD_Result	 rv;

	if (http_args_check(c, known, &rv) == -1)
		return rv;
	history = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "history");
	if (history != NULL && strcmp(history, "1") == 0)
		flags |= STATUS_HISTORY;
	else if (history != NULL && strcmp(history, "0") != 0)
		return http_reply_text(c, MHD_HTTP_BAD_REQUEST,
		    "history: 1 or 0\n");
	pool = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pool");
	if (pool != NULL) {
		for (i = 0; i < h->sv->npools; i++)
			if (strcmp(h->sv->pools[i]->name, pool) == 0)
				break;
		if (i == h->sv->npools)
			return http_reply_text(c, MHD_HTTP_NOT_FOUND,
			    "unknown pool\n");
	}
	if (http_level(h, c) == HTTP_AUTH_ADMIN)
		flags |= STATUS_ADMIN;
	status_append_flags(h->sv, &b, pool, flags);
	buf_append(&b, "\n", 1);
	return http_reply_buf(c, HTTP_CT_JSON, &b);
}

/* GET /metrics */
static enum MHD_Result
http_metrics(struct http *h, struct MHD_Connection *c)
{
	struct buf	b = BUF_INIT;

	metrics_append(h->sv, &b, http_connections(h));
	return http_reply_buf(c, HTTP_CT_METRICS, &b);
}

/* GET / */
static enum MHD_Result
http_dashboard(struct http *h, struct MHD_Connection *c)
{
	struct MHD_Response	*r;

	r = http_response(HTTP_CT_HTML, dashboard_html, dashboard_html_len,
	    MHD_RESPMEM_PERSISTENT);
	if (r != NULL) {
		MHD_add_response_header(r, "Content-Security-Policy",
		    HTTP_DASHBOARD_CSP);
		MHD_add_response_header(r, "X-Frame-Options", "DENY");
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	}
	return http_queue(c, MHD_HTTP_OK, r);
}

/* The value of query parameter key, or NULL. */
static const char *
http_arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

/* GET /job?id=ID[&output_max=SIZE]: a job's record and captured output. */
static enum MHD_Result
http_job(struct http *h, struct MHD_Connection *c)
{
	static const char *const known[] = { "id", "output_max", NULL };
	struct buf	 b = BUF_INIT;
	unsigned int	 code;
	enum MHD_Result	 rv;

	if (http_args_check(c, known, &rv) == -1)
		return rv;
	code = jobview_record(http_arg(c, "id"), http_arg(c, "output_max"),
	    &b);
	if (code != MHD_HTTP_OK)
		return http_reply_error(c, code, &b);
	return http_reply_buf(c, HTTP_CT_JSON, &b);
}

/* GET /jobs[?pool=P][&state=S,..][&since=DURATION][&limit=N] */
static enum MHD_Result
http_jobs(struct http *h, struct MHD_Connection *c)
{
	static const char *const known[] = { "pool", "state", "since",
	    "limit", NULL };
	struct jobview_query	 q;
	struct buf		 b = BUF_INIT;
	unsigned int		 code;
	enum MHD_Result		 rv;

	if (http_args_check(c, known, &rv) == -1)
		return rv;
	q.pool = http_arg(c, "pool");
	q.state = http_arg(c, "state");
	q.since = http_arg(c, "since");
	q.limit = http_arg(c, "limit");
	code = jobview_list(h->sv, &q, &b);
	if (code != MHD_HTTP_OK)
		return http_reply_error(c, code, &b);
	return http_reply_buf(c, HTTP_CT_JSON, &b);
}

/* GET /dead[?pool=P][&limit=N] */
static enum MHD_Result
http_dead(struct http *h, struct MHD_Connection *c)
{
	static const char *const known[] = { "pool", "limit", NULL };
	struct buf	 b = BUF_INIT;
	unsigned int	 code;
	enum MHD_Result	 rv;

	if (http_args_check(c, known, &rv) == -1)
		return rv;
	code = deadview_list(h->sv, http_arg(c, "pool"), http_arg(c, "limit"),
	    &b);
	if (code != MHD_HTTP_OK)
		return http_reply_error(c, code, &b);
	return http_reply_buf(c, HTTP_CT_JSON, &b);
}

/* POST /retry?id=ID (the admin token checked by the caller). */
static enum MHD_Result
http_retry(struct http *h, struct MHD_Connection *c)
{
	static const char *const known[] = { "id", NULL };
	struct buf	 b = BUF_INIT;
	unsigned int	 code;
	enum MHD_Result	 rv;

	if (http_args_check(c, known, &rv) == -1)
		return rv;
	code = deadview_retry(h->sv, http_arg(c, "id"), &b);
	if (code != MHD_HTTP_OK)
		return http_reply_error(c, code, &b);
	return http_reply_buf(c, HTTP_CT_JSON, &b);
}

/* GET /healthz: the supervisor's loop is answering. */
static enum MHD_Result
http_healthz(struct http *h, struct MHD_Connection *c)
{
	return http_reply_text(c, MHD_HTTP_OK, "ok\n");
}

/* What answers a path. */
struct http_route {
	const char	*method;	/* GET also answers HEAD */
	const char	*path;
	int		 token;		/* HTTP_ROUTE_OPEN, _STATUS, _ADMIN */
	int		 host;		/* without one, a Host in status_hosts */
	enum MHD_Result	(*handler)(struct http *, struct MHD_Connection *);
};

/* The route table, one row a path; HTTP_ALLOW lists the methods it takes. */
static const struct http_route	http_routes[] = {
	{ MHD_HTTP_METHOD_GET, "/",	   HTTP_ROUTE_OPEN, 1, http_dashboard },
	{ MHD_HTTP_METHOD_GET, "/healthz", HTTP_ROUTE_OPEN, 0, http_healthz },
	{ MHD_HTTP_METHOD_GET, "/status",  HTTP_ROUTE_STATUS, 1, http_status },
	{ MHD_HTTP_METHOD_GET, "/metrics", HTTP_ROUTE_STATUS, 1, http_metrics },
	{ MHD_HTTP_METHOD_GET, "/job",	   HTTP_ROUTE_STATUS, 1, http_job },
	{ MHD_HTTP_METHOD_GET, "/jobs",	   HTTP_ROUTE_STATUS, 1, http_jobs },
	{ MHD_HTTP_METHOD_GET, "/dead",	   HTTP_ROUTE_STATUS, 1, http_dead },
	{ MHD_HTTP_METHOD_POST, "/retry",  HTTP_ROUTE_ADMIN, 1, http_retry },
};
#define HTTP_ALLOW	"GET, HEAD, POST"

/* Does route rt take method? */
static int
http_route_takes(const struct http_route *rt, const char *method)
{
	if (strcmp(method, rt->method) == 0)
		return 1;
	return strcmp(method, MHD_HTTP_METHOD_HEAD) == 0 &&
	    strcmp(rt->method, MHD_HTTP_METHOD_GET) == 0;
}

/*
 * The route for method and path, or NULL with *code: 405 for a path
 * answered to another method, or a method no route takes (whatever the
 * path), else 404. *allow: what the path takes, or HTTP_ALLOW.
 */
static const struct http_route *
http_route_find(const char *method, const char *path, unsigned int *code,
    const char **allow)
{
	const struct http_route	*rt;
	size_t			 i;
	int			 method_known = 0;

	*allow = HTTP_ALLOW;
	for (i = 0; i < sizeof http_routes / sizeof http_routes[0]; i++) {
		rt = &http_routes[i];
		method_known |= http_route_takes(rt, method);
		if (strcmp(rt->path, path) != 0)
			continue;
		if (http_route_takes(rt, method)) {
			*code = MHD_HTTP_OK;
			return rt;
		}
		*allow = strcmp(rt->method, MHD_HTTP_METHOD_GET) == 0 ?
		    "GET, HEAD" : rt->method;
		*code = MHD_HTTP_METHOD_NOT_ALLOWED;
		return NULL;
	}
	*code = method_known ? MHD_HTTP_NOT_FOUND :
	    MHD_HTTP_METHOD_NOT_ALLOWED;
	return NULL;
}

unsigned int
http_route_check(const char *method, const char *path, int *token)
{
	const struct http_route	*rt;
	const char		*allow;
	unsigned int		 code;

	if ((rt = http_route_find(method, path, &code, &allow)) != NULL)
		*token = rt->token;
	return code;
}

static enum MHD_Result
http_not_allowed(struct MHD_Connection *c, const char *allow)
{
	static const char	 text[] = "method not allowed\n";
	struct MHD_Response	*r;

	r = http_response(HTTP_CT_TEXT, text, sizeof text - 1,
	    MHD_RESPMEM_PERSISTENT);
	if (r != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return http_queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
}

/*
 * A request that changes state (HTTP_ROUTE_ADMIN): only with an admin
 * token configured (else 404), under a Host in status_hosts whatever the
 * token, with no other site's Origin and with the admin token (403).
 */
static enum MHD_Result
http_admin(struct http *h, struct MHD_Connection *c,
    const struct http_route *rt)
{
	const char	*origin, *host;

	if (!http_auth_has_admin(h->auth))
		return http_reply_text(c, MHD_HTTP_NOT_FOUND, "not found: "
		    "retrying over HTTP needs status_admin_token_file\n");
	if (!http_host_allowed(h, c, 1))
		return http_misdirected(c);
	origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	if (!http_auth_origin_ok(origin, host))
		return http_reply_text(c, MHD_HTTP_FORBIDDEN, "forbidden: "
		    "the request's Origin is not this server\n");
	if (http_level(h, c) != HTTP_AUTH_ADMIN)
		return http_reply_text(c, MHD_HTTP_FORBIDDEN, "forbidden: send "
		    "\"Authorization: Bearer ADMIN_TOKEN\" "
		    "(status_admin_token_file)\n");
	return rt->handler(h, c);
}

/* Does the request announce a body? */
static int
http_has_body(struct MHD_Connection *c)
{
	const char	*len;

	len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	return (len != NULL && strcmp(len, "0") != 0) ||
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/*
 * The access handler. MHD calls it once the headers are in, then again
 * for each piece of body and once at the end. A GET is answered at that
 * last call, which lets MHD keep the connection alive; a method the path
 * does not take, and a request announcing a body, is refused on the first call,
 * before MHD reads the body (MHD then closes the connection).
 */
static enum MHD_Result
http_request_cb(void *arg, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	static char		 headers_seen, answered;
	struct http		*h = arg;
	const struct http_route	*rt;
	const char		*allow;
	unsigned int		 code;

	if (*state == &answered) {
		*upload_len = 0;
		return MHD_YES;
	}
	rt = http_route_find(method, url, &code, &allow);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED) {
		*state = &answered;
		return http_not_allowed(c, allow);
	}
	if (*state == NULL) {
		if (http_has_body(c)) {
			*state = &answered;
			return http_reply_text(c, MHD_HTTP_BAD_REQUEST,
			    "a request here has no body\n");
		}
		*state = &headers_seen;
		return MHD_YES;
	}
	if (*upload_len != 0)
		return MHD_NO;
	*state = &answered;
	if (rt == NULL)
		return http_reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (rt->token == HTTP_ROUTE_ADMIN)
		return http_admin(h, c, rt);
	if (rt->host && !http_host_allowed(h, c, 0))
		return http_misdirected(c);
	if (rt->token && !http_authorized(h, c))
		return http_unauthorized(c);
	return rt->handler(h, c);
}

/* Let MHD work, then wake up again when it next needs to. */
static void
http_run(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG	ms;

	MHD_run(h->mhd);
	ev_timer_stop(h->sv->loop, &h->timer);
	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES) {
		ev_timer_set(&h->timer, (double)ms / 1000.0, 0);
		ev_timer_start(h->sv->loop, &h->timer);
	}
}

static void
http_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	http_run(io->data);
}

static void
http_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	http_run(t->data);
}

struct http *
http_new(struct supervisor *sv, char **cause)
{
	struct config			*cfg = sv->cfg;
	struct http			*h;
	struct addr			 a;
	const union MHD_DaemonInfo	*info;
	unsigned int			 flags;
	uint16_t			 port;
	char				*where;

	if (addr_parse(cfg->status, &a, cause) == -1)
		return NULL;
	if (mhd_api_load(cause) == -1) {
		addr_free(&a);
		return NULL;
	}
	h = xcalloc(1, sizeof *h);
	h->sv = sv;
	if ((h->auth = http_auth_new(cfg, cause)) == NULL) {
		addr_free(&a);
		free(h);
		return NULL;
	}

	flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (a.family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port = ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port);
	} else
		port = ntohs(((struct sockaddr_in *)&a.ss)->sin_port);
	h->starting = 1;
	h->mhd = MHD_start_daemon(flags, port, NULL, NULL, http_request_cb, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a.ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
	    MHD_OPTION_END);
	h->starting = 0;
	if (h->mhd == NULL) {
		xasprintf(cause, "%s: %s", a.display, h->start_error != NULL ?
		    h->start_error : "cannot start the HTTP server");
		goto fail;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		xasprintf(cause, "%s: libmicrohttpd has no epoll support",
		    a.display);
		goto fail;
	}
	ev_io_init(&h->io, http_io_cb, info->epoll_fd, EV_READ);
	h->io.data = h;
	ev_io_start(sv->loop, &h->io);
	ev_init(&h->timer, http_timer_cb);
	h->timer.data = h;

	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	where = info != NULL ? addr_sockname(info->listen_fd) : NULL;
	log_info("status endpoint on http://%s/%s%s",
	    where != NULL ? where : a.display,
	    http_auth_has_token(h->auth) ?
	    " (token required but for / and /healthz)" : "",
	    http_auth_has_admin(h->auth) ?
	    " (POST /retry with the admin token)" : "");
	free(where);
	free(h->start_error);
	h->start_error = NULL;
	addr_free(&a);
	return h;

fail:
	if (h->mhd != NULL)
		MHD_stop_daemon(h->mhd);
	free(h->start_error);
	http_auth_free(h->auth);
	free(h);
	addr_free(&a);
	return NULL;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	ev_io_stop(h->sv->loop, &h->io);
	ev_timer_stop(h->sv->loop, &h->timer);
	MHD_stop_daemon(h->mhd);
	http_auth_free(h->auth);
	free(h);
}

static int
http_service_start(struct supervisor *sv, void **state, char **cause)
{
	if (sv->cfg->status == NULL)
		return 0;
	return (*state = http_new(sv, cause)) == NULL ? -1 : 0;
}

static void
http_service_free(void *state)
{
	http_free(state);
}

const struct supervisor_service http_service = {
	.name = "status",
	.start = http_service_start,
	.free = http_service_free,
};

unsigned int
http_connections(struct http *h)
{
	const union MHD_DaemonInfo	*info;

	if (h == NULL)
		return 0;
	info = MHD_get_daemon_info(h->mhd,
	    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info != NULL ? info->num_connections : 0;
}
