/*
 * Clients of the socket (SPEC section 11): [client:NAME] sections and
 * the two shorthands, authkey_file for the client "default" and
 * admin_authkey_file for the client "admin". A client is known by the
 * key that answered the server's challenge, so every client needs a key
 * file of its own.
 *
 * With no [client:] section and no admin key, the one client "default"
 * may do everything, as before roles existed: there is nobody to keep it
 * from. As soon as a second client or an admin key exists, each client
 * has exactly its role.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "config/config.h"
#include "config/config_impl.h"
#include "config/parse.h"

static const char *const role_names[] = {
	[ROLE_MONITOR] = "monitor",
	[ROLE_SUBMIT] = "submit",
	[ROLE_ADMIN] = "admin",
};

const char *
config_role_name(enum client_role role)
{
	return role_names[role];
}

char *
config_client_key_label(const struct client_config *cc)
{
	char	*s;

	if (cc->shorthand)
		return xstrdup(strcmp(cc->name, "admin") == 0 ?
		    "admin_authkey_file" : "authkey_file");
	xasprintf(&s, "[client:%s] authkey_file", cc->name);
	return s;
}

void
config_client_free(struct client_config *cc)
{
	free(cc->name);
	free(cc->authkey_file);
	free_strv(cc->pools, cc->npools);
	free(cc);
}

/* The client named name, or NULL. */
static struct client_config *
find_client(const struct config *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->nclients; i++)
		if (strcmp(cfg->clients[i]->name, name) == 0)
			return cfg->clients[i];
	return NULL;
}

static struct client_config *
client_add(struct config *cfg, const char *name, int line)
{
	struct client_config	*cc;

	cc = xcalloc(1, sizeof *cc);
	cc->name = xstrdup(name);
	cc->line = line;
	cc->role = ROLE_SUBMIT;
	cfg->clients = xreallocarray(cfg->clients, cfg->nclients + 1,
	    sizeof *cfg->clients);
	cfg->clients[cfg->nclients++] = cc;
	return cc;
}

void
config_client_section(struct loader *ld, const char *name)
{
	struct config		*cfg = ld->cfg;
	struct client_config	*cc;

	if (!config_valid_name(name)) {
		config_error(ld, ld->lineno, "bad client name '%s' (use up to "
		    "64 letters, digits, '_', '-' and '.')", name);
		ld->sect = SECT_SKIP;
		return;
	}
	if ((cc = find_client(cfg, name)) != NULL) {
		config_error(ld, ld->lineno, "duplicate client '%s' (first at "
		    "line %d)", name, cc->line);
		ld->sect = SECT_SKIP;
		return;
	}
	if (cfg->nclients == CONFIG_MAX_CLIENTS) {
		config_error(ld, ld->lineno, "too many clients (at most %d)",
		    CONFIG_MAX_CLIENTS);
		ld->sect = SECT_SKIP;
		return;
	}
	ld->client_states = xreallocarray(ld->client_states,
	    cfg->nclients + 1, sizeof *ld->client_states);
	memset(&ld->client_states[cfg->nclients], 0,
	    sizeof *ld->client_states);
	ld->client_states[cfg->nclients].line = ld->lineno;
	ld->state = &ld->client_states[cfg->nclients];
	ld->client = client_add(cfg, name, ld->lineno);
	ld->sect = SECT_CLIENT;
}

/*
 * A named client's own keys: a key file, and pools that exist (with
 * cluster: pool names, which other nodes may serve).
 */
static void
validate_named(struct loader *ld, struct client_config *cc,
    const struct section_state *st)
{
	int	kpools = st->key_line[config_key_index(SECT_CLIENT, "pools")];
	size_t	i;

	if (cc->authkey_file == NULL)
		config_error(ld, cc->line, "client '%s': missing authkey_file "
		    "(each client is known by a key of its own)", cc->name);
	/* A cluster node also serves its live nodes' pools (gateway). */
	for (i = 0; i < cc->npools; i++)
		if (ld->cfg->cluster == NULL &&
		    config_find_pool(ld->cfg, cc->pools[i]) == NULL)
			config_error(ld, kpools, "pools: no pool named '%s'",
			    cc->pools[i]);
		else if (!config_valid_name(cc->pools[i]))
			config_error(ld, kpools, "pools: '%s' is not a pool "
			    "name", cc->pools[i]);
}

