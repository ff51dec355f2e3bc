/*
 * What the client subcommands (submit, result, status, ctl) share: the
 * CONN options of SPEC section 2 that name the listener and the authkey,
 * connecting and authenticating, and JSON requests and replies over the
 * connection. Problems are printed as "mpsup: ..." on stderr here, so the
 * subcommands only choose their exit status.
 */
#ifndef MPSUP_CMD_CONN_H
#define MPSUP_CMD_CONN_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/buf.h"
#include "ipc/jsontext.h"

struct cli_conn;
struct ipc_client;

/* A reply: the frame's text and the object in it. */
struct cli_conn_reply {
	char			*text;
	size_t			 len;
	struct jsontext_span	 obj;	/* spans point into text */
	int			 ok;
};

/* Where to connect, as given on the command line. */
struct cli_conn_options {
	const char	*config;	/* -c FILE */
	const char	*address;	/* -a ADDRESS */
	const char	*keyfile;	/* -k KEYFILE */
};

/* getopt pieces every client subcommand takes. */
#define CONN_OPTSTRING	"a:c:k:"
#define CONN_LONGOPTS							\
	{ "address", required_argument, NULL, 'a' },			\
	{ "config", required_argument, NULL, 'c' },			\
	{ "authkey", required_argument, NULL, 'k' }
#define CONN_USAGE	"[-c FILE | -a ADDRESS -k KEYFILE]"
#define CONN_HELP							\
	"CONN: -c FILE takes the address and authkey from the config; -a\n"	\
	"ADDRESS -k KEYFILE names them; MPSUP_ADDRESS and "		\
	"MPSUP_AUTHKEY_FILE\nin the environment do too; else ./pool.ini "	\
	"is used.\n"

/* cli_conn_open() flags. */
#define CONN_ADMIN	0x1	/* a control request: prefer the admin key */

/* Largest reply accepted (a waited batch carries 1000 records). */
#define CONN_REPLY_MAX		((uint64_t)1 << 30)
/* Bound on a reply to a request that does not wait for jobs. */
#define CONN_REPLY_TIMEOUT_MS	60000

int		 cli_conn_option(struct cli_conn_options *, int, const char *);
int		 cli_conn_open(const struct cli_conn_options *, int,
		    struct cli_conn **);
void		 cli_conn_close(struct cli_conn *);
const char	*cli_conn_address(const struct cli_conn *);
struct ipc_client *cli_conn_client(struct cli_conn *);

struct cli_conn_reply	*cli_conn_request(struct cli_conn *, json_t *, int);
struct cli_conn_reply	*cli_conn_request_text(struct cli_conn *, const char *,
			    size_t, int);
struct cli_conn_reply	*cli_conn_reply_parse(char *, size_t);
void		 cli_conn_reply_free(struct cli_conn_reply *);
int		 cli_conn_reply_get(const struct cli_conn_reply *, const char *,
		    struct jsontext_span *);
int		 cli_conn_reply_is(const struct cli_conn_reply *, const char *);
void		 cli_conn_reply_error(const struct cli_conn_reply *);
char		*cli_conn_span_string(const struct jsontext_span *);
void		 cli_conn_print_span(FILE *, const struct jsontext_span *);
char		*cli_conn_member_text(const struct jsontext_span *,
		    const char *);
void		 cli_conn_print_safe(FILE *, const char *);
json_t		*cli_conn_json_seconds(double);
int		 cli_conn_wait_timeout_ms(int, double);

int		 cli_conn_json_valid(const char *, size_t);
int		 cli_conn_string_append(struct buf *, const char *, size_t);
int		 cli_conn_utf8_valid(const char *);

#endif
