/*
 * Unit tests of the C worker library (worker/worker*.c, <mpsup/worker.h>):
 * job line parsing, reply encoding and the channel itself, run over real
 * pipes, with forked peers where a test needs the other side to react.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include <mpsup/worker.h>

/* A worker handle and the supervisor's ends of its two pipes. */
struct chan {
	struct mpsup_worker	*w;
	int			 to_worker;
	int			 from_worker;
};

/* Open a worker over two fresh pipes. */
static void
chan_open(struct chan *c)
{
	int	jobs[2], results[2];

	ck_assert_int_eq(pipe2(jobs, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(results, O_CLOEXEC), 0);
	c->w = mpsup_worker_open_fds(jobs[0], results[1]);
	ck_assert_ptr_nonnull(c->w);
	c->to_worker = jobs[1];
	c->from_worker = results[0];
}

/* Close everything; returns what mpsup_worker_close returned. */
static int
chan_close(struct chan *c)
{
	int	rc;

	rc = mpsup_worker_close(c->w);
	if (c->to_worker != -1)
		close(c->to_worker);
	close(c->from_worker);
	return rc;
}

/* Write all of s to fd. */
static void
put(int fd, const char *s, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, s, len);
		ck_assert_int_gt(n, 0);
		s += n;
		len -= (size_t)n;
	}
}

/* Write a C string to fd. */
static void
put_str(int fd, const char *s)
{
	put(fd, s, strlen(s));
}

/* Send text to the worker (must fit in the pipe). */
static void
send_str(struct chan *c, const char *s)
{
	put_str(c->to_worker, s);
}

/* End the worker's input. */
static void
send_eof(struct chan *c)
{
	close(c->to_worker);
	c->to_worker = -1;
}

