/*
 * Serialized output log (see output.h).
 *
 * Records are appended to one buffer, which is handed on when it passes a
 * high-water mark or when the event loop is about to block (output_flush
 * from an ev_prepare watcher); each record is also kept among the recent
 * records of logring.h. Once output_start() ran, a writer thread
 * (output_writer.h) writes what is handed on, so the loop never waits on
 * the log; before that, and if the thread cannot start, the loop writes
 * it, in a loop that waits with poll(2) on a non-blocking descriptor.
 * Either way a record is never left half-written and another record
 * never starts before it ends.
 *
 * A log that lags (a slow disk, a pipe read slowly or not at all) holds
 * up the writer alone. Past OUTPUT_PAUSE_AT bytes not yet written, the
 * workers' log pipes are not read (output_congested(): the workers
 * block on their writes, and nothing is lost); under OUTPUT_RESUME_AT
 * they are again. Records that still come (the supervisor's own, the
 * lines read before a result) are dropped past OUTPUT_MAX and counted,
 * and the count is logged once the log has caught up.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "ipc/jsontext.h"
#include "common/linebuf.h"
#include "common/privfile.h"
#include "supervisor/logring.h"
#include "supervisor/output.h"
#include "supervisor/output_writer.h"

#define OUTPUT_HIGH_WATER	(256 * 1024)
#define OUTPUT_PAUSE_AT		(1u << 20)
#define OUTPUT_RESUME_AT	(256u << 10)
#define OUTPUT_MAX		(64u << 20)
/* How long the end of mpsup waits for a lagging log. */
#define OUTPUT_STOP_WAIT	5.0

static struct {
	int		 fd;
	char		*path;
	mode_t		 mode;		/* of a new log file */
	enum log_format	 format;
	struct buf	 buf;
	long long	 ts_ms;		/* cached timestamp */
	char		 ts[TIME_ISO_BUF];
	struct output_writer *writer;	/* output_start()'s thread, or NULL */
	struct ev_loop	*loop;
	ev_async	 caught_up;	/* the writer fell under RESUME_AT */
	void		(*resume)(void);
	size_t		 dropped;	/* records, since the last report */
} out = { .fd = -1 };

static int
output_open_path(const char *path, mode_t mode, char **cause)
{
	return privfile_open(path, O_WRONLY | O_APPEND, mode, cause);
}

int
output_open(const char *path, mode_t mode, enum log_format format,
    char **cause)
{
	int	fd;

	if (path == NULL)
		fd = STDOUT_FILENO;
	else if ((fd = output_open_path(path, mode, cause)) == -1)
		return -1;
	out.fd = fd;
	out.mode = mode;
	out.format = format;
	free(out.path);
	out.path = path ? xstrdup(path) : NULL;
	out.ts_ms = -1;
	return 0;
}

int
output_reopen(char **cause)
{
	int	fd;

	if (out.path == NULL)
		return 0;
	if ((fd = output_open_path(out.path, out.mode, cause)) == -1)
		return -1;
	/* What came before the reopen goes to the old file. */
	output_flush();
	if (out.writer != NULL)
		output_writer_switch(out.writer, fd, 1);
	else
		close(out.fd);
	out.fd = fd;
	return 0;
}

static void
output_wake(void *arg)
{
	ev_async_send(out.loop, &out.caught_up);
}

/* On the loop: the writer caught up. */
static void
output_caught_up_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	char	msg[160];
	size_t	n = out.dropped, lost;
	int	err = 0;

	if ((lost = output_writer_lost(out.writer, &err)) > 0) {
		snprintf(msg, sizeof msg, "log: %zu bytes lost: write: %s",
		    lost, strerror(err));
		output_message("warn", msg, ev_now(loop));
	}
	if (output_congested())
		return;
	if (n > 0) {
		out.dropped = 0;
		snprintf(msg, sizeof msg, "log: %zu record%s dropped: the log "
		    "took them slower than they came", n, n == 1 ? "" : "s");
		output_message("warn", msg, ev_now(loop));
	}
	if (out.resume != NULL)
		out.resume();
}

int
output_start(struct ev_loop *loop, char **cause)
{
	out.loop = loop;
	if ((out.writer = output_writer_start(out.fd, OUTPUT_RESUME_AT,
	    output_wake, NULL, cause)) == NULL)
		return -1;
	ev_async_init(&out.caught_up, output_caught_up_cb);
	ev_async_start(loop, &out.caught_up);
	/* It alone does not keep the loop running. */
	ev_unref(loop);
	return 0;
}

void
output_on_resume(void (*fn)(void))
{
	out.resume = fn;
}

/* Bytes handed to the writer and not written yet. */
static size_t
output_queued(void)
{
	return out.writer != NULL ? output_writer_queued(out.writer) : 0;
}

int
output_congested(void)
{
	return out.writer != NULL &&
	    output_queued() + buf_used(&out.buf) > OUTPUT_PAUSE_AT;
}

/* Stop the writer, after it wrote what it has or gave up on the log. */
static void
output_stop(void)
{
	size_t	left;

	output_flush();
	left = output_writer_stop(out.writer, OUTPUT_STOP_WAIT);
	out.writer = NULL;
	ev_ref(out.loop);
	ev_async_stop(out.loop, &out.caught_up);
	/* A stuck stdout may be stderr too: say it only of a file. */
	if (left > 0 && out.path != NULL)
		dprintf(STDERR_FILENO, "mpsup: log %s: %zu bytes not written: "
		    "it took nothing for %g s\n", out.path, left,
		    OUTPUT_STOP_WAIT);
}

