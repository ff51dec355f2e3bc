/*
 * `mpsup submit --stdin`: one job per line of standard input (see
 * cmd_submit.c for the other forms).
 *
 * It asks for the pool's type (a stream pool's line is the job's JSON
 * data, an exec pool's line a shell command), then sends "submit_many"
 * batches of up to SUBMIT_BATCH_JOBS lines, with at most SUBMIT_WINDOW
 * batches awaiting their reply, and prints each reply's ids (or records)
 * as it arrives. Replies come in request order, so output is in input
 * order, and memory stays flat however long the input. Empty lines are
 * skipped; a bad line is reported with its number and skipped, and makes
 * the exit status 2 once the rest has been submitted.
 *
 * With -w on a terminal (or --progress) a progress line on stderr counts
 * the jobs done and failed as their records come back
 * (cmd_submit_progress.h); batches are then smaller (two jobs per worker
 * of the pool, 10 to 100), so that it moves.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "ipc/client.h"
#include "ipc/jsontext.h"
#include "cli/cmd_conn.h"
#include "cli/cmd_submit.h"
#include "cli/cmd_submit_progress.h"
#include "cli/cmd_submit_reply.h"

#define SUBMIT_BATCH_JOBS	1000		/* jobs per submit_many */
#define SUBMIT_BATCH_PROGRESS	100		/* ... waited, with progress, */
#define SUBMIT_BATCH_PROGRESS_MIN 10		/* 2 per worker, at least */
#define SUBMIT_BATCH_BYTES	(1024 * 1024)	/* ... or about this size */
#define SUBMIT_WINDOW		8		/* batches awaiting replies */
#define SUBMIT_LINE_MAX		(16 * 1024 * 1024)
#define SUBMIT_OUT_BUFFER	(64 * 1024)	/* stdout, when not a tty */

/* A --stdin run. */
struct submit_stream {
	struct ipc_client	*client;
	const char		*address;
	int			 stream;	/* the pool is a stream pool */
	int			 wait;
	struct buf		 prefix;	/* every batch starts so */
	struct buf		 flow;		/* every job starts so */

	struct buf		 in;		/* read, not yet split */
	int			 in_eof;
	int			 discarding;	/* inside an over-long line */
	uint64_t		 lineno;

	struct buf		 batch;		/* request being built */
	size_t			 batch_max;	/* jobs */
	size_t			 batch_jobs;
	uint64_t		 batch_first;	/* its first job's line */

	/* Batches sent and awaiting their reply, oldest at head. */
	size_t			 sent_jobs[SUBMIT_WINDOW];
	uint64_t		 sent_first[SUBMIT_WINDOW];
	size_t			 head;
	size_t			 outstanding;

	uint64_t		 last_sent;	/* line ending the last batch */

	int			 bad_lines;
	int			 failed;	/* a job or batch failed */
	int			 refused;	/* a batch was refused */
	int			 broken;	/* the connection failed */
	struct submit_progress	 progress;
	struct submit_items	 items;		/* the reply being printed */
};

/*
 * Find the type of pool from the status document, and its workers (into
 * *workers, 0 if not said). Returns 1 for a stream pool, 0 for an exec
 * pool, -1 after printing why there is no answer.
 */
