/*
 * Unit tests of ipc/frame.c: the multiprocessing.connection length prefix,
 * its -1 escape, the refusals, and the blocking helpers over socketpairs.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "ipc/frame.h"

/* A connected AF_UNIX stream pair. */
static void
make_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
}

/* Write all of p to fd (test plumbing). */
static void
put(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
}

START_TEST(test_encode_short_forms)
{
	unsigned char	h[FRAME_HEADER_MAX];

	ck_assert_uint_eq(frame_header_encode(0, h), 4);
	ck_assert_mem_eq(h, "\x00\x00\x00\x00", 4);
	ck_assert_uint_eq(frame_header_encode(5, h), 4);
	ck_assert_mem_eq(h, "\x00\x00\x00\x05", 4);
	ck_assert_uint_eq(frame_header_encode(0x01020304, h), 4);
	ck_assert_mem_eq(h, "\x01\x02\x03\x04", 4);
	ck_assert_uint_eq(frame_header_encode(0x7fffffff, h), 4);
	ck_assert_mem_eq(h, "\x7f\xff\xff\xff", 4);
}
END_TEST

START_TEST(test_encode_escape_above_int32)
{
	unsigned char	h[FRAME_HEADER_MAX];

	/* The note's verified bytes for a message of exactly 2^31 bytes. */
	ck_assert_uint_eq(frame_header_encode(0x80000000ULL, h), 12);
	ck_assert_mem_eq(h, "\xff\xff\xff\xff\x00\x00\x00\x00\x80\x00\x00\x00",
	    12);
	ck_assert_uint_eq(frame_header_encode(0x0102030405060708ULL, h), 12);
	ck_assert_mem_eq(h, "\xff\xff\xff\xff\x01\x02\x03\x04\x05\x06\x07\x08",
	    12);
}
END_TEST

START_TEST(test_parse_zero_length)
{
	const char	*err = NULL;
	size_t		 hl = 99;
	uint64_t	 pl = 99;

	ck_assert_int_eq(frame_parse_header("\0\0\0\0", 4, 0, &hl, &pl, &err),
	    1);
	ck_assert_uint_eq(hl, 4);
	ck_assert_uint_eq(pl, 0);
}
END_TEST

START_TEST(test_parse_int32_max)
{
	const char	*err = NULL;
	size_t		 hl;
	uint64_t	 pl;

	ck_assert_int_eq(frame_parse_header("\x7f\xff\xff\xff", 4, UINT64_MAX,
	    &hl, &pl, &err), 1);
	ck_assert_uint_eq(hl, 4);
	ck_assert_uint_eq(pl, 0x7fffffff);
	ck_assert_int_eq(frame_parse_header("\x7f\xff\xff\xff", 4, 0x7ffffffe,
	    &hl, &pl, &err), -1);
	ck_assert_str_eq(err, "frame too large");
}
END_TEST

START_TEST(test_parse_escape_at_small_size)
{
	const unsigned char	 h[] =
	    "\xff\xff\xff\xff\0\0\0\0\0\0\0\x05hello";
	const void		*payload;
	const char		*err = NULL;
	size_t			 hl, plen, flen, n;
	uint64_t		 pl;

	/* Python 3.8+ receivers accept the escape at any size. */
	for (n = 0; n < 12; n++)
		ck_assert_int_eq(frame_parse_header(h, n, 100, &hl, &pl, &err),
		    0);
	ck_assert_int_eq(frame_parse_header(h, 12, 100, &hl, &pl, &err), 1);
	ck_assert_uint_eq(hl, 12);
	ck_assert_uint_eq(pl, 5);
	ck_assert_int_eq(frame_peek(h, 17, 100, &payload, &plen, &flen, &err),
	    1);
	ck_assert_uint_eq(plen, 5);
	ck_assert_uint_eq(flen, 17);
	ck_assert_mem_eq(payload, "hello", 5);
}
END_TEST

