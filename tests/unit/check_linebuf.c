/*
 * Unit tests for common/linebuf.c, the line assembler between a
 * worker's pipe and the serialized log: whole lines, pieces of exactly
 * `max` bytes for longer lines, a trailing partial line at end of stream,
 * and bounded memory when reading from a real pipe.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/linebuf.h"

struct piece {
	const char	*line;
	size_t		 len;
	int		 flags;
};

/* The next piece, which must exist. */
static struct piece
next_piece(struct linebuf *lb, int eof)
{
	struct piece	p = { NULL, 0, -1 };

	ck_assert_msg(linebuf_next(lb, eof, &p.line, &p.len, &p.flags) == 1,
	    "expected a piece, got none");
	return p;
}

static void
expect_piece(struct linebuf *lb, int eof, const char *want, int flags)
{
	struct piece	p = next_piece(lb, eof);

	ck_assert_uint_eq(p.len, strlen(want));
	ck_assert_mem_eq(p.line, want, p.len);
	ck_assert_int_eq(p.flags, flags);
}

static void
expect_nothing(struct linebuf *lb, int eof)
{
	const char	*line = NULL;
	size_t		 len = 0;
	int		 flags = 0;

	ck_assert_msg(linebuf_next(lb, eof, &line, &len, &flags) == 0,
	    "unexpected piece of %zu bytes \"%.*s\"", len, (int)len,
	    line ? line : "");
}

static void
feed_str(struct linebuf *lb, const char *s)
{
	linebuf_feed(lb, s, strlen(s));
}

/* Byte i of a long test stream: never a newline. */
static char
stream_byte(size_t i)
{
	return (char)('a' + (i * 7 + i / 251) % 26);
}

