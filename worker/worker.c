/*
 * The C worker library (see <mpsup/worker.h>): line framing, a validating
 * JSON skipper that finds where a job's data ends without building a tree,
 * and batched replies.
 *
 * Input is read into one buffer, many lines per read(2); each job is parsed
 * in place (the id and data are NUL-terminated inside the buffer), so the
 * steady state allocates nothing. Replies are appended to an output buffer
 * that is written when the input has no complete line left, i.e. just
 * before the worker would block, when it grows large, or when jobs keep
 * coming but the oldest reply has waited a millisecond or the last job
 * took that long (see worker_out_due).
 *
 * Only libc is used: the library is installed for third parties.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpsup/worker.h"

#define WORKER_IN_SIZE		(64 * 1024)	/* first input buffer */
#define WORKER_IN_KEEP		(4 * 1024 * 1024) /* shrink back above this */
#define WORKER_OUT_HIGH		(64 * 1024)	/* write once this much waits */
#define WORKER_OUT_KEEP		(1024 * 1024)
#define WORKER_OUT_WAIT_NS	1000000L	/* 1ms: see worker_out_due */
#define WORKER_MAX_DEPTH	512		/* JSON nesting */

struct mpsup_worker {
	int		 in_fd;
	int		 out_fd;

	char		*in;
	size_t		 in_off;	/* start of the next line */
	size_t		 in_len;	/* end of what was read */
	size_t		 in_cap;
	size_t		 in_scan;	/* no newline in [in_off, in_scan) */
	size_t		 max_line;
	int		 eof;
	int		 discarding;	/* skipping the rest of a long line */
	char		 long_id[128];	/* id of the line being skipped */

	char		*out;
	size_t		 out_len;
	size_t		 out_cap;
	struct timespec	 out_since;	/* when out became non-empty */
	struct timespec	 handed;	/* when the last job was handed out */
	int		 out_errno;	/* sticky write error */
};

static const char *jscan_skip_value(const char *, const char *, int);

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 if invalid. */
static size_t
utf8_seq_len(const unsigned char *p, size_t left)
{
	unsigned char	c = p[0], lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;	/* nothing above U+10FFFF */
	} else
		return 0;
	if (left < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return n;
}

/* Skip JSON whitespace. */
static const char *
jscan_skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* Value of one hex digit, or -1. */
static int
jscan_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read the four hex digits at p into *cp; 0 or -1. */
static int
jscan_hex4(const char *p, unsigned int *cp)
{
	int	i, v;

	*cp = 0;
	for (i = 0; i < 4; i++) {
		if ((v = jscan_hex(p[i])) == -1)
			return -1;
		*cp = (*cp << 4) | (unsigned int)v;
	}
	return 0;
}

/*
 * Skip a string whose opening quote is at p; returns the byte after the
 * closing quote, or NULL if the string is not valid (bad escape, control
 * character, invalid UTF-8, a \u surrogate that is not part of a pair,
 * unterminated). The supervisor refuses lone surrogates too, so a reply
 * holding one must be caught here rather than get the worker killed.
 */
static const char *
jscan_skip_string(const char *p, const char *end)
{
	unsigned int	cp, lo;
	size_t		n;

	for (p++; p < end; ) {
		unsigned char	c = (unsigned char)*p;

		if (c == '"')
			return p + 1;
		if (c == '\\') {
			if (++p == end)
				return NULL;
			switch (*p) {
			case '"': case '\\': case '/':
			case 'b': case 'f': case 'n': case 'r': case 't':
				p++;
				break;
			case 'u':
				if (end - p < 5 || jscan_hex4(p + 1, &cp) == -1)
					return NULL;
				p += 5;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return NULL;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (end - p < 6 || p[0] != '\\' ||
					    p[1] != 'u' ||
					    jscan_hex4(p + 2, &lo) == -1 ||
					    lo < 0xdc00 || lo > 0xdfff)
						return NULL;
					p += 6;
				}
				break;
			default:
				return NULL;
			}
		} else if (c < 0x20)
			return NULL;
		else if (c < 0x80)
			p++;
		else {
			n = utf8_seq_len((const unsigned char *)p, end - p);
			if (n == 0)
				return NULL;
			p += n;
		}
	}
	return NULL;
}