void
output_close(void)
{
	if (out.writer != NULL)
		output_stop();
	else
		output_flush();
	if (out.path != NULL && out.fd != -1)
		close(out.fd);
	out.fd = -1;
	free(out.path);
	out.path = NULL;
	out.dropped = 0;
	buf_free(&out.buf);
	logring_clear();
}

size_t
output_pending(void)
{
	return buf_used(&out.buf) + output_queued();
}

/* The loop writes the buffer itself (no writer thread). */
static void
output_write_now(void)
{
	struct pollfd	pfd;
	ssize_t		n;

	while (buf_used(&out.buf) > 0 && out.fd != -1) {
		n = buf_write_fd(&out.buf, out.fd);
		if (n >= 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			pfd.fd = out.fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, 1000);
			continue;
		}
		/* The log is gone (EPIPE, ENOSPC): drop, never block forever. */
		buf_reset(&out.buf);
		break;
	}
	/* Keep room for a few maximal records rather than churn allocations. */
	buf_trim(&out.buf, 8u << 20);
}

void
output_flush(void)
{
	if (out.writer != NULL)
		output_writer_give(out.writer, &out.buf);
	else
		output_write_now();
}

void
output_sync(void)
{
	output_flush();
	if (out.writer != NULL)
		(void)output_writer_wait(out.writer, OUTPUT_STOP_WAIT);
}

/* A record would take the log past OUTPUT_MAX: it is dropped, counted. */
static int
output_full(void)
{
	if (out.writer == NULL ||
	    output_queued() + buf_used(&out.buf) < OUTPUT_MAX)
		return 0;
	out.dropped++;
	return 1;
}

static const char *
output_ts(double now)
{
	long long	ms = (long long)(now * 1000.0);

	if (ms != out.ts_ms) {
		time_iso8601(now, out.ts);
		out.ts_ms = ms;
	}
	return out.ts;
}

/*
 * Append text for a text record: control characters (but tab) become
 * \xNN, so no worker can forge a record with a carriage return or play
 * terminal tricks with escape sequences on whoever reads the log. Other
 * bytes, backslashes and invalid UTF-8 included, go as they are.
 */
static void
output_text_append(struct buf *b, const char *p, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)p;
	size_t			 i, from = 0;
	char			 esc[4] = { '\\', 'x', 0, 0 };

	for (i = 0; i < len; i++) {
		if ((s[i] >= 0x20 && s[i] != 0x7f) || s[i] == '\t')
			continue;
		buf_append(b, p + from, i - from);
		esc[2] = hex[s[i] >> 4];
		esc[3] = hex[s[i] & 0xf];
		buf_append(b, esc, 4);
		from = i + 1;
	}
	buf_append(b, p + from, len - from);
}

static void
output_maybe_flush(void)
{
	if (buf_used(&out.buf) >= OUTPUT_HIGH_WATER)
		output_flush();
}

void
output_record_json(struct buf *b, const struct logring_record *r)
{
	buf_appendf(b, "{\"ts\":\"%s\",\"pool\":", output_ts(r->ts));
	if (r->pool == NULL) {
		buf_appendf(b, "null,\"level\":\"%s\",\"msg\":\"", r->stream);
		jsontext_escape_append(b, r->text, r->len);
		buf_append(b, "\"}", 2);
		return;
	}
	buf_append(b, "\"", 1);
	jsontext_escape_append(b, r->pool, strlen(r->pool));
	buf_appendf(b, "\",\"worker\":%d,\"pid\":%ld,\"stream\":\"%s\","
	    "\"job\":", r->worker, r->pid, r->stream);
	if (r->job != NULL) {
		buf_append(b, "\"", 1);
		jsontext_escape_append(b, r->job, strlen(r->job));
		buf_append(b, "\"", 1);
	} else
		buf_append(b, "null", 4);
	buf_append(b, ",\"line\":\"", 9);
	jsontext_escape_append(b, r->text, r->len);
	buf_append(b, "\"", 1);
	if (r->flags & LINE_CONT)
		buf_append_str(b, ",\"cont\":true");
	if (r->flags & LINE_NOEOL)
		buf_append_str(b, ",\"noeol\":true");
	buf_append(b, "}", 1);
}

void
output_line(const struct output_tag *tag, enum output_stream stream,
    const char *line, size_t len, int flags, double now)
{
	struct buf		*b = &out.buf;
	const char		*sname = stream == OUTPUT_STREAM_OUT ? "out" :
				    "err";
	struct logring_record	 r = { 0, now, tag->pool, tag->job, sname,
				    tag->worker, (long)tag->pid, flags, line,
				    len };

	if (output_full()) {
		logring_add(&r);
		return;
	}
	if (out.format == LOG_FORMAT_TEXT) {
		buf_appendf(b, "%s %s.%d[%ld] %s%s%s%s%s: ", output_ts(now),
		    tag->pool, tag->worker, (long)tag->pid, sname,
		    tag->job ? " job=" : "", tag->job ? tag->job : "",
		    (flags & LINE_CONT) ? " cont" : "",
		    (flags & LINE_NOEOL) ? " noeol" : "");
		output_text_append(b, line, len);
	} else
		output_record_json(b, &r);
	buf_append(b, "\n", 1);
	logring_add(&r);
	output_maybe_flush();
}

void
output_message(const char *level, const char *msg, double now)
{
	struct buf		*b = &out.buf;
	struct logring_record	 r = { 0, now, NULL, NULL, level, 0, 0, 0,
				    msg, strlen(msg) };

	if (output_full()) {
		logring_add(&r);
		return;
	}
	if (out.format == LOG_FORMAT_TEXT) {
		buf_appendf(b, "%s mpsup: ", output_ts(now));
		output_text_append(b, msg, strlen(msg));
	} else
		output_record_json(b, &r);
	buf_append(b, "\n", 1);
	logring_add(&r);
	output_maybe_flush();
}