/* Read everything the worker wrote so far (caller frees). */
static char *
read_now(struct chan *c)
{
	static char	 none[1];
	char		*buf = NULL, *grown;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	int		 fl;

	fl = fcntl(c->from_worker, F_GETFL);
	fcntl(c->from_worker, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			grown = realloc(buf, cap);
			ck_assert_ptr_nonnull(grown);
			buf = grown;
		}
		n = read(c->from_worker, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	fcntl(c->from_worker, F_SETFL, fl);
	if (buf == NULL)
		return strdup(none);
	buf[len] = '\0';
	return buf;
}

/* Flush the worker and read everything it wrote so far (caller frees). */
static char *
replies(struct chan *c)
{
	ck_assert_int_eq(mpsup_worker_flush(c->w), 0);
	return read_now(c);
}

/* Expect the next call to return a job with this id and data. */
static void
expect_job(struct chan *c, const char *id, const char *data)
{
	struct mpsup_job	job;

	ck_assert_int_eq(mpsup_worker_next(c->w, &job), 1);
	ck_assert_str_eq(job.id, id);
	ck_assert_str_eq(job.data, data);
	ck_assert_uint_eq(job.data_len, strlen(data));
	ck_assert_ptr_null(job.error);
}

/* Expect the next call to refuse a line; id may be NULL. */
static void
expect_bad(struct chan *c, const char *id, const char *line)
{
	struct mpsup_job	job;

	ck_assert_msg(mpsup_worker_next(c->w, &job) == -1,
	    "accepted: %s", line);
	ck_assert_ptr_nonnull(job.error);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_ptr_null(job.data);
	if (id == NULL)
		ck_assert_msg(job.id == NULL, "id \"%s\" from %s", job.id, line);
	else {
		ck_assert_msg(job.id != NULL, "no id from %s", line);
		ck_assert_str_eq(job.id, id);
	}
}

/* Expect the end of input. */
static void
expect_eof(struct chan *c)
{
	struct mpsup_job	job;

	ck_assert_int_eq(mpsup_worker_next(c->w, &job), 0);
}

START_TEST(test_parses_plain_jobs)
{
	struct chan	c;

	chan_open(&c);
	send_str(&c, "{\"id\":\"a\",\"data\":{\"x\":1}}\n"
	    "{\"id\":\"b.2_-X\",\"data\":42}\n"
	    "{\"id\":\"c\",\"data\":\"text\"}\n"
	    "{\"id\":\"d\",\"data\":null}\n"
	    "{\"id\":\"e\",\"data\":[true,false,-1.5e+3,0,{}]}\n");
	send_eof(&c);
	expect_job(&c, "a", "{\"x\":1}");
	expect_job(&c, "b.2_-X", "42");
	expect_job(&c, "c", "\"text\"");
	expect_job(&c, "d", "null");
	expect_job(&c, "e", "[true,false,-1.5e+3,0,{}]");
	expect_eof(&c);
	expect_eof(&c);
	ck_assert_int_eq(chan_close(&c), 0);
}
END_TEST

START_TEST(test_data_with_braces_and_escapes_is_kept_verbatim)
{
	struct chan	 c;
	const char	*data;
	char		 line[512];

	chan_open(&c);
	data = "{\"a\":[1,{\"b\":\"}]\\\"}\"}],\"c\":\"\\\\\",\"d\":"
	    "\"\\u00e9\\n\\t\\\"\\/\",\"e\":\"\xc3\xa9\xe2\x82\xac\"}";
	snprintf(line, sizeof line, "{\"id\":\"n\",\"data\":%s}\n", data);
	send_str(&c, line);
	send_str(&c, "{\"id\":\"s\",\"data\":\"}\\\"},\\\"x\\\":1\"}\n");
	send_eof(&c);
	expect_job(&c, "n", data);
	expect_job(&c, "s", "\"}\\\"},\\\"x\\\":1\"");
	expect_eof(&c);
	chan_close(&c);
}
END_TEST

START_TEST(test_extra_keys_order_and_whitespace_are_tolerated)
{
	struct chan	c;

	chan_open(&c);
	send_str(&c,
	    "{\"id\":\"x\",\"data\":[1,2],\"timeout_ms\":5000}\n"
	    "{\"id\":\"y\",\"data\":{\"k\":\"v\"},\"more\":{\"data\":0},"
	    "\"z\":[\"id\"]}\n"
	    "  { \"data\" : [ 1 , 2 ] ,\t\"id\" : \"z\" }  \r\n"
	    "{\"attempt\":2,\"id\":\"w\",\"data\":\"\"}\n");
	send_eof(&c);
	expect_job(&c, "x", "[1,2]");
	expect_job(&c, "y", "{\"k\":\"v\"}");
	expect_job(&c, "z", "[ 1 , 2 ]");
	expect_job(&c, "w", "\"\"");
	expect_eof(&c);
	chan_close(&c);
}
END_TEST

START_TEST(test_escaped_ids_are_decoded_and_escaped_back)
{
	struct chan	 c;
	char		*out;

	chan_open(&c);
	send_str(&c, "{\"id\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\/\","
	    "\"data\":0}\n"
	    "{\"\\u0069\\u0064\":\"k\",\"d\\u0061ta\":1}\n");
	send_eof(&c);
	expect_job(&c, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80/", "0");
	ck_assert_int_eq(mpsup_worker_reply(c.w,
	    "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80/", "true", 4), 0);
	expect_job(&c, "k", "1");
	expect_eof(&c);
	out = replies(&c);
	ck_assert_str_eq(out, "{\"id\":\"a\\\"b\\\\c\xc3\xa9\xf0\x9f\x98\x80/\","
	    "\"ok\":true,\"result\":true}\n");
	free(out);
	chan_close(&c);
}
END_TEST

START_TEST(test_malformed_lines_are_refused_and_skipped)
{
	struct chan	 c;
	char		 deep[2048], line[4096];
	int		 i;

	chan_open(&c);
	send_str(&c,
	    "not json\n"
	    "[1,2]\n"
	    "{}\n"
	    "{\"data\":1}\n"
	    "{\"id\":\"m1\"}\n"
	    "{\"id\":\"m2\",\"data\":tru}\n"
	    "{\"id\":\"m3\",\"data\":[1,2}\n"
	    "{\"id\":\"m4\",\"data\":1} x\n"
	    "{\"id\":\"m5\",\"id\":\"m6\",\"data\":1}\n"
	    "{\"id\":7,\"data\":1}\n"
	    "{\"id\":\"\",\"data\":1}\n"
	    "{\"id\":\"a\\u0000b\",\"data\":1}\n"
	    "{\"id\":\"\\ud800x\",\"data\":1}\n"
	    "{\"id\":\"m7\",\"data\":\"a\tb\"}\n"
	    "{\"id\":\"m8\",\"data\":\"\xff\"}\n"
	    "{\"id\":\"m9\",\"data\":01}\n"
	    "{\"id\":\"m10\",\"data\":1.}\n"
	    "{\"id\":\"m11\",\"data\":-}\n"
	    "{\"id\":\"m12\",\"data\":1e}\n"
	    "{\"id\":\"m13\",\"data\":\"\\x\"}\n"
	    "{\"id\":\"m14\",\"data\":\"\\u12G4\"}\n"
	    "{\"id\":\"m15\",\"data\":{\"a\" 1}}\n"
	    "{\"id\":\"m16\",\"data\":{\"a\":1,}}\n"
	    "{\"id\":\"m17\",\"data\":[1,,2]}\n"
	    "{\"id\":\"m18\",\"data\":1,\"data\":2}\n"
	    "{\"id\":\"m19\",\"data\":1,}\n"
	    "{\"id\":\"m20\",\"data\":\"unterminated}\n"
	    "{\"id\":\"m21\",\"data\":\"\xed\xa0\x80\"}\n"
	    "{\"id\":\"m22\",\"data\":\"\xc0\xaf\"}\n"
	    "{\"id\":\"ok\",\"data\":true}\n");
	expect_bad(&c, NULL, "not json");
	expect_bad(&c, NULL, "array");
	expect_bad(&c, NULL, "empty object");
	expect_bad(&c, NULL, "no id");
	expect_bad(&c, "m1", "no data");
	expect_bad(&c, "m2", "bad literal");
	expect_bad(&c, "m3", "bad array");
	expect_bad(&c, "m4", "trailing garbage");
	expect_bad(&c, "m5", "two ids");
	expect_bad(&c, NULL, "numeric id");
	expect_bad(&c, NULL, "empty id");
	expect_bad(&c, NULL, "NUL in id");
	expect_bad(&c, NULL, "lone surrogate in id");
	expect_bad(&c, "m7", "raw tab in string");
	expect_bad(&c, "m8", "invalid UTF-8");
	expect_bad(&c, "m9", "leading zero");
	expect_bad(&c, "m10", "bare dot");
	expect_bad(&c, "m11", "bare minus");
	expect_bad(&c, "m12", "bare exponent");
	expect_bad(&c, "m13", "bad escape");
	expect_bad(&c, "m14", "bad \\u escape");
	expect_bad(&c, "m15", "missing colon");
	expect_bad(&c, "m16", "trailing comma in object");
	expect_bad(&c, "m17", "empty array element");
	expect_bad(&c, "m18", "two data");
	expect_bad(&c, "m19", "trailing comma");
	expect_bad(&c, "m20", "unterminated string");
	expect_bad(&c, "m21", "UTF-8 surrogate");
	expect_bad(&c, "m22", "overlong UTF-8");
	expect_job(&c, "ok", "true");

	/* Nesting: 64 levels (JSONSCAN_MAX_DEPTH) are fine, 65 are refused. */
	for (i = 0; i < 64; i++)
		deep[i] = '[';
	for (i = 0; i < 64; i++)
		deep[64 + i] = ']';
	deep[128] = '\0';
	snprintf(line, sizeof line, "{\"id\":\"deep\",\"data\":%s}\n", deep);
	send_str(&c, line);
	expect_job(&c, "deep", deep);
	for (i = 0; i < 65; i++)
		deep[i] = '[';
	for (i = 0; i < 65; i++)
		deep[65 + i] = ']';
	deep[130] = '\0';
	snprintf(line, sizeof line, "{\"id\":\"deeper\",\"data\":%s}\n", deep);
	send_str(&c, line);
	send_eof(&c);
	expect_bad(&c, "deeper", "too deep");
	expect_eof(&c);
	chan_close(&c);
}
END_TEST

START_TEST(test_blank_lines_and_a_last_line_without_newline)
{
	struct chan	c;

	chan_open(&c);
	send_str(&c, "\n  \n{\"id\":\"a\",\"data\":1}\n\n{\"id\":\"b\",\"data\":2}");
	send_eof(&c);
	expect_job(&c, "a", "1");
	expect_job(&c, "b", "2");
	expect_eof(&c);
	chan_close(&c);
}
END_TEST

/* In a child: write text to fd in pieces of size step, pausing between. */
static pid_t
slow_writer(int fd, const char *text, size_t len, size_t step, int pause_us)
{
	pid_t	pid;
	size_t	off, n;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid != 0)
		return pid;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		if (write(fd, text + off, n) != (ssize_t)n)
			_exit(1);
		if (pause_us > 0)
			usleep(pause_us);
	}
	_exit(0);
}