START_TEST(test_parse_negative_lengths_refused)
{
	static const char	*bad[] = {
		"\xff\xff\xff\xfe",	/* -2: b'' in CPython, error here */
		"\x80\x00\x00\x00",	/* INT32_MIN */
		"\xf0\x00\x00\x01",
	};
	const char		*err;
	size_t			 hl, i;
	uint64_t		 pl;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err = NULL;
		ck_assert_int_eq(frame_parse_header(bad[i], 4, UINT64_MAX, &hl,
		    &pl, &err), -1);
		ck_assert_str_eq(err, "negative frame length");
	}
}
END_TEST

START_TEST(test_parse_oversize_refused)
{
	const char	*err = NULL;
	size_t		 hl;
	uint64_t	 pl;

	ck_assert_int_eq(frame_parse_header("\0\0\x01\0", 4, 256, &hl, &pl,
	    &err), 1);
	ck_assert_uint_eq(pl, 256);
	ck_assert_int_eq(frame_parse_header("\0\0\x01\x01", 4, 256, &hl, &pl,
	    &err), -1);
	ck_assert_str_eq(err, "frame too large");
	err = NULL;
	ck_assert_int_eq(frame_parse_header(
	    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12, UINT64_MAX,
	    &hl, &pl, &err), -1);
	ck_assert_str_eq(err, "frame too large");
	err = NULL;
	ck_assert_int_eq(frame_parse_header(
	    "\xff\xff\xff\xff\0\0\0\x01\0\0\0\0", 12, 16 << 20, &hl, &pl, &err),
	    -1);
	ck_assert_str_eq(err, "frame too large");
}
END_TEST

START_TEST(test_parse_header_split)
{
	const char	*err = NULL;
	size_t		 hl, n;
	uint64_t	 pl;

	for (n = 0; n < 4; n++)
		ck_assert_int_eq(frame_parse_header("\0\0\0\x07", n, 100, &hl,
		    &pl, &err), 0);
	ck_assert_int_eq(frame_parse_header("\0\0\0\x07", 4, 100, &hl, &pl,
	    &err), 1);
	ck_assert_uint_eq(pl, 7);
	ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_peek_truncated_and_consecutive)
{
	struct buf	 b = BUF_INIT;
	const void	*payload;
	const char	*err = NULL;
	size_t		 plen, flen, n;

	frame_append(&b, "hello", 5);
	frame_append(&b, NULL, 0);
	frame_append(&b, "ok", 2);
	ck_assert_uint_eq(buf_used(&b), 9 + 4 + 6);
	ck_assert_mem_eq(buf_head(&b), "\0\0\0\x05hello\0\0\0\0\0\0\0\x02ok",
	    19);

	for (n = 0; n < 9; n++)
		ck_assert_int_eq(frame_peek(buf_head(&b), n, 100, &payload,
		    &plen, &flen, &err), 0);
	ck_assert_int_eq(frame_peek(buf_head(&b), buf_used(&b), 100, &payload,
	    &plen, &flen, &err), 1);
	ck_assert_uint_eq(plen, 5);
	ck_assert_mem_eq(payload, "hello", 5);
	buf_consume(&b, flen);
	ck_assert_int_eq(frame_peek(buf_head(&b), buf_used(&b), 100, &payload,
	    &plen, &flen, &err), 1);
	ck_assert_uint_eq(plen, 0);
	ck_assert_uint_eq(flen, 4);
	buf_consume(&b, flen);
	ck_assert_int_eq(frame_peek(buf_head(&b), buf_used(&b), 1, &payload,
	    &plen, &flen, &err), -1);
	ck_assert_str_eq(err, "frame too large");
	ck_assert_int_eq(frame_peek(buf_head(&b), buf_used(&b), 2, &payload,
	    &plen, &flen, &err), 1);
	ck_assert_mem_eq(payload, "ok", 2);
	buf_free(&b);
}
END_TEST

/*
 * A body with room in front becomes the output when that is empty (its
 * bytes are not copied); otherwise, or without the room, it is copied
 * behind what waits. Either way the frames read back the same.
 */
