/*
 * CONN handling for the client subcommands (see cmd_conn.h).
 *
 * The address and key come from, in order: -a and -k; the config named by
 * -c; the environment (MPSUP_ADDRESS, MPSUP_AUTHKEY_FILE) when there is no
 * -c; ./pool.ini when it exists. From a config the address is its first
 * unix: listen entry (the first entry when none is unix:) and the key that
 * of its first client with the admin role whose key file is readable, for
 * control requests; otherwise that of the client "default" (authkey_file)
 * when it exists, else of the first client whose key file is readable.
 * The client never creates a key file.
 *
 * Requests and replies are JSON objects, one frame each. Requests are
 * built with jansson; replies are read with jsontext and what they carry
 * (records, the status document) is printed as the server wrote it, so a
 * worker's result reaches the user byte for byte, numbers of any size
 * included.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "ipc/addr.h"
#include "ipc/auth.h"
#include "ipc/authkey.h"
#include "ipc/client.h"
#include "ipc/jsontext.h"
#include "cli/cmd_conn.h"

#define CONN_DEFAULT_CONFIG	"pool.ini"

struct cli_conn {
	struct ipc_client	*client;
	char			*address;
};

/* Take a CONN option from getopt; returns 1 if ch was one, else 0. */
int
cli_conn_option(struct cli_conn_options *opts, int ch, const char *arg)
{
	switch (ch) {
	case 'a':
		opts->address = arg;
		return 1;
	case 'c':
		opts->config = arg;
		return 1;
	case 'k':
		opts->keyfile = arg;
		return 1;
	}
	return 0;
}