START_TEST(test_lines_split_across_reads_and_long_lines)
{
	struct chan	 c;
	char		*big, *data;
	size_t		 blen = 3 * 1024 * 1024, len;
	int		 status;
	pid_t		 pid;

	chan_open(&c);
	/* A 3 MB line and one with an escape, written 7 bytes at a time. */
	data = malloc(blen + 3);
	ck_assert_ptr_nonnull(data);
	data[0] = '"';
	memset(data + 1, 'q', blen);
	data[blen + 1] = '"';
	data[blen + 2] = '\0';
	big = malloc(blen + 256);
	ck_assert_ptr_nonnull(big);
	len = (size_t)snprintf(big, blen + 256,
	    "{\"id\":\"big\",\"data\":%s}\n"
	    "{\"id\":\"esc\",\"data\":\"a\\\"b\"}\n", data);
	pid = slow_writer(c.to_worker, big, len, 7, 0);
	send_eof(&c);
	expect_job(&c, "big", data);
	expect_job(&c, "esc", "\"a\\\"b\"");
	expect_eof(&c);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(big);
	free(data);
	chan_close(&c);
}
END_TEST

START_TEST(test_too_long_lines_are_refused_with_their_id)
{
	struct chan		 c;
	struct mpsup_job	 job;
	char			 line[1024];
	int			 status;
	pid_t			 pid;

	chan_open(&c);
	mpsup_worker_set_max_line(c.w, 100);
	/* Arrives whole in one read. */
	memset(line, 'x', sizeof line);
	memcpy(line, "{\"id\":\"long1\",\"data\":\"", 22);
	memcpy(line + 200, "\"}\n", 3);
	put(c.to_worker, line, 203);
	send_str(&c, "{\"id\":\"short\",\"data\":1}\n");
	ck_assert_int_eq(mpsup_worker_next(c.w, &job), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_str_eq(job.id, "long1");
	ck_assert_str_eq(job.error, "job line too long");
	expect_job(&c, "short", "1");

	/* Arrives in pieces, so the rest must be skipped as it comes. */
	memset(line, 'x', sizeof line);
	memcpy(line, "{\"id\":\"long2\",\"data\":\"", 22);
	memcpy(line + 900, "\"}\n{\"id\":\"after\",\"data\":2}\n", 27);
	pid = slow_writer(c.to_worker, line, 927, 50, 2000);
	send_eof(&c);
	ck_assert_int_eq(mpsup_worker_next(c.w, &job), -1);
	ck_assert_str_eq(job.id, "long2");
	expect_job(&c, "after", "2");
	expect_eof(&c);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	chan_close(&c);
}
END_TEST

START_TEST(test_replies_are_encoded_exactly)
{
	struct chan	 c;
	char		*out;

	chan_open(&c);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "r1", "{\"a\":[1,2]}", 11), 0);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "r2", NULL, 0), 0);
	/* Pretty-printed JSON: the line breaks become spaces. */
	ck_assert_int_eq(mpsup_worker_reply(c.w, "r3", "{\n  \"a\": 1\n}\n",
	    13), 0);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "r4", "\"x\"  ", 5), 0);
	/* Only len bytes count. */
	ck_assert_int_eq(mpsup_worker_reply(c.w, "r5", "12345", 2), 0);
	out = replies(&c);
	ck_assert_str_eq(out,
	    "{\"id\":\"r1\",\"ok\":true,\"result\":{\"a\":[1,2]}}\n"
	    "{\"id\":\"r2\",\"ok\":true,\"result\":null}\n"
	    "{\"id\":\"r3\",\"ok\":true,\"result\":{   \"a\": 1 } }\n"
	    "{\"id\":\"r4\",\"ok\":true,\"result\":\"x\"  }\n"
	    "{\"id\":\"r5\",\"ok\":true,\"result\":12}\n");
	free(out);
	chan_close(&c);
}
END_TEST