/* Skip a number (RFC 8259 grammar); NULL if malformed. */
static const char *
jscan_skip_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p == end)
		return NULL;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9') {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	} else
		return NULL;
	if (p < end && *p == '.') {
		if (++p == end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

/* Skip the members of an object or array opened at p. */
static const char *
jscan_skip_container(const char *p, const char *end, int depth)
{
	char	close = (*p == '{') ? '}' : ']';
	int	object = (*p == '{');

	if (depth >= WORKER_MAX_DEPTH)
		return NULL;
	p = jscan_skip_ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if (p == end || *p != '"')
				return NULL;
			if ((p = jscan_skip_string(p, end)) == NULL)
				return NULL;
			p = jscan_skip_ws(p, end);
			if (p == end || *p != ':')
				return NULL;
			p = jscan_skip_ws(p + 1, end);
		}
		if ((p = jscan_skip_value(p, end, depth + 1)) == NULL)
			return NULL;
		p = jscan_skip_ws(p, end);
		if (p == end)
			return NULL;
		if (*p == close)
			return p + 1;
		if (*p != ',')
			return NULL;
		p = jscan_skip_ws(p + 1, end);
	}
}

/*
 * Skip exactly one JSON value starting at p (no leading whitespace);
 * returns the byte after it, or NULL if it is not valid JSON.
 */
static const char *
jscan_skip_value(const char *p, const char *end, int depth)
{
	if (p == end)
		return NULL;
	switch (*p) {
	case '"':
		return jscan_skip_string(p, end);
	case '{':
	case '[':
		return jscan_skip_container(p, end, depth);
	case 't':
		if (end - p >= 4 && memcmp(p, "true", 4) == 0)
			return p + 4;
		return NULL;
	case 'f':
		if (end - p >= 5 && memcmp(p, "false", 5) == 0)
			return p + 5;
		return NULL;
	case 'n':
		if (end - p >= 4 && memcmp(p, "null", 4) == 0)
			return p + 4;
		return NULL;
	default:
		return jscan_skip_number(p, end);
	}
}

/* Encode code point cp as UTF-8 at out; returns the bytes written. */
static size_t
utf8_put(char *out, unsigned int cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decode the body of an already validated JSON string in place (escapes
 * never grow when decoded). Returns the new length, or -1 for a lone
 * surrogate or a NUL, which a C string cannot carry.
 */
static long
jscan_unescape(char *s, size_t len)
{
	const char	*p = s, *end = s + len;
	char		*o = s;
	unsigned int	 cp, lo;

	while (p < end) {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		p++;
		switch (*p++) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			jscan_hex4(p, &cp);
			p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    jscan_hex4(p + 2, &lo) == -1 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return -1;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0)
				return -1;
			o += utf8_put(o, cp);
			break;
		default:		/* " \ / */
			*o++ = p[-1];
			break;
		}
	}
	return o - s;
}

/*
 * Parse one job line [p, end) in place. The line must be one JSON object
 * with a non-empty string "id" and a "data" member of any type; other
 * members are skipped, in any order.
 */