/* buf_append_uint writes what printf writes, at every width. */
START_TEST(test_buf_append_uint_matches_printf)
{
	unsigned long long	 v[] = { 0, 1, 9, 10, 11, 99, 100, 101, 999,
	    1000, 12345, 99999, 100000, 4294967295ULL, 1765000000123456ULL,
	    18446744073709551615ULL };
	struct buf		 b = BUF_INIT;
	char			 want[32];
	size_t			 i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		buf_reset(&b);
		buf_append_uint(&b, v[i]);
		snprintf(want, sizeof want, "%llu", v[i]);
		ck_assert_uint_eq(buf_used(&b), strlen(want));
		ck_assert(memcmp(buf_head(&b), want, strlen(want)) == 0);
	}
	for (i = 0; i < 100000; i += 7) {
		buf_reset(&b);
		buf_append_uint(&b, i);
		snprintf(want, sizeof want, "%zu", i);
		ck_assert_uint_eq(buf_used(&b), strlen(want));
		ck_assert(memcmp(buf_head(&b), want, strlen(want)) == 0);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_whole_line_comes_out_without_its_newline)
{
	struct linebuf	lb;

	linebuf_init(&lb, 64);
	feed_str(&lb, "hello world\n");
	expect_piece(&lb, 0, "hello world", 0);
	expect_nothing(&lb, 0);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_empty_lines_are_whole_lines)
{
	struct linebuf	lb;

	linebuf_init(&lb, 64);
	feed_str(&lb, "\n\nx\n\n");
	expect_piece(&lb, 0, "", 0);
	expect_piece(&lb, 0, "", 0);
	expect_piece(&lb, 0, "x", 0);
	expect_piece(&lb, 0, "", 0);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_many_lines_in_one_feed_come_out_in_order)
{
	struct linebuf	lb;
	char		want[32];
	int		i;

	linebuf_init(&lb, 64);
	feed_str(&lb, "line 0\nline 1\nline 2\nline 3\nline 4\nline 5\n"
	    "line 6\nline 7\nline 8\nline 9\ntail");
	for (i = 0; i < 10; i++) {
		snprintf(want, sizeof want, "line %d", i);
		expect_piece(&lb, 0, want, 0);
	}
	expect_nothing(&lb, 0);
	expect_piece(&lb, 1, "tail", LINE_NOEOL);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_partial_line_waits_for_its_newline)
{
	struct linebuf	lb;

	linebuf_init(&lb, 64);
	feed_str(&lb, "abc");
	expect_nothing(&lb, 0);
	expect_nothing(&lb, 0);
	feed_str(&lb, "def");
	expect_nothing(&lb, 0);
	feed_str(&lb, "\n");
	expect_piece(&lb, 0, "abcdef", 0);
	expect_nothing(&lb, 0);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_line_split_across_many_feeds)
{
	static const char	text[] = "the quick brown fox\njumps over\n";
	struct linebuf		lb;
	size_t			i;
	int			got = 0;
	struct piece		p;

	linebuf_init(&lb, 64);
	for (i = 0; i < sizeof text - 1; i++) {
		linebuf_feed(&lb, &text[i], 1);
		while (linebuf_next(&lb, 0, &p.line, &p.len, &p.flags)) {
			ck_assert_int_eq(p.flags, 0);
			if (got == 0) {
				ck_assert_uint_eq(i, 19);
				ck_assert_uint_eq(p.len, 19);
				ck_assert_mem_eq(p.line, "the quick brown fox", 19);
			} else {
				ck_assert_uint_eq(i, sizeof text - 2);
				ck_assert_uint_eq(p.len, 10);
				ck_assert_mem_eq(p.line, "jumps over", 10);
			}
			got++;
		}
	}
	ck_assert_int_eq(got, 2);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_trailing_partial_line_needs_eof)
{
	struct linebuf	lb;

	linebuf_init(&lb, 64);
	feed_str(&lb, "done\nno newline");
	expect_piece(&lb, 0, "done", 0);
	expect_nothing(&lb, 0);
	expect_piece(&lb, 1, "no newline", LINE_NOEOL);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_eof_on_empty_buffer_yields_nothing)
{
	struct linebuf	lb;

	linebuf_init(&lb, 64);
	expect_nothing(&lb, 1);
	feed_str(&lb, "x\n");
	expect_piece(&lb, 1, "x", 0);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_line_of_exactly_max_bytes_is_whole)
{
	struct linebuf	lb;

	linebuf_init(&lb, 8);
	feed_str(&lb, "12345678\nabcdefgh\n");
	expect_piece(&lb, 0, "12345678", 0);
	expect_piece(&lb, 0, "abcdefgh", 0);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_line_of_exactly_max_bytes_fed_bytewise_is_whole)
{
	struct linebuf	lb;
	const char	*s = "12345678\n";
	size_t		 i;

	linebuf_init(&lb, 8);
	for (i = 0; i < 8; i++) {
		linebuf_feed(&lb, s + i, 1);
		expect_nothing(&lb, 0);
	}
	linebuf_feed(&lb, s + 8, 1);
	expect_piece(&lb, 0, "12345678", 0);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_line_of_exactly_max_bytes_at_eof_is_one_piece)
{
	struct linebuf	lb;

	linebuf_init(&lb, 8);
	feed_str(&lb, "12345678");
	expect_nothing(&lb, 0);
	expect_piece(&lb, 1, "12345678", LINE_NOEOL);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_line_one_byte_over_max_is_split)
{
	struct linebuf	lb;

	linebuf_init(&lb, 8);
	feed_str(&lb, "123456789\n");
	expect_piece(&lb, 0, "12345678", LINE_CONT);
	expect_piece(&lb, 0, "9", 0);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_long_line_comes_out_in_pieces_of_exactly_max)
{
	struct linebuf	lb;

	linebuf_init(&lb, 4);
	feed_str(&lb, "aaaabbbbccccdd\nnext\n");
	expect_piece(&lb, 0, "aaaa", LINE_CONT);
	expect_piece(&lb, 0, "bbbb", LINE_CONT);
	expect_piece(&lb, 0, "cccc", LINE_CONT);
	expect_piece(&lb, 0, "dd", 0);
	expect_piece(&lb, 0, "next", 0);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_line_of_twice_max_ends_with_a_whole_piece)
{
	struct linebuf	lb;

	linebuf_init(&lb, 4);
	feed_str(&lb, "aaaabbbb\n");
	expect_piece(&lb, 0, "aaaa", LINE_CONT);
	expect_piece(&lb, 0, "bbbb", 0);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_long_line_piece_comes_out_before_its_newline_arrives)
{
	struct linebuf	lb;

	linebuf_init(&lb, 4);
	feed_str(&lb, "aaaa");
	expect_nothing(&lb, 0);
	feed_str(&lb, "b");
	expect_piece(&lb, 0, "aaaa", LINE_CONT);
	expect_nothing(&lb, 0);
	feed_str(&lb, "bbb");
	expect_nothing(&lb, 0);
	feed_str(&lb, "\n");
	expect_piece(&lb, 0, "bbbb", 0);
	expect_nothing(&lb, 0);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_long_line_without_newline_ends_with_noeol)
{
	struct linebuf	lb;

	linebuf_init(&lb, 4);
	feed_str(&lb, "aaaabbbbcc");
	expect_piece(&lb, 0, "aaaa", LINE_CONT);
	expect_piece(&lb, 0, "bbbb", LINE_CONT);
	expect_nothing(&lb, 0);
	expect_piece(&lb, 1, "cc", LINE_NOEOL);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_long_line_fed_bytewise_keeps_every_byte)
{
	struct linebuf	lb;
	struct piece	p;
	char		out[64];
	size_t		i, outlen = 0, npieces = 0;
	const char	*s = "0123456789abcdefghijklmnopq\n";

	linebuf_init(&lb, 5);
	for (i = 0; i < strlen(s); i++) {
		linebuf_feed(&lb, s + i, 1);
		while (linebuf_next(&lb, 0, &p.line, &p.len, &p.flags)) {
			npieces++;
			ck_assert_uint_le(p.len, 5);
			if (p.flags == LINE_CONT)
				ck_assert_uint_eq(p.len, 5);
			else
				ck_assert_int_eq(p.flags, 0);
			memcpy(out + outlen, p.line, p.len);
			outlen += p.len;
		}
	}
	ck_assert_uint_eq(npieces, 6);
	ck_assert_uint_eq(outlen, 27);
	ck_assert_mem_eq(out, s, 27);
	expect_nothing(&lb, 1);
	linebuf_free(&lb);
}
END_TEST