/* {"ready":true} once, before the first job, only with MPSUP_READY=line. */
START_TEST(test_ready_is_said_once_and_only_when_asked)
{
	struct chan	 c;
	char		*out;

	unsetenv("MPSUP_READY");
	chan_open(&c);
	send_str(&c, "{\"id\":\"a\",\"data\":1}\n");
	expect_job(&c, "a", "1");
	out = replies(&c);
	ck_assert_str_eq(out, "");
	free(out);
	chan_close(&c);

	setenv("MPSUP_READY", "line", 1);
	chan_open(&c);
	ck_assert_int_eq(mpsup_worker_ready(c.w), 0);
	out = read_now(&c);
	ck_assert_str_eq(out, "{\"ready\":true}\n");
	free(out);
	send_str(&c, "{\"id\":\"a\",\"data\":1}\n");
	expect_job(&c, "a", "1");
	ck_assert_int_eq(mpsup_worker_ready(c.w), 0);
	out = replies(&c);
	ck_assert_str_eq(out, "");
	free(out);
	chan_close(&c);

	/* Without a call, the first mpsup_worker_next says it. */
	chan_open(&c);
	send_str(&c, "{\"id\":\"b\",\"data\":2}\n");
	expect_job(&c, "b", "2");
	out = read_now(&c);
	ck_assert_str_eq(out, "{\"ready\":true}\n");
	free(out);
	chan_close(&c);
}
END_TEST