static int
submit_pool_type(struct cli_conn *c, const char *pool, int64_t *workers)
{
	struct cli_conn_reply	*reply;
	struct jsontext_span	 status, pools, p, name, type;
	size_t			 state = 0;
	int			 rv = -1, found = 0;

	reply = cli_conn_request(c, json_pack("{s:s}", "op", "status"),
	    CONN_REPLY_TIMEOUT_MS);
	if (reply == NULL)
		return -1;
	if (!reply->ok) {
		cli_conn_reply_error(reply);
		cli_conn_reply_free(reply);
		return -1;
	}
	if (!cli_conn_reply_get(reply, "status", &status) ||
	    status.type != JSONTEXT_OBJECT ||
	    !jsontext_object_get(&status, "pools", &pools) ||
	    pools.type != JSONTEXT_ARRAY) {
		fprintf(stderr, "mpsup: malformed reply from the server: no "
		    "pools in the status document\n");
		cli_conn_reply_free(reply);
		return -1;
	}
	while (!found && jsontext_array_next(&pools, &state, &p)) {
		if (p.type != JSONTEXT_OBJECT ||
		    !jsontext_object_get(&p, "name", &name) ||
		    !jsontext_string_eq(&name, pool))
			continue;
		found = 1;
		if (!jsontext_object_get(&p, "workers_target", &type) ||
		    jsontext_integer(&type, 0, 1 << 20, workers) == -1)
			*workers = 0;
		if (!jsontext_object_get(&p, "type", &type))
			type.type = JSONTEXT_INVALID;
		if (jsontext_string_eq(&type, "stream"))
			rv = 1;
		else if (jsontext_string_eq(&type, "exec"))
			rv = 0;
		else
			fprintf(stderr, "mpsup: pool %s has an unknown type\n",
			    pool);
	}
	if (!found)
		fprintf(stderr, "mpsup: unknown_pool: no pool named '%s'\n",
		    pool);
	cli_conn_reply_free(reply);
	return rv;
}

/* Send the batch being built. */
static void
submit_send_batch(struct submit_stream *s)
{
	size_t	slot;

	buf_append_str(&s->batch, "]}");
	ipc_client_queue(s->client, buf_head(&s->batch), buf_used(&s->batch));
	slot = (s->head + s->outstanding) % SUBMIT_WINDOW;
	s->sent_jobs[slot] = s->batch_jobs;
	s->sent_first[slot] = s->batch_first;
	s->outstanding++;
	s->progress.total += s->batch_jobs;
	s->last_sent = s->lineno;
	buf_reset(&s->batch);
	buf_trim(&s->batch, 2 * SUBMIT_BATCH_BYTES);
	s->batch_jobs = 0;
	if (ipc_client_try_flush(s->client) == -1) {
		fprintf(stderr, "mpsup: %s: send: %s\n", s->address,
		    strerror(errno));
		s->broken = 1;
	}
}

/* Report a line that cannot be a job. */
static void
submit_bad_line(struct submit_stream *s, const char *why)
{
	submit_progress_clear(&s->progress);
	fprintf(stderr, "mpsup: line %" PRIu64 ": %s (skipped)\n", s->lineno,
	    why);
	s->bad_lines++;
}

/* Turn one input line (no newline) into a job of the current batch. */
static void
submit_add_line(struct submit_stream *s, const char *line, size_t len)
{
	size_t	mark;

	s->lineno++;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return;
	if (len > SUBMIT_LINE_MAX) {
		submit_bad_line(s, "line too long");
		return;
	}
	if (s->stream && !cli_conn_json_valid(line, len)) {
		submit_bad_line(s, "not valid JSON");
		return;
	}

	mark = s->batch.len;
	if (s->batch_jobs == 0) {
		buf_append(&s->batch, buf_head(&s->prefix),
		    buf_used(&s->prefix));
		s->batch_first = s->lineno;
	} else
		buf_append(&s->batch, ",", 1);
	buf_append(&s->batch, "{", 1);
	buf_append(&s->batch, buf_head(&s->flow), buf_used(&s->flow));
	if (s->stream) {
		buf_append_str(&s->batch, "\"data\":");
		buf_append(&s->batch, line, len);
	} else {
		buf_append_str(&s->batch, "\"shell\":");
		if (cli_conn_string_append(&s->batch, line, len) == -1) {
			s->batch.len = mark;
			if (s->batch_jobs == 0)
				buf_reset(&s->batch);
			submit_bad_line(s, "not valid UTF-8");
			return;
		}
	}
	buf_append(&s->batch, "}", 1);
	s->batch_jobs++;
	if (s->batch_jobs >= s->batch_max ||
	    buf_used(&s->batch) >= SUBMIT_BATCH_BYTES)
		submit_send_batch(s);
}

