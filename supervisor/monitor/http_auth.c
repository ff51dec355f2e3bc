/*
 * The HTTP endpoint's tokens and origins (see http_auth.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/xmalloc.h"
#include "config/config.h"
#include "ipc/authkey.h"
#include "supervisor/monitor/http_auth.h"

struct http_auth {
	int		has_token;
	unsigned char	token_md[SHA256_DIGEST_LENGTH];
	int		has_admin;
	unsigned char	admin_md[SHA256_DIGEST_LENGTH];
	char		**hosts;	/* Host names answered, no token */
	size_t		 nhosts;
};

/* Read the token file at path into md (as its digest). */
static int
http_auth_load(const char *path, unsigned char *md, char **cause)
{
	unsigned char	*key;
	size_t		 len;

	if (authkey_load(path, 0, &key, &len, cause) == -1)
		return -1;
	SHA256(key, len, md);
	authkey_free(key, len);
	return 0;
}

static char *
http_auth_same_message(const struct config *cfg)
{
	char	*msg;

	xasprintf(&msg, "%s: status_admin_token_file %s holds the same token "
	    "as status_token_file %s (give the admin token its own file: "
	    "mpsup keygen)", cfg->path, cfg->status_admin_token_file,
	    cfg->status_token_file);
	return msg;
}

static void
http_auth_set_hosts(struct http_auth *a, const struct config *cfg)
{
	static const char *const defaults[] = { "localhost", "127.0.0.1",
	    "[::1]" };
	const char	*s = cfg->status, *end;
	size_t		 i;

	if (cfg->status_hosts != NULL) {
		a->hosts = xreallocarray(NULL, cfg->nstatus_hosts,
		    sizeof *a->hosts);
		for (i = 0; i < cfg->nstatus_hosts; i++)
			a->hosts[a->nhosts++] = xstrdup(cfg->status_hosts[i]);
		return;
	}
	a->hosts = xreallocarray(NULL, 4, sizeof *a->hosts);
	for (i = 0; i < 3; i++)
		a->hosts[a->nhosts++] = xstrdup(defaults[i]);
	if (s[0] == '[')
		end = strchr(s, ']') + 1;	/* checked by the config */
	else
		end = strrchr(s, ':');
	a->hosts[a->nhosts++] = xstrndup(s, (size_t)(end - s));
}

struct http_auth *
http_auth_new(const struct config *cfg, char **cause)
{
	struct http_auth	*a;

	a = xcalloc(1, sizeof *a);
	http_auth_set_hosts(a, cfg);
	if (cfg->status_token_file != NULL) {
		if (http_auth_load(cfg->status_token_file, a->token_md,
		    cause) == -1)
			goto fail;
		a->has_token = 1;
	}
	if (cfg->status_admin_token_file != NULL) {
		if (http_auth_load(cfg->status_admin_token_file, a->admin_md,
		    cause) == -1)
			goto fail;
		a->has_admin = 1;
	}
	if (a->has_token && a->has_admin && CRYPTO_memcmp(a->token_md,
	    a->admin_md, sizeof a->token_md) == 0) {
		*cause = http_auth_same_message(cfg);
		goto fail;
	}
	return a;
fail:
	http_auth_free(a);
	return NULL;
}

void
http_auth_free(struct http_auth *a)
{
	size_t	i;

	if (a == NULL)
		return;
	for (i = 0; i < a->nhosts; i++)
		free(a->hosts[i]);
	free(a->hosts);
	OPENSSL_cleanse(a, sizeof *a);
	free(a);
}

int
http_auth_has_token(const struct http_auth *a)
{
	return a->has_token;
}

int
http_auth_has_admin(const struct http_auth *a)
{
	return a->has_admin;
}

/*
 * Both sides are hashed first, so each compare takes the same time
 * whatever the length and content of what the client sent; both
 * compares are always made.
 */
enum http_auth_level
http_auth_level(const struct http_auth *a, const char *v)
{
	unsigned char	md[SHA256_DIGEST_LENGTH];
	int		status, admin;

	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return HTTP_AUTH_NONE;
	for (v += 7; *v == ' ' || *v == '\t'; v++)
		;
	SHA256((const unsigned char *)v, strlen(v), md);
	status = CRYPTO_memcmp(md, a->token_md, sizeof md) == 0;
	admin = CRYPTO_memcmp(md, a->admin_md, sizeof md) == 0;
	OPENSSL_cleanse(md, sizeof md);
	if (a->has_admin && admin)
		return HTTP_AUTH_ADMIN;
	if (a->has_token && status)
		return HTTP_AUTH_STATUS;
	return HTTP_AUTH_NONE;
}

int
http_auth_distinct(const struct config *cfg, char **msg)
{
	unsigned char	token[SHA256_DIGEST_LENGTH], admin[SHA256_DIGEST_LENGTH];
	char		*cause = NULL;
	int		 same;

	if (cfg->status_token_file == NULL ||
	    cfg->status_admin_token_file == NULL)
		return 0;
	if (http_auth_load(cfg->status_token_file, token, &cause) == -1 ||
	    http_auth_load(cfg->status_admin_token_file, admin, &cause) == -1) {
		free(cause);
		return 0;
	}
	same = CRYPTO_memcmp(token, admin, sizeof token) == 0;
	OPENSSL_cleanse(token, sizeof token);
	OPENSSL_cleanse(admin, sizeof admin);
	if (!same)
		return 0;
	*msg = http_auth_same_message(cfg);
	return -1;
}

int
http_auth_host_ok(const struct http_auth *a, const char *v)
{
	const char	*end;
	size_t		 i, n;

	if (v == NULL)
		return 1;
	if (v[0] == '[' && (end = strchr(v, ']')) != NULL)
		end++;
	else
		end = v + strcspn(v, v[0] == '[' ? "" : ":");
	n = (size_t)(end - v);
	if (*end != '\0' && *end != ':')
		return 0;
	for (i = 0; i < a->nhosts; i++)
		if (strlen(a->hosts[i]) == n &&
		    strncasecmp(a->hosts[i], v, n) == 0)
			return 1;
	return 0;
}

int
http_auth_origin_ok(const char *origin, const char *host)
{
	if (origin == NULL)
		return 1;
	if (host == NULL || *host == '\0')
		return 0;
	if (strncasecmp(origin, "http://", 7) == 0)
		origin += 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		origin += 8;
	else
		return 0;
	return strcasecmp(origin, host) == 0;
}