START_TEST(test_invalid_results_become_failures)
{
	struct chan	 c;
	char		*out;

	chan_open(&c);
	errno = 0;
	ck_assert_int_eq(mpsup_worker_reply(c.w, "i1", "{\"a\":", 5), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "i2", "1 2", 3), -1);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "i3", "", 0), -1);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "i4", "\"a\nb\"", 5), -1);
	/* The supervisor refuses lone surrogates, so they must not get out. */
	ck_assert_int_eq(mpsup_worker_reply(c.w, "i5", "[\"\\ud800\"]", 10),
	    -1);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "i6",
	    "\"\\udc00\\ud800\"", 14), -1);
	ck_assert_int_eq(mpsup_worker_reply(c.w, NULL, "1", 1), -1);
	out = replies(&c);
	ck_assert_str_eq(out,
	    "{\"id\":\"i1\",\"ok\":false,\"error\":\"worker returned invalid JSON\"}\n"
	    "{\"id\":\"i2\",\"ok\":false,\"error\":\"worker returned invalid JSON\"}\n"
	    "{\"id\":\"i3\",\"ok\":false,\"error\":\"worker returned invalid JSON\"}\n"
	    "{\"id\":\"i4\",\"ok\":false,\"error\":\"worker returned invalid JSON\"}\n"
	    "{\"id\":\"i5\",\"ok\":false,\"error\":\"worker returned invalid JSON\"}\n"
	    "{\"id\":\"i6\",\"ok\":false,\"error\":\"worker returned invalid JSON\"}\n");
	free(out);
	chan_close(&c);
}
END_TEST

/* n arrays around a 0, in a static buffer. */
static const char *
nested_array(int n)
{
	static char	buf[2 * 1000 + 2];
	int		i;

	ck_assert_int_le(n, 1000);
	for (i = 0; i < n; i++)
		buf[i] = '[';
	buf[n] = '0';
	for (i = 0; i < n; i++)
		buf[n + 1 + i] = ']';
	buf[2 * n + 1] = '\0';
	return buf;
}

/*
 * A result nested deeper than the supervisor takes one is answered as a
 * failure that says so, whether or not it would fit in 64 levels: sent,
 * it would make the supervisor fail the job anyway.
 */
START_TEST(test_results_deeper_than_the_limit_become_failures)
{
	struct chan	 c;
	const char	*deep;
	char		*out, *want;
	size_t		 wlen;

	ck_assert_int_eq(MPSUP_WORKER_MAX_DEPTH, 60);
	chan_open(&c);
	deep = nested_array(60);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "d60", deep, strlen(deep)), 0);
	wlen = strlen(deep) + 64;
	want = malloc(wlen);
	ck_assert_ptr_nonnull(want);
	snprintf(want, wlen, "{\"id\":\"d60\",\"ok\":true,\"result\":%s}\n", deep);
	out = replies(&c);
	ck_assert_str_eq(out, want);
	free(out);
	free(want);

	errno = 0;
	deep = nested_array(61);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "d61", deep, strlen(deep)), -1);
	ck_assert_int_eq(errno, EINVAL);
	deep = nested_array(100);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "d100", deep, strlen(deep)),
	    -1);
	deep = nested_array(1000);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "d1000", deep, strlen(deep)),
	    -1);
	out = replies(&c);
	ck_assert_str_eq(out,
	    "{\"id\":\"d61\",\"ok\":false,\"error\":"
	    "\"result nested deeper than 60 levels\"}\n"
	    "{\"id\":\"d100\",\"ok\":false,\"error\":"
	    "\"result nested deeper than 60 levels\"}\n"
	    "{\"id\":\"d1000\",\"ok\":false,\"error\":"
	    "\"result nested deeper than 60 levels\"}\n");
	free(out);
	chan_close(&c);
}
END_TEST

/* U+FFFD, which stands for each byte that is not part of valid UTF-8. */
#define R	"\xef\xbf\xbd"