/* Turn the complete lines read so far into jobs, while the window allows. */
static void
submit_take_lines(struct submit_stream *s)
{
	char	*nl;
	size_t	 len;

	while (s->outstanding < SUBMIT_WINDOW && !s->broken &&
	    buf_used(&s->in) > 0) {
		nl = memchr(buf_head(&s->in), '\n', buf_used(&s->in));
		if (nl == NULL && !s->in_eof) {
			if (buf_used(&s->in) <= SUBMIT_LINE_MAX)
				break;
			if (!s->discarding) {
				s->lineno++;
				submit_bad_line(s, "line too long");
				s->discarding = 1;
			}
			buf_consume(&s->in, buf_used(&s->in));
			break;
		}
		len = nl != NULL ? (size_t)(nl - buf_head(&s->in)) :
		    buf_used(&s->in);
		if (s->discarding)
			s->discarding = 0;
		else
			submit_add_line(s, buf_head(&s->in), len);
		buf_consume(&s->in, nl != NULL ? len + 1 : len);
	}
	buf_trim(&s->in, 4 * SUBMIT_READ_SIZE);
}

/*
 * The general way to a reply's list: parse it as any reply, and report a
 * refusal or a malformed reply. Returns the reply (the elements in
 * s->items point into it), or NULL when the batch is over.
 */
static struct cli_conn_reply *
submit_reply_general(struct submit_stream *s, char *msg, size_t len,
    size_t njobs, uint64_t first)
{
	struct cli_conn_reply	*reply;
	struct jsontext_span	 list, v, state;
	size_t			 it = 0;

	if ((reply = cli_conn_reply_parse(msg, len)) == NULL) {
		s->broken = 1;
		return NULL;
	}
	if (!reply->ok) {
		s->progress.failed += njobs;
		cli_conn_reply_error(reply);
		fprintf(stderr, "mpsup: %zu job%s from line %" PRIu64 " not "
		    "submitted\n", njobs, njobs == 1 ? "" : "s", first);
		s->failed = 1;
		s->refused = 1;
		cli_conn_reply_free(reply);
		return NULL;
	}
	if (!cli_conn_reply_get(reply, s->wait ? "jobs" : "ids", &list) ||
	    list.type != JSONTEXT_ARRAY) {
		fprintf(stderr, "mpsup: malformed reply from the server: no "
		    "%s\n", s->wait ? "records" : "ids");
		s->broken = 1;
		cli_conn_reply_free(reply);
		return NULL;
	}
	s->items.n = 0;
	while (jsontext_array_next(&list, &it, &v))
		submit_items_add(&s->items, v.p, v.len, s->wait &&
		    v.type == JSONTEXT_OBJECT &&
		    jsontext_object_get(&v, "state", &state) &&
		    jsontext_string_eq(&state, "done"));
	return reply;
}

/*
 * Print the first count records of the list, one a line, and count them
 * done or failed. Records one comma apart in the reply (the usual case)
 * go out in one piece, each comma turned into the newline.
 */
static void
submit_print_records(struct submit_stream *s, size_t count)
{
	struct submit_item	*v = s->items.v;
	size_t			 i, run;

	for (i = 0; i < count; i = run) {
		for (run = i + 1; run < count &&
		    v[run].p == v[run - 1].p + v[run - 1].len + 1; run++)
			((char *)v[run - 1].p)[v[run - 1].len] = '\n';
		fwrite(v[i].p, 1, (size_t)(v[run - 1].p + v[run - 1].len -
		    v[i].p), stdout);
		putc('\n', stdout);
	}
	for (i = 0; i < count; i++) {
		if (v[i].done)
			s->progress.done++;
		else {
			s->failed = 1;
			s->progress.failed++;
		}
	}
}

/*
 * Print the ids of the list, up to one more than njobs; returns how many
 * were looked at (more than njobs: too many).
 */
static size_t
submit_print_ids(struct submit_stream *s, size_t njobs)
{
	struct jsontext_span	 v;
	size_t			 n = 0, i;
	char			*id;

	for (i = 0; i < s->items.n; i++) {
		if (++n > njobs)
			break;
		v.p = s->items.v[i].p;
		v.len = s->items.v[i].len;
		v.type = jsontext_type_of(*v.p);
		if ((id = cli_conn_span_string(&v)) == NULL) {
			fprintf(stderr, "mpsup: malformed reply from the "
			    "server: an id is not a string\n");
			s->broken = 1;
			break;
		}
		s->progress.done++;
		printf("%s\n", id);
		free(id);
	}
	return n;
}