/* An environment variable, or NULL when unset or empty. */
static const char *
cli_conn_getenv(const char *name)
{
	const char	*v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

/*
 * Load the config at path, printing every problem. Returns NULL when it
 * has errors.
 */
static struct config *
cli_conn_load_config(const char *path)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	size_t			 i;

	cfg = config_load(path, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	config_errors_free(&errs);
	if (cfg == NULL)
		fprintf(stderr, "mpsup: %s: invalid configuration\n", path);
	return cfg;
}

/* The config's address for clients: its first unix: listen entry. */
static const char *
cli_conn_config_address(const struct config *cfg)
{
	size_t	i;

	for (i = 0; i < cfg->nlisten; i++) {
		if (strncmp(cfg->listen[i], "unix:", 5) == 0)
			return cfg->listen[i];
	}
	return cfg->nlisten > 0 ? cfg->listen[0] : NULL;
}

/* The config's key file for a request with these cli_conn_open() flags. */
static const char *
cli_conn_config_keyfile(const struct config *cfg, int flags)
{
	const struct client_config	*cc;
	size_t				 i;

	for (i = 0; (flags & CONN_ADMIN) && i < cfg->nclients; i++) {
		cc = cfg->clients[i];
		if (cc->role == ROLE_ADMIN && access(cc->authkey_file, R_OK) == 0)
			return cc->authkey_file;
	}
	for (i = 0; i < cfg->nclients; i++)
		if (strcmp(cfg->clients[i]->name, "default") == 0)
			return cfg->clients[i]->authkey_file;
	for (i = 0; i < cfg->nclients; i++)
		if (access(cfg->clients[i]->authkey_file, R_OK) == 0)
			return cfg->clients[i]->authkey_file;
	return cfg->nclients > 0 ? cfg->clients[0]->authkey_file : NULL;
}

/*
 * Connect and authenticate to the listener named by opts. Returns 0 with
 * *out set, or the exit status after printing why: 2 when the options or
 * the config are wrong, 3 when the key cannot be read or the listener
 * cannot be reached or refuses the key.
 */
int
cli_conn_open(const struct cli_conn_options *opts, int flags,
    struct cli_conn **out)
{
	const char	*config = opts->config;
	const char	*address = opts->address, *keyfile = opts->keyfile;
	struct config	*cfg = NULL;
	struct addr	 a;
	struct cli_conn	*c;
	unsigned char	*key = NULL;
	size_t		 keylen = 0;
	char		*cause;
	int		 fd, rv = 3;

	if (config == NULL) {
		if (address == NULL)
			address = cli_conn_getenv("MPSUP_ADDRESS");
		if (keyfile == NULL)
			keyfile = cli_conn_getenv("MPSUP_AUTHKEY_FILE");
		if ((address == NULL || keyfile == NULL) &&
		    access(CONN_DEFAULT_CONFIG, F_OK) == 0)
			config = CONN_DEFAULT_CONFIG;
	}
	if (config != NULL && (address == NULL || keyfile == NULL)) {
		if ((cfg = cli_conn_load_config(config)) == NULL)
			return 2;
		if (address == NULL &&
		    (address = cli_conn_config_address(cfg)) == NULL) {
			fprintf(stderr, "mpsup: %s: no listen address "
			    "configured\n", config);
			config_free(cfg);
			return 2;
		}
		if (keyfile == NULL)
			keyfile = cli_conn_config_keyfile(cfg, flags);
	}
	if (address == NULL) {
		fprintf(stderr, "mpsup: no address to connect to: give -c "
		    "FILE or -a ADDRESS, or set MPSUP_ADDRESS\n");
		config_free(cfg);
		return 2;
	}
	if (keyfile == NULL) {
		fprintf(stderr, "mpsup: no authkey: give -k KEYFILE or set "
		    "MPSUP_AUTHKEY_FILE\n");
		config_free(cfg);
		return 2;
	}

	if (addr_parse(address, &a, &cause) == -1) {
		fprintf(stderr, "mpsup: bad address %s\n", cause);
		free(cause);
		config_free(cfg);
		return 2;
	}
	if (authkey_load(keyfile, 0, &key, &keylen, &cause) == -1) {
		fprintf(stderr, "mpsup: cannot read the authkey: %s\n", cause);
		free(cause);
		goto out;
	}
	if ((fd = addr_connect(&a, &cause)) == -1) {
		fprintf(stderr, "mpsup: cannot connect to %s\n", cause);
		free(cause);
		goto out;
	}
	if (auth_client_handshake(fd, key, keylen, 0, &cause) == -1) {
		fprintf(stderr, "mpsup: cannot authenticate to %s: %s\n",
		    a.display, cause);
		free(cause);
		close(fd);
		goto out;
	}
	c = xcalloc(1, sizeof *c);
	c->client = ipc_client_open(fd);
	c->address = xstrdup(a.display);
	*out = c;
	rv = 0;
out:
	authkey_free(key, keylen);
	addr_free(&a);
	config_free(cfg);
	return rv;
}

/* Close the connection. */
void
cli_conn_close(struct cli_conn *c)
{
	if (c == NULL)
		return;
	ipc_client_close(c->client);
	free(c->address);
	free(c);
}

/* The address connected to, for messages. */
const char *
cli_conn_address(const struct cli_conn *c)
{
	return c->address;
}

/* The underlying client, for streaming many requests. */
struct ipc_client *
cli_conn_client(struct cli_conn *c)
{
	return c->client;
}

/*
 * Take a reply frame (takes ownership of msg, NUL-terminated): it must be
 * one JSON object with a boolean "ok". Returns the reply, or NULL after
 * printing what is wrong.
 */
struct cli_conn_reply *
cli_conn_reply_parse(char *msg, size_t len)
{
	struct cli_conn_reply	*r;
	struct jsontext_span	 obj, ok;

	if (!jsontext_valid(msg, len) ||
	    jsontext_scan(msg, msg + len, &obj) == NULL ||
	    obj.type != JSONTEXT_OBJECT) {
		fprintf(stderr, "mpsup: malformed reply from the server: not "
		    "a JSON object\n");
		free(msg);
		return NULL;
	}
	if (!jsontext_object_get(&obj, "ok", &ok) ||
	    (ok.type != JSONTEXT_TRUE && ok.type != JSONTEXT_FALSE)) {
		fprintf(stderr, "mpsup: malformed reply from the server: no "
		    "\"ok\"\n");
		free(msg);
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	r->text = msg;
	r->len = len;
	r->obj = obj;
	r->ok = ok.type == JSONTEXT_TRUE;
	return r;
}

/* Free a reply; its spans go with it. */
void
cli_conn_reply_free(struct cli_conn_reply *r)
{
	if (r == NULL)
		return;
	free(r->text);
	free(r);
}

/* Find a member of the reply. */
int
cli_conn_reply_get(const struct cli_conn_reply *r, const char *key,
    struct jsontext_span *val)
{
	return jsontext_object_get(&r->obj, key, val);
}

/*
 * Send the request text req[0..len) and wait for its reply, at most
 * timeout_ms (0 = as long as it takes). Returns the reply, or NULL after
 * printing why there is none.
 */
struct cli_conn_reply *
cli_conn_request_text(struct cli_conn *c, const char *req, size_t len,
    int timeout_ms)
{
	char	*msg, *cause;
	size_t	 mlen;

	if (ipc_client_set_timeout(c->client, timeout_ms) == -1 ||
	    ipc_client_send(c->client, req, len) == -1) {
		fprintf(stderr, "mpsup: %s: send: %s\n", c->address,
		    strerror(errno));
		return NULL;
	}
	if (ipc_client_recv(c->client, &msg, &mlen, CONN_REPLY_MAX,
	    &cause) == -1) {
		fprintf(stderr, "mpsup: %s: %s\n", c->address, cause);
		free(cause);
		return NULL;
	}
	return cli_conn_reply_parse(msg, mlen);
}

/* The same with the request as JSON (takes the reference to req). */
struct cli_conn_reply *
cli_conn_request(struct cli_conn *c, json_t *req, int timeout_ms)
{
	struct cli_conn_reply	*reply;
	char			*text;

	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text == NULL) {
		fprintf(stderr, "mpsup: cannot encode the request\n");
		return NULL;
	}
	reply = cli_conn_request_text(c, text, strlen(text), timeout_ms);
	free(text);
	return reply;
}

/* Is the reply a refusal with this error code? */
int
cli_conn_reply_is(const struct cli_conn_reply *r, const char *code)
{
	struct jsontext_span	v;

	return !r->ok && cli_conn_reply_get(r, "error", &v) &&
	    jsontext_string_eq(&v, code);
}

/* Print a refusal as "mpsup: CODE: MESSAGE". */
void
cli_conn_reply_error(const struct cli_conn_reply *r)
{
	struct jsontext_span	 v;
	char			*code = NULL, *message = NULL;

	if (cli_conn_reply_get(r, "error", &v))
		code = cli_conn_span_string(&v);
	if (cli_conn_reply_get(r, "message", &v))
		message = cli_conn_span_string(&v);
	fprintf(stderr, "mpsup: %s: %s\n", code != NULL ? code : "error",
	    message != NULL ? message : "request failed");
	free(code);
	free(message);
}

/* A string value decoded (the caller frees it), or NULL if not a string. */
char *
cli_conn_span_string(const struct jsontext_span *v)
{
	if (v->type != JSONTEXT_STRING)
		return NULL;
	return jsontext_string_decode(v, NULL);
}

/*
 * Member key of the object obj as text for a person: a string decoded, a
 * number or true/false as written; NULL if missing or null. The caller
 * frees it.
 */
char *
cli_conn_member_text(const struct jsontext_span *obj, const char *key)
{
	struct jsontext_span	v;

	if (obj->type != JSONTEXT_OBJECT || !jsontext_object_get(obj, key, &v))
		return NULL;
	switch (v.type) {
	case JSONTEXT_STRING:
		return jsontext_string_decode(&v, NULL);
	case JSONTEXT_NUMBER:
	case JSONTEXT_TRUE:
	case JSONTEXT_FALSE:
		return xstrndup(v.p, v.len);
	default:
		return NULL;
	}
}

/*
 * Write s for a terminal: control characters (but tab) as \xNN, so that
 * what a worker logged cannot play escape-sequence tricks on the reader.
 */
void
cli_conn_print_safe(FILE *f, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if ((*p >= 0x20 && *p != 0x7f) || *p == '\t')
			fputc(*p, f);
		else
			fprintf(f, "\\x%02x", *p);
	}
}