START_TEST(test_failure_messages_are_escaped_and_utf8_cleaned)
{
	struct chan	 c;
	char		*out;

	chan_open(&c);
	ck_assert_int_eq(mpsup_worker_fail(c.w, "f1",
	    "q\" b\\ n\n r\r t\t b\b f\f c\x01\x1f del\x7f"), 0);
	ck_assert_int_eq(mpsup_worker_fail(c.w, "f2",
	    "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 bad \xff|\xe2\x82|"
	    "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\x80"), 0);
	ck_assert_int_eq(mpsup_worker_fail(c.w, "f3", ""), 0);
	ck_assert_int_eq(mpsup_worker_fail(c.w, "f\n4\xff", NULL), 0);
	out = replies(&c);
	ck_assert_str_eq(out,
	    "{\"id\":\"f1\",\"ok\":false,\"error\":"
	    "\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f c\\u0001\\u001f del\x7f\"}\n"
	    "{\"id\":\"f2\",\"ok\":false,\"error\":"
	    "\"ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 bad " R "|"
	    R R "|" R R "|" R R R "|" R R R R "|" R "\"}\n"
	    "{\"id\":\"f3\",\"ok\":false,\"error\":\"\"}\n"
	    "{\"id\":\"f\\n4" R "\",\"ok\":false,\"error\":\"\"}\n");
	free(out);
	chan_close(&c);
}
END_TEST
#undef R

START_TEST(test_replies_wait_for_a_batch_then_are_flushed_before_blocking)
{
	struct chan		 c;
	struct mpsup_job	 job;
	char			 buf[256];
	struct pollfd		 pfd;
	pid_t			 pid;
	int			 status, i;
	ssize_t			 n;

	chan_open(&c);
	/*
	 * A peer that plays supervisor with prefetch 1: it sends a job only
	 * after reading the previous answer. If replies were not written
	 * before the worker blocks, both sides would wait forever.
	 */
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		mpsup_worker_close(c.w);	/* not ours in the peer */
		for (i = 0; i < 5; i++) {
			n = snprintf(buf, sizeof buf,
			    "{\"id\":\"p%d\",\"data\":%d}\n", i, i);
			if (write(c.to_worker, buf, n) != n)
				_exit(1);
			pfd.fd = c.from_worker;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 5000) != 1)
				_exit(2);
			n = read(c.from_worker, buf, sizeof buf - 1);
			if (n <= 0)
				_exit(3);
			buf[n] = '\0';
			if (strstr(buf, "\"result\":") == NULL)
				_exit(4);
		}
		_exit(0);
	}
	close(c.to_worker);
	c.to_worker = -1;
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(mpsup_worker_next(c.w, &job), 1);
		ck_assert_int_eq(mpsup_worker_reply(c.w, job.id, job.data,
		    job.data_len), 0);
	}
	expect_eof(&c);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "peer status %d", status);
	chan_close(&c);
}
END_TEST

START_TEST(test_answers_of_slow_jobs_do_not_wait_for_the_batch)
{
	struct chan	 c;
	char		*out;

	chan_open(&c);
	send_str(&c, "{\"id\":\"s1\",\"data\":1}\n{\"id\":\"s2\",\"data\":2}\n"
	    "{\"id\":\"s3\",\"data\":3}\n");
	expect_job(&c, "s1", "1");
	usleep(3000);		/* a slow handler */
	ck_assert_int_eq(mpsup_worker_reply(c.w, "s1", "10", 2), 0);
	expect_job(&c, "s2", "2");
	/* Read without flushing: s1's answer must be out already. */
	out = read_now(&c);
	ck_assert_str_eq(out, "{\"id\":\"s1\",\"ok\":true,\"result\":10}\n");
	free(out);
	/* A fast one waits for company (or for the input to run dry). */
	ck_assert_int_eq(mpsup_worker_reply(c.w, "s2", "20", 2), 0);
	expect_job(&c, "s3", "3");
	ck_assert_int_eq(mpsup_worker_reply(c.w, "s3", "30", 2), 0);
	send_eof(&c);
	expect_eof(&c);
	out = read_now(&c);
	ck_assert_str_eq(out, "{\"id\":\"s2\",\"ok\":true,\"result\":20}\n"
	    "{\"id\":\"s3\",\"ok\":true,\"result\":30}\n");
	free(out);
	chan_close(&c);
}
END_TEST

