/*
 * Serialized output log (see output.h).
 *
 * Records are appended to one buffer and written when it passes a high-water
 * mark or when the event loop is about to block (output_flush from an
 * ev_prepare watcher); each record is also kept among the recent records
 * of logring.h. The log descriptor is written in a loop that waits
 * for it with poll(2) if it happens to be non-blocking, so a record is never
 * left half-written and another record never starts before it ends.
 */
#include "config.h"

#include <errno.h>
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

#define OUTPUT_HIGH_WATER	(256 * 1024)

static struct {
	int		 fd;
	char		*path;
	mode_t		 mode;		/* of a new log file */
	enum log_format	 format;
	struct buf	 buf;
	long long	 ts_ms;		/* cached timestamp */
	char		 ts[TIME_ISO_BUF];
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
	output_flush();
	if ((fd = output_open_path(out.path, out.mode, cause)) == -1)
		return -1;
	close(out.fd);
	out.fd = fd;
	return 0;
}

void
output_close(void)
{
	output_flush();
	if (out.path != NULL && out.fd != -1)
		close(out.fd);
	out.fd = -1;
	free(out.path);
	out.path = NULL;
	buf_free(&out.buf);
	logring_clear();
}

size_t
output_pending(void)
{
	return buf_used(&out.buf);
}

void
output_flush(void)
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

	if (out.format == LOG_FORMAT_TEXT) {
		buf_appendf(b, "%s mpsup: ", output_ts(now));
		output_text_append(b, msg, strlen(msg));
	} else
		output_record_json(b, &r);
	buf_append(b, "\n", 1);
	logring_add(&r);
	output_maybe_flush();
}