/* Write a value's text as the server sent it, and a newline. */
void
cli_conn_print_span(FILE *f, const struct jsontext_span *v)
{
	fwrite(v->p, 1, v->len, f);
	fputc('\n', f);
}

/* A number of seconds as JSON: an integer when it is one. */
json_t *
cli_conn_json_seconds(double secs)
{
	if (secs < 1e15 && secs == (double)(json_int_t)secs)
		return json_integer((json_int_t)secs);
	return json_real(secs);
}

/*
 * How long to wait for a reply: a fixed bound for requests answered at
 * once, the job's own bound and some slack for waiting ones, forever for
 * waiting ones with no bound.
 */
int
cli_conn_wait_timeout_ms(int wait, double timeout)
{
	double	ms;

	if (!wait)
		return CONN_REPLY_TIMEOUT_MS;
	if (timeout <= 0)
		return 0;
	ms = timeout * 1000.0 + CONN_REPLY_TIMEOUT_MS;
	return ms < INT_MAX ? (int)ms : 0;
}

/* Is s[0..len) one valid JSON value (white space around it allowed)? */
int
cli_conn_json_valid(const char *s, size_t len)
{
	return jsontext_valid(s, len);
}

/* Is the C string s valid UTF-8 (so that it can be sent as JSON)? */
int
cli_conn_utf8_valid(const char *s)
{
	json_t	*v;

	if ((v = json_string(s)) == NULL)
		return 0;
	json_decref(v);
	return 1;
}

/*
 * Append s[0..len) to b as a quoted JSON string. Returns 0, or -1 if it is
 * not valid UTF-8.
 */
int
cli_conn_string_append(struct buf *b, const char *s, size_t len)
{
	json_t	*v;
	char	*text;

	if ((v = json_stringn(s, len)) == NULL)
		return -1;
	text = json_dumps(v, JSON_ENCODE_ANY);
	json_decref(v);
	if (text == NULL)
		return -1;
	buf_append_str(b, text);
	free(text);
	return 0;
}