START_TEST(test_many_jobs_round_trip_in_order)
{
	struct mpsup_worker	*w;
	struct mpsup_job	 job;
	char			 line[128], path[64], *out, *p, *nl;
	int			 jobs[2], fd, i, status, r;
	const int		 count = 100000;
	size_t			 len;
	off_t			 size;
	pid_t			 pid;

	ck_assert_int_eq(pipe2(jobs, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		/* Many lines per write, as a supervisor with prefetch would. */
		out = malloc(1 << 16);
		len = 0;
		for (i = 0; i < count; i++) {
			len += (size_t)snprintf(out + len, 128,
			    "{\"id\":\"j%d\",\"data\":{\"n\":%d}}\n", i, i);
			if (len > (1 << 16) - 128 || i == count - 1) {
				if (write(jobs[1], out, len) != (ssize_t)len)
					_exit(1);
				len = 0;
			}
		}
		_exit(0);
	}
	close(jobs[1]);
	/* Results go to a file: 100000 of them do not fit in a pipe. */
	snprintf(path, sizeof path, "/tmp/check_worker.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ne(fd, -1);
	unlink(path);
	w = mpsup_worker_open_fds(jobs[0], dup(fd));
	ck_assert_ptr_nonnull(w);
	for (i = 0; (r = mpsup_worker_next(w, &job)) == 1; i++)
		ck_assert_int_eq(mpsup_worker_reply(w, job.id, job.data,
		    job.data_len), 0);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(i, count);
	ck_assert_int_eq(mpsup_worker_close(w), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	size = lseek(fd, 0, SEEK_END);
	ck_assert_int_gt(size, 0);
	out = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(pread(fd, out, (size_t)size, 0), size);
	out[size] = '\0';
	close(fd);
	p = out;
	for (i = 0; i < count; i++) {
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		snprintf(line, sizeof line,
		    "{\"id\":\"j%d\",\"ok\":true,\"result\":{\"n\":%d}}", i, i);
		ck_assert_str_eq(p, line);
		p = nl + 1;
	}
	ck_assert_str_eq(p, "");
	free(out);
}
END_TEST

/* Wait for a child and return its exit status (-1 if it did not exit). */
static int
child_status(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Read fd to EOF into buf (NUL-terminated). */
static void
read_all(int fd, char *buf, size_t size)
{
	size_t	len = 0;
	ssize_t	n;

	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/* In a child: how many fds from 3 to 255 a new program would inherit. */
static int
inheritable_fds(void)
{
	int	fd, fl, n = 0;

	for (fd = 3; fd < 256; fd++) {
		if ((fl = fcntl(fd, F_GETFD)) != -1 && !(fl & FD_CLOEXEC))
			n++;
	}
	return n;
}

/* In a child: serve jobs with echo replies until EOF; exit status 0 if ok. */
static int
serve_echo(struct mpsup_worker *w)
{
	struct mpsup_job	job;
	int			r;

	while ((r = mpsup_worker_next(w, &job)) == 1) {
		printf("handling %s\n", job.id);	/* must reach the log */
		if (mpsup_worker_reply(w, job.id, job.data, job.data_len) != 0)
			return 20;
	}
	if (r != 0)
		return 22;
	return mpsup_worker_close(w) == 0 ? 0 : 21;
}

START_TEST(test_open_stdio_moves_the_channel_off_fds_0_and_1)
{
	struct mpsup_worker	*w;
	char			*cause, buf[1024], logbuf[1024];
	int			 in[2], out[2], err[2], n;
	pid_t			 pid;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(pipe(err), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1 ||
		    dup2(err[1], 2) == -1)
			_exit(9);
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		close(err[0]); close(err[1]);
		setenv("MPSUP_JOB_FDS", "stdio", 1);
		n = inheritable_fds();
		if ((w = mpsup_worker_open(&cause)) == NULL)
			_exit(10);
		if (read(0, buf, 1) != 0)	/* fd 0 is /dev/null now */
			_exit(11);
		if (inheritable_fds() != n)
			_exit(12);
		if (write(1, "raw write\n", 10) != 10)
			_exit(13);
		_exit(serve_echo(w));
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	put_str(in[1], "{\"id\":\"s1\",\"data\":[1]}\n{\"id\":\"s2\",\"data\":2}\n");
	close(in[1]);
	read_all(out[0], buf, sizeof buf);
	read_all(err[0], logbuf, sizeof logbuf);
	ck_assert_int_eq(child_status(pid), 0);
	ck_assert_str_eq(buf, "{\"id\":\"s1\",\"ok\":true,\"result\":[1]}\n"
	    "{\"id\":\"s2\",\"ok\":true,\"result\":2}\n");
	ck_assert_str_eq(logbuf, "raw write\nhandling s1\nhandling s2\n");
	close(out[0]);
	close(err[0]);
}
END_TEST

START_TEST(test_open_fds_3_4_leaves_stdout_to_the_log)
{
	struct mpsup_worker	*w;
	char			*cause, buf[1024], logbuf[1024];
	int			 in[2], out[2], log[2], a, b, n;
	pid_t			 pid;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(pipe(log), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		a = fcntl(in[0], F_DUPFD, 20);
		b = fcntl(out[1], F_DUPFD, 20);
		if (a == -1 || b == -1 || dup2(log[1], 1) == -1 ||
		    dup2(a, 3) == -1 || dup2(b, 4) == -1)
			_exit(9);
		close(a); close(b); close(log[0]); close(log[1]);
		close(in[1]); close(out[0]);
		if (in[0] > 4)
			close(in[0]);
		if (out[1] > 4)
			close(out[1]);
		setenv("MPSUP_JOB_FDS", "3,4", 1);
		n = inheritable_fds();
		if ((w = mpsup_worker_open(&cause)) == NULL)
			_exit(10);
		if (inheritable_fds() != n - 2)		/* 3 and 4 */
			_exit(12);
		_exit(serve_echo(w));
	}
	close(in[0]);
	close(out[1]);
	close(log[1]);
	put_str(in[1], "{\"id\":\"t\",\"data\":{}}\n");
	close(in[1]);
	read_all(out[0], buf, sizeof buf);
	read_all(log[0], logbuf, sizeof logbuf);
	ck_assert_int_eq(child_status(pid), 0);
	ck_assert_str_eq(buf, "{\"id\":\"t\",\"ok\":true,\"result\":{}}\n");
	ck_assert_str_eq(logbuf, "handling t\n");
	close(out[0]);
	close(log[0]);
}
END_TEST

START_TEST(test_open_refuses_bad_settings)
{
	char	*cause;
	pid_t	 pid;

	setenv("MPSUP_JOB_FDS", "5", 1);
	ck_assert_ptr_null(mpsup_worker_open(&cause));
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, "MPSUP_JOB_FDS=5"));
	free(cause);
	setenv("MPSUP_JOB_FDS", "1,2", 1);
	ck_assert_ptr_null(mpsup_worker_open(&cause));
	free(cause);
	setenv("MPSUP_JOB_FDS", "3,4x", 1);
	ck_assert_ptr_null(mpsup_worker_open(&cause));
	free(cause);

	/* Fds 3 and 4 that are not open. */
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(3);
		close(4);
		setenv("MPSUP_JOB_FDS", "3,4", 1);
		if (mpsup_worker_open(&cause) != NULL || cause == NULL ||
		    strstr(cause, "Bad file descriptor") == NULL)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(child_status(pid), 0);
	unsetenv("MPSUP_JOB_FDS");
}
END_TEST

START_TEST(test_write_errors_are_reported_and_sticky)
{
	struct chan	c;

	chan_open(&c);
	signal(SIGPIPE, SIG_IGN);
	close(c.from_worker);
	c.from_worker = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "a", "1", 1), 0);
	ck_assert_int_eq(mpsup_worker_flush(c.w), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(mpsup_worker_reply(c.w, "b", "1", 1), -1);
	ck_assert_int_eq(mpsup_worker_fail(c.w, "b", "x"), -1);
	ck_assert_int_eq(chan_close(&c), -1);
}
END_TEST

/* Build a suite of every test above. */
static Suite *
worker_suite(void)
{
	Suite	*s = suite_create("worker");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_parses_plain_jobs);
	tcase_add_test(tc, test_data_with_braces_and_escapes_is_kept_verbatim);
	tcase_add_test(tc, test_extra_keys_order_and_whitespace_are_tolerated);
	tcase_add_test(tc, test_escaped_ids_are_decoded_and_escaped_back);
	tcase_add_test(tc, test_malformed_lines_are_refused_and_skipped);
	tcase_add_test(tc, test_blank_lines_and_a_last_line_without_newline);
	tcase_add_test(tc, test_lines_split_across_reads_and_long_lines);
	tcase_add_test(tc, test_too_long_lines_are_refused_with_their_id);
	tcase_add_test(tc, test_replies_are_encoded_exactly);
	tcase_add_test(tc, test_ready_is_said_once_and_only_when_asked);
	tcase_add_test(tc, test_invalid_results_become_failures);
	tcase_add_test(tc, test_results_deeper_than_the_limit_become_failures);
	tcase_add_test(tc, test_failure_messages_are_escaped_and_utf8_cleaned);
	tcase_add_test(tc,
	    test_replies_wait_for_a_batch_then_are_flushed_before_blocking);
	tcase_add_test(tc, test_answers_of_slow_jobs_do_not_wait_for_the_batch);
	tcase_add_test(tc, test_many_jobs_round_trip_in_order);
	tcase_add_test(tc, test_open_stdio_moves_the_channel_off_fds_0_and_1);
	tcase_add_test(tc, test_open_fds_3_4_leaves_stdout_to_the_log);
	tcase_add_test(tc, test_open_refuses_bad_settings);
	tcase_add_test(tc, test_write_errors_are_reported_and_sticky);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; TAP or not is up to the CK_* environment. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(worker_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