/*
 * Random chunks of random lines (fixed seed): the pieces, joined back with
 * a newline after every piece that ends a line, give the input exactly.
 */
START_TEST(test_random_chunks_reassemble_to_the_input)
{
	struct linebuf	 lb;
	struct piece	 p;
	char		*in, *out;
	size_t		 inlen = 200000, outlen = 0, off = 0, chunk, i;
	unsigned int	 seed = 12345;
	const size_t	 max = 37;

	in = malloc(inlen);
	out = malloc(inlen + 1);
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < inlen; i++) {
		seed = seed * 1103515245 + 12345;
		in[i] = (seed >> 16) % 23 == 0 ? '\n' :
		    (char)('A' + (seed >> 16) % 26);
	}
	linebuf_init(&lb, max);
	while (off < inlen) {
		seed = seed * 1103515245 + 12345;
		chunk = 1 + (seed >> 16) % 120;
		if (chunk > inlen - off)
			chunk = inlen - off;
		linebuf_feed(&lb, in + off, chunk);
		off += chunk;
		while (linebuf_next(&lb, off == inlen, &p.line, &p.len,
		    &p.flags)) {
			ck_assert_uint_le(p.len, max);
			if (p.flags & LINE_CONT)
				ck_assert_uint_eq(p.len, max);
			ck_assert_uint_le(outlen + p.len, inlen);
			memcpy(out + outlen, p.line, p.len);
			outlen += p.len;
			if (p.flags == 0)
				out[outlen++] = '\n';
			ck_assert_msg(p.flags != LINE_NOEOL || off == inlen,
			    "NOEOL before the end");
		}
		ck_assert_uint_le(buf_used(&lb.buf), max);
	}
	ck_assert_uint_eq(outlen, inlen);
	ck_assert_mem_eq(out, in, inlen);
	linebuf_free(&lb);
	free(in);
	free(out);
}
END_TEST

START_TEST(test_buffer_is_reusable_after_free)
{
	struct linebuf	lb;

	linebuf_init(&lb, 16);
	feed_str(&lb, "partial");
	linebuf_free(&lb);
	ck_assert_uint_eq(buf_used(&lb.buf), 0);
	ck_assert_ptr_null(lb.buf.data);
	feed_str(&lb, "fresh\n");
	expect_piece(&lb, 0, "fresh", 0);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_large_buffer_is_released_once_drained)
{
	struct linebuf	 lb;
	struct piece	 p;
	char		*big;
	size_t		 n = 1024 * 1024, total = 0;

	big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n);
	big[n] = '\n';
	linebuf_init(&lb, n);
	linebuf_feed(&lb, big, n + 1);
	ck_assert_uint_ge(lb.buf.cap, n + 1);
	while (linebuf_next(&lb, 0, &p.line, &p.len, &p.flags))
		total += p.len;
	ck_assert_uint_eq(total, n);
	ck_assert_uint_eq(lb.buf.cap, 0);
	linebuf_free(&lb);
	free(big);
}
END_TEST

/* Reading from a pipe. */

static void
make_pipe(int fds[2])
{
	ck_assert_msg(pipe(fds) == 0, "pipe: %s", strerror(errno));
}

