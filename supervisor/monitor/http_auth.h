/*
 * Who an HTTP request is (see docs/SECURITY.md): the bearer tokens of
 * status_token_file (read the status) and status_admin_token_file (also
 * retry dead letters), the Host names answered without a token
 * (status_hosts), and the Origin a state-changing request may come
 * from. Tokens are kept only as SHA-256 digests and compared in constant
 * time. Nothing here knows libmicrohttpd: callers pass header values.
 */
#ifndef MPSUP_HTTP_AUTH_H
#define MPSUP_HTTP_AUTH_H

struct config;
struct http_auth;

/* What the Authorization header proves. */
enum http_auth_level {
	HTTP_AUTH_NONE,		/* no token, or not one of ours */
	HTTP_AUTH_STATUS,	/* status_token_file's */
	HTTP_AUTH_ADMIN		/* status_admin_token_file's */
};

/*
 * Load cfg's token files (either may be unset) and take its Host names:
 * status_hosts, or else the status address's own host, localhost and
 * the loopback addresses. NULL with cause
 * (allocated, naming the file) if one cannot be loaded, or if both hold
 * the same token.
 */
struct http_auth	*http_auth_new(const struct config *, char **cause);
void			 http_auth_free(struct http_auth *);
int			 http_auth_has_token(const struct http_auth *);
int			 http_auth_has_admin(const struct http_auth *);
/* The level of an Authorization header's value (NULL: none sent). */
enum http_auth_level	 http_auth_level(const struct http_auth *,
			    const char *authorization);
/*
 * May a request with this Host header (NULL if none) be answered without
 * a token? Its port left out, it must name one of the Host names, case
 * aside. A request without Host is not from a browser, and is answered.
 */
int			 http_auth_host_ok(const struct http_auth *,
			    const char *host);
/*
 * For `mpsup check`: -1 with *msg set if status_admin_token_file holds
 * the same token as status_token_file. Unreadable files are not compared.
 */
int			 http_auth_distinct(const struct config *, char **msg);
/*
 * May a request that changes state come from origin (its Origin header,
 * NULL if none) to host (its Host header, NULL if none)? Without Origin
 * (not a browser's cross-site request), yes; with one, only
 * "http://HOST" or "https://HOST" (a TLS proxy in front) for the Host
 * the request was sent to, case aside.
 */
int			 http_auth_origin_ok(const char *origin,
			    const char *host);

#endif