static int
worker_parse_object(char *p, char *end, struct mpsup_job *job)
{
	char		*key, *q, *data_end = NULL;
	size_t		 klen;
	long		 n;

	p = (char *)jscan_skip_ws(p, end);
	if (p == end || *p != '{') {
		job->error = "job line is not a JSON object";
		return -1;
	}
	p = (char *)jscan_skip_ws(p + 1, end);
	if (p < end && *p == '}') {
		job->error = "job has no id";
		return -1;
	}
	for (;;) {
		if (p == end || *p != '"' ||
		    (q = (char *)jscan_skip_string(p, end)) == NULL) {
			job->error = "job line has a malformed key";
			return -1;
		}
		key = p + 1;
		klen = q - 1 - key;
		if (memchr(key, '\\', klen) != NULL) {
			if ((n = jscan_unescape(key, klen)) == -1) {
				job->error = "job line has a malformed key";
				return -1;
			}
			klen = (size_t)n;
		}
		p = (char *)jscan_skip_ws(q, end);
		if (p == end || *p != ':') {
			job->error = "job line is not a valid JSON object";
			return -1;
		}
		p = (char *)jscan_skip_ws(p + 1, end);

		if (klen == 2 && memcmp(key, "id", 2) == 0) {
			if (job->id != NULL) {
				job->error = "job has two ids";
				return -1;
			}
			if (p == end || *p != '"' ||
			    (q = (char *)jscan_skip_string(p, end)) == NULL) {
				job->error = "job id is not a string";
				return -1;
			}
			n = jscan_unescape(p + 1, q - 1 - (p + 1));
			if (n <= 0) {
				job->error = "job id is empty or not usable";
				return -1;
			}
			p[1 + n] = '\0';
			job->id = p + 1;
		} else if (klen == 4 && memcmp(key, "data", 4) == 0) {
			if (job->data != NULL) {
				job->error = "job has two data members";
				return -1;
			}
			if ((q = (char *)jscan_skip_value(p, end, 0)) == NULL) {
				job->error = "job data is not valid JSON";
				return -1;
			}
			job->data = p;
			job->data_len = q - p;
			data_end = q;
		} else if ((q = (char *)jscan_skip_value(p, end, 0)) == NULL) {
			job->error = "job line is not valid JSON";
			return -1;
		}

		p = (char *)jscan_skip_ws(q, end);
		if (p < end && *p == ',') {
			p = (char *)jscan_skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			break;
		job->error = "job line is not a valid JSON object";
		return -1;
	}
	if (jscan_skip_ws(p + 1, end) != end) {
		job->error = "job line has trailing garbage";
		return -1;
	}
	if (job->id == NULL) {
		job->error = "job has no id";
		return -1;
	}
	if (job->data == NULL) {
		job->error = "job has no data";
		return -1;
	}
	*data_end = '\0';
	return 1;
}

/* Parse a job line; on failure only the id (if any) is left for the caller. */
static int
worker_parse(char *p, char *end, struct mpsup_job *job)
{
	if (worker_parse_object(p, end, job) == 1)
		return 1;
	job->data = NULL;
	job->data_len = 0;
	errno = EBADMSG;
	return -1;
}

/* Copy the id from the start of a line that is too long to parse. */
static const char *
worker_peek_id(struct mpsup_worker *w, const char *p, size_t len)
{
	static const char	 prefix[] = "{\"id\":\"";
	size_t			 i, plen = sizeof prefix - 1;

	if (len < plen || memcmp(p, prefix, plen) != 0)
		return NULL;
	for (i = plen; i < len && i - plen < sizeof w->long_id - 1; i++) {
		if (p[i] == '"')
			break;
		if (p[i] == '\\' || (unsigned char)p[i] < 0x20)
			return NULL;
	}
	if (i == len || p[i] != '"' || i == plen)
		return NULL;
	memcpy(w->long_id, p + plen, i - plen);
	w->long_id[i - plen] = '\0';
	return w->long_id;
}

/* A handle over two given fds (takes ownership of both). */
struct mpsup_worker *
mpsup_worker_open_fds(int in_fd, int out_fd)
{
	struct mpsup_worker	*w;

	if ((w = calloc(1, sizeof *w)) == NULL)
		return NULL;
	if ((w->in = malloc(WORKER_IN_SIZE)) == NULL) {
		free(w);
		return NULL;
	}
	w->in_cap = WORKER_IN_SIZE;
	w->in_fd = in_fd;
	w->out_fd = out_fd;
	w->max_line = MPSUP_WORKER_MAX_LINE;
	return w;
}

/*
 * Set *cause to "what: strerror(errno)" (NULL if even that allocation
 * fails); returns NULL for the caller to return.
 */
static struct mpsup_worker *
worker_open_error(char **cause, const char *what)
{
	char	buf[512];
	int	saved = errno;

	snprintf(buf, sizeof buf, "%s: %s", what, strerror(saved));
	if (cause != NULL)
		*cause = strdup(buf);
	errno = saved;
	return NULL;
}

/*
 * Take fds 0 and 1 away from stdio for the job channel: the channel gets
 * new close-on-exec fds, fd 0 reads /dev/null and fd 1 writes where fd 2
 * does, so neither stray output nor a child process can touch the protocol.
 */
static struct mpsup_worker *
worker_open_stdio(char **cause)
{
	struct mpsup_worker	*w;
	int			 in_fd, out_fd, null_fd;

	fflush(stdout);
	if ((in_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)) == -1)
		return worker_open_error(cause, "dup stdin");
	if ((out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)) == -1) {
		close(in_fd);
		return worker_open_error(cause, "dup stdout");
	}
	if ((null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		close(in_fd);
		close(out_fd);
		return worker_open_error(cause, "/dev/null");
	}
	dup2(null_fd, STDIN_FILENO);
	if (dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
		dup2(null_fd, STDOUT_FILENO);
	close(null_fd);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if ((w = mpsup_worker_open_fds(in_fd, out_fd)) == NULL) {
		close(in_fd);
		close(out_fd);
		errno = ENOMEM;
		return worker_open_error(cause, "mpsup_worker_open");
	}
	return w;
}

/* Open the job channel that MPSUP_JOB_FDS names. */
struct mpsup_worker *
mpsup_worker_open(char **cause)
{
	struct mpsup_worker	*w;
	const char		*mode = getenv("MPSUP_JOB_FDS");
	const char		*p;
	char			*end, what[128];
	long			 in_fd, out_fd;

	if (cause != NULL)
		*cause = NULL;
	if (mode == NULL || *mode == '\0' || strcmp(mode, "stdio") == 0)
		return worker_open_stdio(cause);

	snprintf(what, sizeof what, "MPSUP_JOB_FDS=%s", mode);
	errno = 0;
	in_fd = strtol(mode, &end, 10);
	if (end == mode || *end != ',') {
		errno = EINVAL;
		return worker_open_error(cause, what);
	}
	p = end + 1;
	out_fd = strtol(p, &end, 10);
	if (end == p || *end != '\0' || errno != 0 || in_fd < 3 ||
	    out_fd < 3 || in_fd > 65535 || out_fd > 65535) {
		errno = EINVAL;
		return worker_open_error(cause, what);
	}
	if (fcntl((int)in_fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl((int)out_fd, F_SETFD, FD_CLOEXEC) == -1)
		return worker_open_error(cause, what);
	/* stdout is the log here: keep its lines prompt. */
	fflush(stdout);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((w = mpsup_worker_open_fds((int)in_fd, (int)out_fd)) == NULL) {
		errno = ENOMEM;
		return worker_open_error(cause, "mpsup_worker_open");
	}
	return w;
}

/* Set the longest job line accepted. */
void
mpsup_worker_set_max_line(struct mpsup_worker *w, size_t max)
{
	w->max_line = (max == 0) ? MPSUP_WORKER_MAX_LINE : max;
}

/* Wait until fd is ready for events; 0 or -1. */
static int
worker_wait(int fd, short events)
{
	struct pollfd	pfd;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		if (poll(&pfd, 1, -1) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

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
		    worker_wait(w->out_fd, POLLOUT) == 0)
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
static int
worker_out_due(struct mpsup_worker *w, const struct timespec *now)
{
	return worker_ns(&w->out_since, now) >= WORKER_OUT_WAIT_NS ||
	    worker_ns(&w->handed, now) >= WORKER_OUT_WAIT_NS;
}

/* Make room for n more bytes of input; -1 if out of memory. */
static int
worker_in_reserve(struct mpsup_worker *w)
{
	size_t	used = w->in_len - w->in_off, cap;
	char	*p;

	if (w->in_off > 0) {
		memmove(w->in, w->in + w->in_off, used);
		w->in_scan -= w->in_off;
		w->in_len = used;
		w->in_off = 0;
	}
	if (used == 0 && w->in_cap > WORKER_IN_KEEP) {
		if ((p = realloc(w->in, WORKER_IN_SIZE)) != NULL) {
			w->in = p;
			w->in_cap = WORKER_IN_SIZE;
		}
	}
	if (w->in_cap - w->in_len >= WORKER_IN_SIZE / 4)
		return 0;
	cap = w->in_cap * 2;
	if ((p = realloc(w->in, cap)) == NULL)
		return -1;
	w->in = p;
	w->in_cap = cap;
	return 0;
}

/* One read into the input buffer: >0 bytes, 0 at EOF, -1 on error. */
static ssize_t
worker_read(struct mpsup_worker *w)
{
	ssize_t	n;

	if (worker_in_reserve(w) == -1) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		n = read(w->in_fd, w->in + w->in_len, w->in_cap - w->in_len);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
		    worker_wait(w->in_fd, POLLIN) == 0)
			continue;
		return -1;
	}
	w->in_len += (size_t)n;
	return n;
}

/* Hand out the next job, reading (and first flushing) only when needed. */
int
mpsup_worker_next(struct mpsup_worker *w, struct mpsup_job *job)
{
	struct timespec	 now;
	char		*line, *nl;
	size_t		 used;
	ssize_t		 n;

	memset(job, 0, sizeof *job);
	for (;;) {
		nl = memchr(w->in + w->in_scan, '\n', w->in_len - w->in_scan);
		if (w->discarding) {
			w->in_off = w->in_scan = nl ? (size_t)(nl + 1 - w->in) :
			    w->in_len;
			if (nl != NULL) {
				w->discarding = 0;
				continue;
			}
		} else if (nl != NULL) {
			line = w->in + w->in_off;
			w->in_off = w->in_scan = nl + 1 - w->in;
			if (jscan_skip_ws(line, nl) == nl)
				continue;		/* blank line */
			if ((size_t)(nl - line) > w->max_line) {
				job->id = worker_peek_id(w, line, nl - line);
				job->error = "job line too long";
				errno = EMSGSIZE;
				return -1;
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (w->out_len > 0 && worker_out_due(w, &now))
				mpsup_worker_flush(w);
			w->handed = now;
			return worker_parse(line, nl, job);
		} else {
			w->in_scan = w->in_len;
			used = w->in_len - w->in_off;
			if (used > w->max_line) {
				job->id = worker_peek_id(w, w->in + w->in_off,
				    used);
				job->error = "job line too long";
				w->discarding = 1;
				w->in_off = w->in_scan = w->in_len;
				errno = EMSGSIZE;
				return -1;
			}
			if (w->eof && used > 0) {
				/* A last line without a newline. */
				line = w->in + w->in_off;
				w->in_off = w->in_scan = w->in_len;
				if (jscan_skip_ws(line, line + used) ==
				    line + used)
					continue;
				return worker_parse(line, line + used, job);
			}
		}
		if (w->eof)
			return 0;

		if (w->out_len > 0)
			mpsup_worker_flush(w);
		if ((n = worker_read(w)) == -1) {
			w->eof = 1;
			w->in_off = w->in_scan = w->in_len;
			job->error = "cannot read jobs";
			return -1;
		}
		if (n == 0)
			w->eof = 1;
	}
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
 * room per input byte.
 */
static void
worker_put_escaped(struct mpsup_worker *w, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	const unsigned char	*end = p + len;
	char			*o = w->out + w->out_len;
	size_t			 n;

	while (p < end) {
		unsigned char	c = *p;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*o++ = (char)c;
			p++;
			continue;
		}
		if (c >= 0x80) {
			if ((n = utf8_seq_len(p, end - p)) == 0) {
				memcpy(o, "\\ufffd", 6);
				o += 6;
				p++;
			} else {
				memcpy(o, p, n);
				o += n;
				p += n;
			}
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0xf];
			break;
		}
		p++;
	}
	w->out_len = o - w->out;
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

/* Queue {"id":..,"ok":true,"result":..} after checking the result. */
int
mpsup_worker_reply(struct mpsup_worker *w, const char *id, const char *result,
    size_t len)
{
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
	p = jscan_skip_ws(result, end);
	if (p == end || (p = jscan_skip_value(p, end, 0)) == NULL ||
	    jscan_skip_ws(p, end) != end) {
		if (mpsup_worker_fail(w, id, "worker returned invalid JSON") == 0)
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

/* Flush, close and free a handle. */
int
mpsup_worker_close(struct mpsup_worker *w)
{
	int	rc, saved;

	if (w == NULL)
		return 0;
	rc = mpsup_worker_flush(w);
	saved = errno;
	close(w->in_fd);
	if (w->out_fd != w->in_fd)
		close(w->out_fd);
	free(w->in);
	free(w->out);
	free(w);
	errno = saved;
	return rc;
}
