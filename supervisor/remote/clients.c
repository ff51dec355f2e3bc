/*
 * The listener's clients (see clients.h). The table is built once, at
 * start, from the config of that moment: a reload that changes clients
 * is told that it needs a restart (reload.c), so a connection's client
 * never changes under it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "config/parse.h"
#include "ipc/auth.h"
#include "ipc/authkey.h"
#include "ipc/jsontext.h"
#include "supervisor/remote/clients.h"

struct client {
	char		 *name;
	enum client_role  role;
	char		**pools;	/* NULL = all */
	size_t		  npools;
	long		  connections;
};

struct client_table {
	struct client	*clients;
	struct auth_key	*keys;		/* same index as clients */
	size_t		 n;
};

static int
client_load(struct client_table *t, const struct config *cfg, size_t i,
    char **cause)
{
	const struct client_config	*cc = cfg->clients[i];
	struct client			*c = &t->clients[i];
	unsigned char			*key;
	size_t				 len, j;

	if (authkey_load(cc->authkey_file, cc->create_key, &key, &len,
	    cause) == -1)
		return -1;
	t->keys[i].key = key;
	t->keys[i].len = len;
	t->n = i + 1;
	c->name = xstrdup(cc->name);
	c->role = cc->role;
	if (cc->pools != NULL) {
		c->pools = xcalloc(cc->npools + 1, sizeof *c->pools);
		for (j = 0; j < cc->npools; j++)
			c->pools[j] = xstrdup(cc->pools[j]);
		c->npools = cc->npools;
	}
	for (j = 0; j < i; j++)
		if (authkey_equal(t->keys[j].key, t->keys[j].len, key, len)) {
			*cause = authkey_same_message(cfg, cfg->clients[j],
			    cc);
			return -1;
		}
	return 0;
}

struct client_table *
client_table_new(const struct config *cfg, char **cause)
{
	struct client_table	*t;
	size_t			 i;

	t = xcalloc(1, sizeof *t);
	t->clients = xcalloc(cfg->nclients, sizeof *t->clients);
	t->keys = xcalloc(cfg->nclients, sizeof *t->keys);
	for (i = 0; i < cfg->nclients; i++)
		if (client_load(t, cfg, i, cause) == -1) {
			client_table_free(t);
			return NULL;
		}
	return t;
}

void
client_table_free(struct client_table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		authkey_free((unsigned char *)t->keys[i].key, t->keys[i].len);
		free(t->clients[i].name);
		free_strv(t->clients[i].pools, t->clients[i].npools);
	}
	free(t->keys);
	free(t->clients);
	free(t);
}

struct auth_server *
client_table_auth(const struct client_table *t, int legacy_md5)
{
	return auth_server_new(t->keys, t->n, legacy_md5);
}

struct client *
client_table_get(struct client_table *t, int index)
{
	if (index < 0 || (size_t)index >= t->n)
		return NULL;
	return &t->clients[index];
}

void
client_table_status(const struct client_table *t, struct buf *b)
{
	size_t	i;

	buf_append(b, "[", 1);
	for (i = 0; i < t->n; i++) {
		buf_append_str(b, i ? ",{\"name\":" : "{\"name\":");
		jsontext_string_append(b, t->clients[i].name,
		    strlen(t->clients[i].name));
		buf_appendf(b, ",\"role\":\"%s\",\"connections\":%ld}",
		    config_role_name(t->clients[i].role),
		    t->clients[i].connections);
	}
	buf_append(b, "]", 1);
}

const char *
client_name(const struct client *c)
{
	return c->name;
}

int
client_role(const struct client *c)
{
	return c->role;
}

int
client_may_use_pool(const struct client *c, const char *pool)
{
	size_t	i;

	if (c->pools == NULL)
		return 1;
	for (i = 0; i < c->npools; i++)
		if (strcmp(c->pools[i], pool) == 0)
			return 1;
	return 0;
}

void
client_connections_add(struct client *c, int delta)
{
	c->connections += delta;
}