/*
 * Handle the reply (msg, taken over) to the oldest outstanding batch: print
 * its ids, or its records in order. The usual reply is read in one pass
 * (cmd_submit_reply.h); any other goes the general way.
 */
static void
submit_batch_reply(struct submit_stream *s, char *msg, size_t len)
{
	struct cli_conn_reply	*reply = NULL;
	size_t			 njobs, n;
	uint64_t		 first;

	njobs = s->sent_jobs[s->head];
	first = s->sent_first[s->head];
	s->head = (s->head + 1) % SUBMIT_WINDOW;
	s->outstanding--;

	submit_progress_clear(&s->progress);
	if (!submit_reply_scan(&s->items, msg, len, s->wait ? "jobs" : "ids",
	    s->wait) &&
	    (reply = submit_reply_general(s, msg, len, njobs, first)) == NULL)
		return;
	if (s->wait) {
		n = s->items.n > njobs ? njobs + 1 : s->items.n;
		submit_print_records(s, n > njobs ? njobs : n);
	} else
		n = submit_print_ids(s, njobs);
	if (n != njobs && !s->broken) {
		fprintf(stderr, "mpsup: malformed reply from the server: "
		    "%zu %s for %zu jobs\n", n, s->wait ? "records" : "ids",
		    njobs);
		s->broken = 1;
	}
	if (reply != NULL)
		cli_conn_reply_free(reply);
	else
		free(msg);
	if (fflush(stdout) == EOF) {
		perror("mpsup: stdout");
		s->broken = 1;
	}
	submit_progress_draw(&s->progress, 1);
}

/* Read what the socket has and handle each whole reply. */
static void
submit_read_replies(struct submit_stream *s)
{
	char	*msg, *cause;
	size_t	 len;
	int	 r;

	while (!s->broken) {
		r = ipc_client_try_recv(s->client, &msg, &len, CONN_REPLY_MAX,
		    &cause);
		if (r == 0)
			break;
		if (r == -1) {
			fprintf(stderr, "mpsup: %s: %s\n", s->address, cause);
			free(cause);
			s->broken = 1;
			break;
		}
		if (s->outstanding == 0) {
			fprintf(stderr, "mpsup: %s: unexpected reply\n",
			    s->address);
			s->broken = 1;
			free(msg);
		} else
			submit_batch_reply(s, msg, len);
	}
}

/* Read once from stdin. */
static void
submit_read_input(struct submit_stream *s)
{
	ssize_t	n;

	n = buf_read_fd(&s->in, STDIN_FILENO, SUBMIT_READ_SIZE);
	if (n == 0)
		s->in_eof = 1;
	else if (n == -1 && errno != EINTR && errno != EAGAIN) {
		fprintf(stderr, "mpsup: stdin: %s\n", strerror(errno));
		s->in_eof = 1;
		s->failed = 1;
	}
}