START_TEST(test_append_buf_moves_or_copies)
{
	struct buf	 out = BUF_INIT, body = BUF_INIT;
	const char	*kept;

	buf_reset_headroom(&body, FRAME_HEADER_MAX, 64);
	buf_append(&body, "first", 5);
	kept = buf_head(&body);
	frame_append_buf(&out, &body);
	ck_assert_ptr_eq(buf_head(&out) + 4, kept);	/* moved, not copied */
	ck_assert_ptr_null(body.data);
	ck_assert_uint_eq(buf_used(&body), 0);
	/* out is not empty now: the next body is copied behind it. */
	buf_reset_headroom(&body, FRAME_HEADER_MAX, 64);
	buf_append(&body, "second", 6);
	frame_append_buf(&out, &body);
	ck_assert_ptr_null(body.data);
	/* No room in front: copied, even into an empty output. */
	buf_append(&body, "3", 1);
	frame_append_buf(&out, &body);
	ck_assert_uint_eq(buf_used(&out), 9 + 10 + 5);
	ck_assert_mem_eq(buf_head(&out),
	    "\0\0\0\x05" "first\0\0\0\x06" "second\0\0\0\x01" "3", 24);
	buf_consume(&out, buf_used(&out));
	buf_append(&body, "4", 1);
	frame_append_buf(&out, &body);
	ck_assert_mem_eq(buf_head(&out), "\0\0\0\x01" "4", 5);
	buf_free(&out);
}
END_TEST

/* What buf_prepend puts in front, with or without room kept for it. */
START_TEST(test_buf_prepend_with_and_without_room)
{
	struct buf	b = BUF_INIT;

	buf_reset_headroom(&b, 4, 10);
	buf_append(&b, "body", 4);
	buf_prepend(&b, "hd", 2);
	ck_assert_uint_eq(buf_used(&b), 6);
	ck_assert_mem_eq(buf_head(&b), "hdbody", 6);
	buf_prepend(&b, "xyz", 3);	/* 2 bytes of room left: moved */
	ck_assert_mem_eq(buf_head(&b), "xyzhdbody", 9);
	buf_reset(&b);
	buf_prepend(&b, "only", 4);
	ck_assert_mem_eq(buf_head(&b), "only", 4);
	ck_assert_uint_eq(buf_used(&b), 4);
	buf_free(&b);
}
END_TEST