/* Write all of len bytes, or die: used in writer children. */
static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Fork a child that writes total bytes of stream_byte() and no newline
 * into the pipe, then exits; returns its pid, parent keeps the read end.
 */
static pid_t
spawn_writer(int fds[2], size_t total)
{
	char	chunk[8192];
	size_t	off = 0, n, i;
	pid_t	pid;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(fds[0]);
		while (off < total) {
			n = total - off < sizeof chunk ? total - off :
			    sizeof chunk;
			for (i = 0; i < n; i++)
				chunk[i] = stream_byte(off + i);
			write_all(fds[1], chunk, n);
			off += n;
		}
		_exit(0);
	}
	close(fds[1]);
	return pid;
}

static void
reap_writer(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "writer failed: status %d", status);
}

/*
 * Read total bytes with no newline through a linebuf of limit max: after
 * every read the buffer holds at most max + 1 bytes and its capacity stays
 * below twice that; every piece but the last is exactly max bytes marked
 * LINE_CONT; the last is marked LINE_NOEOL; every byte comes out in order.
 */
static void
read_unbounded_line(size_t max, size_t total)
{
	struct linebuf	lb;
	struct piece	p;
	int		fds[2], eof = 0;
	size_t		got = 0, i, pieces = 0, maxcap = 0;
	ssize_t		n;
	pid_t		pid;

	make_pipe(fds);
	pid = spawn_writer(fds, total);
	linebuf_init(&lb, max);
	while (!eof) {
		n = linebuf_read(&lb, fds[0]);
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_msg(n >= 0, "linebuf_read: %s", strerror(errno));
		ck_assert_uint_le((size_t)n, max + 1);
		eof = n == 0;
		ck_assert_uint_le(buf_used(&lb.buf), max + 1);
		if (lb.buf.cap > maxcap)
			maxcap = lb.buf.cap;
		while (linebuf_next(&lb, eof, &p.line, &p.len, &p.flags)) {
			pieces++;
			if (got + p.len < total) {
				ck_assert_int_eq(p.flags, LINE_CONT);
				ck_assert_uint_eq(p.len, max);
			} else {
				ck_assert_uint_eq(got + p.len, total);
				ck_assert_int_eq(p.flags, LINE_NOEOL);
				ck_assert_int_eq(eof, 1);
			}
			for (i = 0; i < p.len; i++) {
				if (p.line[i] != stream_byte(got + i))
					ck_abort_msg("byte %zu differs",
					    got + i);
			}
			got += p.len;
		}
		ck_assert_uint_le(buf_used(&lb.buf), max);
	}
	close(fds[0]);
	reap_writer(pid);
	ck_assert_uint_eq(got, total);
	ck_assert_uint_eq(pieces, (total + max - 1) / max);
	ck_assert_msg(maxcap < 2 * (max + 1) || maxcap <= 512,
	    "buffer capacity reached %zu for a limit of %zu", maxcap, max);
	linebuf_free(&lb);
}

START_TEST(test_pipe_10mb_without_newline_stays_bounded_small_max)
{
	read_unbounded_line(1000, 10 * 1024 * 1024);
}
END_TEST

START_TEST(test_pipe_10mb_without_newline_stays_bounded_default_max)
{
	read_unbounded_line(1024 * 1024, 10 * 1024 * 1024);
}
END_TEST

START_TEST(test_pipe_10mb_multiple_of_max_ends_with_full_noeol_piece)
{
	read_unbounded_line(4096, 10 * 1024 * 1024);
}
END_TEST