/* Add a shorthand client, unless a section already took its name. */
static void
add_shorthand(struct loader *ld, const char *name, const char *file,
    const char *key, enum client_role role)
{
	int			 line = ld->sup_state.key_line[
				     config_key_index(SECT_SUPERVISOR, key)];
	struct client_config	*cc;

	if ((cc = find_client(ld->cfg, name)) != NULL) {
		config_error(ld, cc->line, "client '%s' is also defined by "
		    "%s (line %d): remove one of them", name, key, line);
		return;
	}
	cc = client_add(ld->cfg, name, line);
	cc->authkey_file = xstrdup(file);
	cc->role = role;
	cc->create_key = strcmp(name, "default") == 0;
	cc->shorthand = 1;
}

/* Two clients may not share a key file (nor, checked at start, a key). */
static void
validate_distinct_files(struct loader *ld)
{
	struct config	*cfg = ld->cfg;
	size_t		 i, j;

	for (i = 0; i < cfg->nclients; i++)
		for (j = 0; j < i; j++)
			if (cfg->clients[i]->authkey_file != NULL &&
			    cfg->clients[j]->authkey_file != NULL &&
			    strcmp(cfg->clients[i]->authkey_file,
			    cfg->clients[j]->authkey_file) == 0)
				config_error(ld, cfg->clients[i]->line,
				    "client '%s': authkey_file %s is also "
				    "client '%s''s: give each client a key of "
				    "its own (mpsup keygen)",
				    cfg->clients[i]->name,
				    cfg->clients[i]->authkey_file,
				    cfg->clients[j]->name);
}

void
config_validate_clients(struct loader *ld)
{
	struct config	*cfg = ld->cfg;
	size_t		 i, named = cfg->nclients;
	int		 kdefault = ld->sup_state.key_line[
			     config_key_index(SECT_SUPERVISOR, "authkey_file")];

	for (i = 0; i < named; i++)
		validate_named(ld, cfg->clients[i], &ld->client_states[i]);
	/* authkey_file = (empty) says: no client "default". */
	if ((named == 0 || kdefault != 0) && cfg->authkey_file != NULL)
		add_shorthand(ld, "default", cfg->authkey_file, "authkey_file",
		    ROLE_SUBMIT);
	if (cfg->admin_authkey_file != NULL)
		add_shorthand(ld, "admin", cfg->admin_authkey_file,
		    "admin_authkey_file", ROLE_ADMIN);
	/* Alone, the default client has nobody to be kept from. */
	if (cfg->nclients == 1 && named == 0 &&
	    strcmp(cfg->clients[0]->name, "default") == 0)
		cfg->clients[0]->role = ROLE_ADMIN;
	if (cfg->nclients == 0 && cfg->nlisten > 0)
		config_error(ld, kdefault, "authkey_file: empty, and no other "
		    "client is configured: nobody could connect (name a key "
		    "file, add a [client:NAME] section, or set listen = to "
		    "nothing)");
	validate_distinct_files(ld);
}

int
config_clients_differ(const struct config *a, const struct config *b)
{
	const struct client_config	*x, *y;
	size_t				 i, j;

	if (a->nclients != b->nclients)
		return 1;
	for (i = 0; i < a->nclients; i++) {
		x = a->clients[i];
		y = b->clients[i];
		if (strcmp(x->name, y->name) != 0 || x->role != y->role ||
		    config_str_differs(x->authkey_file, y->authkey_file) ||
		    x->npools != y->npools || (x->pools == NULL) !=
		    (y->pools == NULL))
			return 1;
		for (j = 0; j < x->npools; j++)
			if (strcmp(x->pools[j], y->pools[j]) != 0)
				return 1;
	}
	return 0;
}