START_TEST(test_fd_roundtrip)
{
	char	*msg = NULL, *cause = NULL;
	size_t	 len;
	int	 sv[2];

	make_pair(sv);
	ck_assert_int_eq(frame_send_fd(sv[0], "hello", 5), 0);
	ck_assert_int_eq(frame_send_fd(sv[0], "", 0), 0);
	ck_assert_int_eq(frame_recv_fd(sv[1], 16, &msg, &len, &cause), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(msg, "hello");
	free(msg);
	ck_assert_int_eq(frame_recv_fd(sv[1], 16, &msg, &len, &cause), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(msg, "");
	free(msg);
	close(sv[0]);
	ck_assert_int_eq(frame_recv_fd(sv[1], 16, &msg, &len, &cause), -1);
	ck_assert_str_eq(cause, "connection closed");
	free(cause);
	close(sv[1]);
}
END_TEST

START_TEST(test_fd_escape_and_split_writes)
{
	char	*msg = NULL, *cause = NULL;
	size_t	 len;
	int	 sv[2];
	pid_t	 pid;

	make_pair(sv);
	/* Header and payload dribbled in pieces by another process. */
	if ((pid = fork()) == 0) {
		close(sv[1]);
		put(sv[0], "\xff\xff", 2);
		usleep(20000);
		put(sv[0], "\xff\xff\0\0\0\0\0", 7);
		usleep(20000);
		put(sv[0], "\0\0\x05he", 5);
		usleep(20000);
		put(sv[0], "llo", 3);
		_exit(0);
	}
	close(sv[0]);
	ck_assert_int_eq(frame_recv_fd(sv[1], 16, &msg, &len, &cause), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(msg, "hello");
	free(msg);
	waitpid(pid, NULL, 0);
	close(sv[1]);
}
END_TEST

START_TEST(test_fd_truncated_and_refused)
{
	char	*msg = NULL, *cause = NULL;
	size_t	 len;
	int	 sv[2];

	make_pair(sv);
	put(sv[0], "\0\0\0\x05hel", 7);
	close(sv[0]);
	ck_assert_int_eq(frame_recv_fd(sv[1], 16, &msg, &len, &cause), -1);
	ck_assert_str_eq(cause, "connection closed in the middle of a message");
	free(cause);
	close(sv[1]);

	make_pair(sv);
	put(sv[0], "\0\0", 2);
	close(sv[0]);
	ck_assert_int_eq(frame_recv_fd(sv[1], 16, &msg, &len, &cause), -1);
	ck_assert_str_eq(cause, "connection closed in the middle of a message");
	free(cause);
	close(sv[1]);

	make_pair(sv);
	put(sv[0], "\0\0\0\x11", 4);
	ck_assert_int_eq(frame_recv_fd(sv[1], 16, &msg, &len, &cause), -1);
	ck_assert_str_eq(cause, "frame too large");
	free(cause);
	put(sv[0], "\xff\xff\xff\xfe", 4);
	ck_assert_int_eq(frame_recv_fd(sv[1], 16, &msg, &len, &cause), -1);
	ck_assert_str_eq(cause, "negative frame length");
	free(cause);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_fd_timeout)
{
	struct timeval	 tv = { 0, 100000 };
	char		*msg = NULL, *cause = NULL;
	size_t		 len;
	int		 sv[2];

	make_pair(sv);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ck_assert_int_eq(frame_recv_fd(sv[1], 16, &msg, &len, &cause), -1);
	ck_assert_str_eq(cause, "timed out waiting for the peer");
	free(cause);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_fd_large_payload)
{
	const size_t	 size = 8 << 20;
	char		*big, *msg = NULL, *cause = NULL;
	size_t		 len, i;
	int		 sv[2], status;
	pid_t		 pid;

	big = malloc(size);
	ck_assert_ptr_nonnull(big);
	for (i = 0; i < size; i++)
		big[i] = (char)(i * 7 + i / 251);
	make_pair(sv);
	if ((pid = fork()) == 0) {
		close(sv[1]);
		_exit(frame_send_fd(sv[0], big, size) == 0 ? 0 : 1);
	}
	close(sv[0]);
	ck_assert_int_eq(frame_recv_fd(sv[1], size, &msg, &len, &cause), 0);
	ck_assert_uint_eq(len, size);
	ck_assert(memcmp(msg, big, size) == 0);
	free(msg);
	free(big);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[1]);
}
END_TEST

START_TEST(test_fd_send_to_pipe_and_closed_peer)
{
	char	*msg = NULL, *cause = NULL;
	size_t	 len;
	int	 p[2], sv[2];

	/* Not a socket: falls back to writev. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(frame_send_fd(p[1], "pipe", 4), 0);
	ck_assert_int_eq(frame_recv_fd(p[0], 16, &msg, &len, &cause), 0);
	ck_assert_str_eq(msg, "pipe");
	free(msg);
	close(p[0]);
	close(p[1]);

	/* A vanished peer is EPIPE, not a SIGPIPE that kills the test. */
	make_pair(sv);
	close(sv[1]);
	ck_assert_int_eq(frame_send_fd(sv[0], "x", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(sv[0]);
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc;

	tc = tcase_create("codec");
	tcase_add_test(tc, test_encode_short_forms);
	tcase_add_test(tc, test_encode_escape_above_int32);
	tcase_add_test(tc, test_parse_zero_length);
	tcase_add_test(tc, test_parse_int32_max);
	tcase_add_test(tc, test_parse_escape_at_small_size);
	tcase_add_test(tc, test_parse_negative_lengths_refused);
	tcase_add_test(tc, test_parse_oversize_refused);
	tcase_add_test(tc, test_parse_header_split);
	tcase_add_test(tc, test_peek_truncated_and_consecutive);
	tcase_add_test(tc, test_append_buf_moves_or_copies);
	tcase_add_test(tc, test_buf_prepend_with_and_without_room);
	suite_add_tcase(s, tc);

	tc = tcase_create("fd");
	tcase_add_test(tc, test_fd_roundtrip);
	tcase_add_test(tc, test_fd_escape_and_split_writes);
	tcase_add_test(tc, test_fd_truncated_and_refused);
	tcase_add_test(tc, test_fd_timeout);
	tcase_add_test(tc, test_fd_large_payload);
	tcase_add_test(tc, test_fd_send_to_pipe_and_closed_peer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(frame_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
