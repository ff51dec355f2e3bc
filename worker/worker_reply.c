/*
 * Replies of the C worker library (see worker_impl.h): each is encoded
 * straight into one output buffer, which is written in batches, when it
 * grows large, before the worker would block for input, or when a reply
 * has waited long enough (mpsup_worker_out_due). A result is checked
 * with the common scanner, so the supervisor never sees one it refuses.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonscan.h"
#include "worker/worker_impl.h"

_Static_assert(MPSUP_WORKER_MAX_DEPTH == JSONSCAN_RESULT_MAX_DEPTH,
    "<mpsup/worker.h> must state the supervisor's limit");

/* Write every buffered reply, waiting out a full pipe. */
int
mpsup_worker_flush(struct mpsup_worker *w)
{
	size_t	off = 0;
	ssize_t	n;

	if (w->out_errno != 0) {
		errno = w->out_errno;
		return -1;
	}
	while (off < w->out_len) {
		n = write(w->out_fd, w->out + off, w->out_len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    mpsup_worker_wait_fd(w->out_fd, POLLOUT) == 0)
			continue;
		w->out_errno = (n == -1) ? errno : EIO;
		w->out_len = 0;
		errno = w->out_errno;
		return -1;
	}
	w->out_len = 0;
	if (w->out_cap > WORKER_OUT_KEEP) {
		free(w->out);
		w->out = NULL;
		w->out_cap = 0;
	}
	return 0;
}

/* Nanoseconds from a to b. */
static long
worker_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000L +
	    (b->tv_nsec - a->tv_nsec);
}

/*
 * Whether buffered replies should be written now although more jobs are
 * waiting: when the oldest has waited a millisecond, or when the job just
 * answered took that long, since a slow handler would make its answer
 * wait for the next slow one while a write costs it nothing by comparison.
 */
int
mpsup_worker_out_due(struct mpsup_worker *w, const struct timespec *now)
{
	return worker_ns(&w->out_since, now) >= WORKER_OUT_WAIT_NS ||
	    worker_ns(&w->handed, now) >= WORKER_OUT_WAIT_NS;
}

/* Make room for n more bytes of output; -1 if out of memory. */
static int
worker_out_reserve(struct mpsup_worker *w, size_t n)
{
	size_t	cap;
	char	*p;

	if (w->out_cap - w->out_len >= n)
		return 0;
	cap = w->out_cap ? w->out_cap : WORKER_OUT_HIGH * 2;
	while (cap - w->out_len < n) {
		if (cap > ((size_t)-1) / 2)
			return -1;
		cap *= 2;
	}
	if ((p = realloc(w->out, cap)) == NULL)
		return -1;
	w->out = p;
	w->out_cap = cap;
	return 0;
}

/* Append bytes; room must have been reserved. */
static void
worker_put(struct mpsup_worker *w, const char *p, size_t n)
{
	memcpy(w->out + w->out_len, p, n);
	w->out_len += n;
}

/*
 * Append s as the body of a JSON string: quotes, backslashes and control
 * characters escaped, invalid UTF-8 replaced by U+FFFD. Needs 6 bytes of
 * room per input byte, and 3 more.
 */
static void
worker_put_escaped(struct mpsup_worker *w, const char *s, size_t len)
{
	w->out_len = jsonscan_escape(w->out + w->out_len, &s, s + len,
	    s + len) - w->out;
}

/* Note when the output buffer became non-empty. */
static void
worker_out_mark(struct mpsup_worker *w)
{
	if (w->out_len == 0)
		clock_gettime(CLOCK_MONOTONIC, &w->out_since);
}

/* Write now if enough is buffered. */
static int
worker_out_done(struct mpsup_worker *w)
{
	if (w->out_len >= WORKER_OUT_HIGH)
		return mpsup_worker_flush(w);
	return 0;
}

/* Reserve room for a reply line with an id and n more bytes. */
static int
worker_out_begin(struct mpsup_worker *w, size_t idlen, size_t n)
{
	if (w->out_errno != 0) {
		errno = w->out_errno;
		return -1;
	}
	if (idlen > ((size_t)-1) / 8 || n > ((size_t)-1) / 2 ||
	    worker_out_reserve(w, 64 + idlen * 6 + n) == -1) {
		errno = ENOMEM;
		return -1;
	}
	worker_out_mark(w);
	return 0;
}

/* Queue {"id":..,"ok":false,"error":..} for a job. */
int
mpsup_worker_fail(struct mpsup_worker *w, const char *id, const char *message)
{
	size_t	idlen, mlen;

	if (id == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (message == NULL)
		message = "";
	idlen = strlen(id);
	mlen = strlen(message);
	if (mlen > ((size_t)-1) / 8 ||
	    worker_out_begin(w, idlen, mlen * 6) == -1)
		return -1;
	worker_put(w, "{\"id\":\"", 7);
	worker_put_escaped(w, id, idlen);
	worker_put(w, "\",\"ok\":false,\"error\":\"", 22);
	worker_put_escaped(w, message, mlen);
	worker_put(w, "\"}\n", 3);
	return worker_out_done(w);
}

/*
 * Queue {"id":..,"ok":true,"result":..} after checking the result: valid
 * JSON nested no deeper than the supervisor takes a result, or the job
 * is answered as failed with why.
 */
int
mpsup_worker_reply(struct mpsup_worker *w, const char *id, const char *result,
    size_t len)
{
	struct jsonscan	 js = { JSONSCAN_RESULT_MAX_DEPTH, NULL, 0, JSONSCAN_OK };
	const char	*p, *end;
	char		*o, *nl;
	size_t		 idlen;

	if (id == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (result == NULL) {
		result = "null";
		len = 4;
	}
	end = result + len;
	p = jsonscan_ws(result, end);
	if (p == end || (p = jsonscan_value(&js, p, end)) == NULL ||
	    jsonscan_ws(p, end) != end) {
		if (mpsup_worker_fail(w, id, js.error == JSONSCAN_TOO_DEEP ?
		    JSONSCAN_RESULT_TOO_DEEP : "worker returned invalid JSON") == 0)
			errno = EINVAL;
		return -1;
	}

	idlen = strlen(id);
	if (worker_out_begin(w, idlen, len) == -1)
		return -1;
	worker_put(w, "{\"id\":\"", 7);
	worker_put_escaped(w, id, idlen);
	worker_put(w, "\",\"ok\":true,\"result\":", 21);
	o = w->out + w->out_len;
	worker_put(w, result, len);
	/* Valid JSON has line breaks only as whitespace between tokens. */
	while ((nl = memchr(o, '\n', w->out + w->out_len - o)) != NULL) {
		*nl = ' ';
		o = nl + 1;
	}
	worker_put(w, "}\n", 2);
	return worker_out_done(w);
}


/* Say {"ready":true} once, if the pool asked for it (MPSUP_READY=line). */
int
mpsup_worker_ready(struct mpsup_worker *w)
{
	static const char	 line[] = "{\"ready\":true}\n";
	const char		*mode = getenv("MPSUP_READY");

	if (w->ready_sent)
		return 0;
	w->ready_sent = 1;
	if (mode == NULL || strcmp(mode, "line") != 0)
		return 0;
	if (worker_out_reserve(w, sizeof line) == -1)
		return -1;
	worker_out_mark(w);
	worker_put(w, line, sizeof line - 1);
	return mpsup_worker_flush(w);
}