START_TEST(test_pipe_lines_come_out_whole)
{
	struct linebuf	lb;
	struct piece	p;
	int		fds[2], eof = 0, count = 0;
	char		want[32];
	ssize_t		n;
	pid_t		pid;

	make_pipe(fds);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		int	i;
		char	line[32];

		close(fds[0]);
		for (i = 0; i < 5000; i++) {
			snprintf(line, sizeof line, "line %d\n", i);
			write_all(fds[1], line, strlen(line));
		}
		write_all(fds[1], "last", 4);
		_exit(0);
	}
	close(fds[1]);
	linebuf_init(&lb, 100);
	while (!eof) {
		n = linebuf_read(&lb, fds[0]);
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_int_ge(n, 0);
		eof = n == 0;
		while (linebuf_next(&lb, eof, &p.line, &p.len, &p.flags)) {
			if (count < 5000) {
				snprintf(want, sizeof want, "line %d", count);
				ck_assert_int_eq(p.flags, 0);
			} else {
				snprintf(want, sizeof want, "last");
				ck_assert_int_eq(p.flags, LINE_NOEOL);
			}
			ck_assert_uint_eq(p.len, strlen(want));
			ck_assert_mem_eq(p.line, want, p.len);
			count++;
		}
	}
	ck_assert_int_eq(count, 5001);
	close(fds[0]);
	reap_writer(pid);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_read_returns_zero_at_end_of_stream)
{
	struct linebuf	lb;
	int		fds[2];

	make_pipe(fds);
	ck_assert_int_eq(write(fds[1], "ab", 2), 2);
	close(fds[1]);
	linebuf_init(&lb, 16);
	ck_assert_int_eq(linebuf_read(&lb, fds[0]), 2);
	ck_assert_int_eq(linebuf_read(&lb, fds[0]), 0);
	expect_piece(&lb, 1, "ab", LINE_NOEOL);
	close(fds[0]);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_read_never_fills_past_max_plus_one)
{
	struct linebuf	lb;
	char		data[64];
	int		fds[2];
	ssize_t		n;

	memset(data, 'z', sizeof data);
	make_pipe(fds);
	ck_assert_int_eq(write(fds[1], data, sizeof data), sizeof data);
	linebuf_init(&lb, 10);
	ck_assert_int_eq(linebuf_read(&lb, fds[0]), 11);
	ck_assert_uint_eq(buf_used(&lb.buf), 11);
	/*
	 * A caller that reads again without draining gets an error, not
	 * more bytes (and not 0, which would look like end of stream).
	 */
	errno = 0;
	n = linebuf_read(&lb, fds[0]);
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_eq(buf_used(&lb.buf), 11);
	n = linebuf_read(&lb, fds[0]);
	ck_assert_int_eq(n, -1);
	ck_assert_uint_eq(buf_used(&lb.buf), 11);
	expect_piece(&lb, 0, "zzzzzzzzzz", LINE_CONT);
	ck_assert_int_eq(linebuf_read(&lb, fds[0]), 10);
	ck_assert_uint_eq(buf_used(&lb.buf), 11);
	close(fds[0]);
	close(fds[1]);
	linebuf_free(&lb);
}
END_TEST

static Suite *
linebuf_suite(void)
{
	Suite	*s = suite_create("linebuf");
	TCase	*tc;

	tc = tcase_create("lines");
	tcase_add_test(tc, test_whole_line_comes_out_without_its_newline);
	tcase_add_test(tc, test_empty_lines_are_whole_lines);
	tcase_add_test(tc, test_many_lines_in_one_feed_come_out_in_order);
	tcase_add_test(tc, test_partial_line_waits_for_its_newline);
	tcase_add_test(tc, test_line_split_across_many_feeds);
	tcase_add_test(tc, test_trailing_partial_line_needs_eof);
	tcase_add_test(tc, test_eof_on_empty_buffer_yields_nothing);
	tcase_add_test(tc, test_buffer_is_reusable_after_free);
	tcase_add_test(tc, test_large_buffer_is_released_once_drained);
	tcase_add_test(tc, test_buf_append_uint_matches_printf);
	suite_add_tcase(s, tc);

	tc = tcase_create("pieces");
	tcase_add_test(tc, test_line_of_exactly_max_bytes_is_whole);
	tcase_add_test(tc, test_line_of_exactly_max_bytes_fed_bytewise_is_whole);
	tcase_add_test(tc, test_line_of_exactly_max_bytes_at_eof_is_one_piece);
	tcase_add_test(tc, test_line_one_byte_over_max_is_split);
	tcase_add_test(tc, test_long_line_comes_out_in_pieces_of_exactly_max);
	tcase_add_test(tc, test_line_of_twice_max_ends_with_a_whole_piece);
	tcase_add_test(tc, test_long_line_piece_comes_out_before_its_newline_arrives);
	tcase_add_test(tc, test_long_line_without_newline_ends_with_noeol);
	tcase_add_test(tc, test_long_line_fed_bytewise_keeps_every_byte);
	tcase_add_test(tc, test_random_chunks_reassemble_to_the_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("pipe");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pipe_10mb_without_newline_stays_bounded_small_max);
	tcase_add_test(tc, test_pipe_10mb_without_newline_stays_bounded_default_max);
	tcase_add_test(tc, test_pipe_10mb_multiple_of_max_ends_with_full_noeol_piece);
	tcase_add_test(tc, test_pipe_lines_come_out_whole);
	tcase_add_test(tc, test_read_returns_zero_at_end_of_stream);
	tcase_add_test(tc, test_read_never_fills_past_max_plus_one);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(linebuf_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