/* Pump stdin into batches and replies to stdout until both are done. */
static void
submit_stream_run(struct submit_stream *s)
{
	struct pollfd	pfd[2];
	int		room, want_input, idle_flush, n;

	for (;;) {
		if (s->refused) {
			/* Later batches would be refused too: drain. */
			if (s->outstanding == 0)
				return;
			room = 0;
		} else {
			submit_take_lines(s);
			room = s->outstanding < SUBMIT_WINDOW;
		}
		if (s->broken)
			return;
		if (s->in_eof && buf_used(&s->in) == 0 && !s->refused) {
			s->progress.input_ended = 1;
			if (s->batch_jobs > 0 && room)
				submit_send_batch(s);
			if (s->batch_jobs == 0 && s->outstanding == 0)
				return;
		}

		/*
		 * Send a part-filled batch as soon as stdin has nothing more
		 * to give right now, so a slow producer's jobs do not wait
		 * for a thousand lines.
		 */
		want_input = !s->in_eof && room;
		idle_flush = want_input && s->batch_jobs > 0;
		pfd[0].fd = want_input ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = ipc_client_fd(s->client);
		pfd[1].events = (s->outstanding > 0 ? POLLIN : 0) |
		    (ipc_client_pending(s->client) > 0 ? POLLOUT : 0);
		pfd[1].revents = 0;
		if ((n = poll(pfd, 2, idle_flush ? 0 : s->progress.out ?
		    (int)(SUBMIT_PROGRESS_INTERVAL * 1000) : -1)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mpsup: poll: %s\n", strerror(errno));
			s->broken = 1;
			return;
		}
		if ((pfd[1].revents & POLLOUT) &&
		    ipc_client_try_flush(s->client) == -1) {
			fprintf(stderr, "mpsup: %s: send: %s\n", s->address,
			    strerror(errno));
			s->broken = 1;
			return;
		}
		if (pfd[1].revents & (POLLIN | POLLERR | POLLHUP))
			submit_read_replies(s);
		if (s->broken)
			return;
		if (pfd[0].revents != 0)
			submit_read_input(s);
		else if (idle_flush)
			submit_send_batch(s);
		submit_progress_draw(&s->progress, 0);
	}
}

/* Submit one job per line of stdin. */
int
submit_stdin(const struct submit_args *sa)
{
	struct submit_stream	 s;
	struct cli_conn		*c;
	int64_t			 workers;
	int			 rv, type;

	if ((rv = cli_conn_open(&sa->conn, 0, &c)) != 0)
		return rv;
	if ((type = submit_pool_type(c, sa->pool, &workers)) == -1) {
		cli_conn_close(c);
		return 1;
	}

	/* Flushed after each reply anyway: fewer, larger writes till then. */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, SUBMIT_OUT_BUFFER);
	memset(&s, 0, sizeof s);
	s.client = cli_conn_client(c);
	s.address = cli_conn_address(c);
	s.stream = type;
	s.wait = sa->wait;
	submit_progress_start(&s.progress, sa->progress == 1 ||
	    (sa->progress == -1 && sa->wait && isatty(STDERR_FILENO)) ?
	    stderr : NULL);
	s.batch_max = SUBMIT_BATCH_JOBS;
	if (s.progress.out != NULL && s.wait) {
		workers *= 2;
		s.batch_max = workers < SUBMIT_BATCH_PROGRESS_MIN ?
		    SUBMIT_BATCH_PROGRESS_MIN : workers > SUBMIT_BATCH_PROGRESS ?
		    SUBMIT_BATCH_PROGRESS : (size_t)workers;
	}
	submit_prefix(&s.prefix, "submit_many", sa);
	buf_append_str(&s.prefix, ",\"jobs\":[");
	/* ",\"priority\":N,...": its first comma goes, one is added after. */
	submit_flow_append(&s.flow, sa);
	if (buf_used(&s.flow) > 0) {
		buf_append(&s.flow, ",", 1);
		memmove(s.flow.data, s.flow.data + 1, s.flow.len - 1);
		s.flow.len--;
	}
	if (ipc_client_set_timeout(s.client, 0) == -1) {
		fprintf(stderr, "mpsup: %s: %s\n", s.address, strerror(errno));
		s.broken = 1;
	} else
		submit_stream_run(&s);
	submit_progress_finish(&s.progress);

	if (s.broken && (s.outstanding > 0 || s.batch_jobs > 0 ||
	    !s.in_eof || buf_used(&s.in) > 0))
		fprintf(stderr, "mpsup: stopped after line %" PRIu64 "; "
		    "later jobs may not have been submitted\n", s.lineno);
	else if (s.refused && (s.batch_jobs > 0 || !s.in_eof ||
	    buf_used(&s.in) > 0))
		fprintf(stderr, "mpsup: stopped after a refused batch; lines "
		    "after %" PRIu64 " were not submitted\n", s.last_sent);
	buf_free(&s.prefix);
	buf_free(&s.flow);
	buf_free(&s.in);
	buf_free(&s.batch);
	submit_items_free(&s.items);
	cli_conn_close(c);
	if (s.bad_lines > 0) {
		fprintf(stderr, "mpsup: %d bad line%s skipped\n", s.bad_lines,
		    s.bad_lines == 1 ? "" : "s");
		return 2;
	}
	return (s.broken || s.failed) ? 1 : 0;
}
