/*
 * Unit tests for the output log (supervisor/output.c): the exact text and
 * JSON records of worker lines and supervisor messages (README, "The
 * log"), JSON escaping, and how records reach the file (whole, in order,
 * flushed past the high-water mark, to a new file after a reopen).
 */
#include "config.h"

#include <check.h>
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/linebuf.h"
#include "common/timeutil.h"
#include "supervisor/output.h"

/* 2023-11-14T22:13:20Z, and fractions exact in a double. */
#define T0	1700000000.0
#define TS0	"2023-11-14T22:13:20.000Z"

/* One folder for the suite, made and removed outside the test processes. */
static char	topdir[32];
static char	path[64];

static const struct output_tag	web3 = { "web", 3, 1234, "0193a1b2c3d40001" };
static const struct output_tag	web0 = { "web", 0, 99, NULL };

static void
topdir_create(void)
{
	snprintf(topdir, sizeof topdir, "/tmp/check_output.XXXXXX");
	if (mkdtemp(topdir) == NULL) {
		perror(topdir);
		exit(EXIT_FAILURE);
	}
}

static void
topdir_remove(void)
{
	char	cmd[64];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", topdir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: not removed\n", topdir);
}

/* A log file of the test's own. */
static void
setup(void)
{
	int	fd;

	snprintf(path, sizeof path, "%s/log.XXXXXX", topdir);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	close(fd);
}

static void
teardown(void)
{
	output_close();
	unlink(path);
}

/* The whole content of file p, NUL-terminated; its length in *lenp. */
static char *
slurp(const char *p, size_t *lenp)
{
	struct stat	 sb;
	char		*s;
	int		 fd;

	ck_assert_int_ne(fd = open(p, O_RDONLY | O_CLOEXEC), -1);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	s = malloc((size_t)sb.st_size + 1);
	ck_assert_int_eq(read(fd, s, (size_t)sb.st_size), sb.st_size);
	s[sb.st_size] = '\0';
	close(fd);
	if (lenp != NULL)
		*lenp = (size_t)sb.st_size;
	return s;
}

/* Flush the log (and wait for it) and check the file holds exactly want. */
static void
log_is(const char *want)
{
	char	*got;

	output_sync();
	ck_assert_uint_eq(output_pending(), 0);
	got = slurp(path, NULL);
	ck_assert_str_eq(got, want);
	free(got);
}

static void
open_log(enum log_format format)
{
	char	*cause = NULL;

	ck_assert_int_eq(output_open(path, 0600, format, &cause), 0);
	ck_assert_ptr_null(cause);
}

START_TEST(test_text_worker_line_names_pool_index_pid_stream_and_job)
{
	open_log(LOG_FORMAT_TEXT);
	output_line(&web3, OUTPUT_STREAM_OUT, "hello world", 11, 0, T0 + 0.125);
	log_is("2023-11-14T22:13:20.125Z web.3[1234] out "
	    "job=0193a1b2c3d40001: hello world\n");
}
END_TEST

START_TEST(test_text_line_without_a_job_has_no_job_field)
{
	open_log(LOG_FORMAT_TEXT);
	output_line(&web0, OUTPUT_STREAM_ERR, "oops", 4, 0, T0);
	output_line(&web0, OUTPUT_STREAM_OUT, "", 0, 0, T0);
	log_is(TS0 " web.0[99] err: oops\n" TS0 " web.0[99] out: \n");
}
END_TEST

START_TEST(test_text_marks_continued_and_unterminated_lines)
{
	open_log(LOG_FORMAT_TEXT);
	output_line(&web3, OUTPUT_STREAM_OUT, "aaaa", 4, LINE_CONT, T0);
	output_line(&web3, OUTPUT_STREAM_OUT, "bb", 2, 0, T0);
	output_line(&web0, OUTPUT_STREAM_ERR, "last", 4, LINE_NOEOL, T0);
	output_line(&web0, OUTPUT_STREAM_ERR, "both", 4,
	    LINE_CONT | LINE_NOEOL, T0);
	log_is(TS0 " web.3[1234] out job=0193a1b2c3d40001 cont: aaaa\n"
	    TS0 " web.3[1234] out job=0193a1b2c3d40001: bb\n"
	    TS0 " web.0[99] err noeol: last\n"
	    TS0 " web.0[99] err cont noeol: both\n");
}
END_TEST

/*
 * Text records carry the line's bytes as they are, but control characters
 * (tab aside): a carriage return or an escape sequence is written as \xNN,
 * so a worker cannot forge a record or drive the reader's terminal.
 */
START_TEST(test_text_line_bytes_are_written_with_controls_escaped)
{
	static const char	line[] =
	    "a\"b\\c\td\r\x01\xff\xc3\xa9\x1b[2J\x7f";

	open_log(LOG_FORMAT_TEXT);
	output_line(&web0, OUTPUT_STREAM_OUT, line, sizeof line - 1, 0, T0);
	log_is(TS0 " web.0[99] out: a\"b\\c\td\\x0d\\x01\xff\xc3\xa9"
	    "\\x1b[2J\\x7f\n");
}
END_TEST

/* A supervisor message quoting a worker's bytes is escaped the same way. */
START_TEST(test_text_supervisor_message_escapes_controls)
{
	open_log(LOG_FORMAT_TEXT);
	output_message("warn", "malformed result line: x\ry\x1b]0;t\x07", T0);
	log_is(TS0 " mpsup: malformed result line: x\\x0dy\\x1b]0;t\\x07\n");
}
END_TEST

START_TEST(test_text_supervisor_message)
{
	open_log(LOG_FORMAT_TEXT);
	output_message("warn", "web.1: exited with status 3", T0 + 1.5);
	log_is("2023-11-14T22:13:21.500Z mpsup: web.1: exited with status 3\n");
}
END_TEST

/* Whatever the time, a timestamp is UTC to the millisecond, 24 bytes. */
START_TEST(test_timestamp_is_iso8601_utc_with_milliseconds)
{
	static const char	shape[] = "dddd-dd-ddTdd:dd:dd.dddZ mpsup: x\n";
	char			*got;
	size_t			 len, i;

	open_log(LOG_FORMAT_TEXT);
	output_message("info", "x", time_wall());
	output_message("info", "x", T0 + 0.875);
	output_message("info", "x", 4102444799.0);	/* 2099-12-31 */
	output_flush();
	got = slurp(path, &len);
	ck_assert_uint_eq(len, 3 * (sizeof shape - 1));
	for (i = 0; i < len; i++) {
		char	want = shape[i % (sizeof shape - 1)];

		if (want == 'd')
			ck_assert_msg(got[i] >= '0' && got[i] <= '9',
			    "byte %zu of %s", i, got);
		else
			ck_assert_msg(got[i] == want, "byte %zu of %s", i, got);
	}
	ck_assert_int_eq(strncmp(got + 34, "2023-11-14T22:13:20.875Z", 24), 0);
	ck_assert_int_eq(strncmp(got + 68, "2099-12-31T23:59:59.000Z", 24), 0);
	free(got);
}
END_TEST

START_TEST(test_json_worker_line)
{
	open_log(LOG_FORMAT_JSON);
	output_line(&web3, OUTPUT_STREAM_OUT, "hello", 5, 0, T0 + 0.25);
	output_line(&web0, OUTPUT_STREAM_ERR, "oops", 4, 0, T0);
	log_is("{\"ts\":\"2023-11-14T22:13:20.250Z\",\"pool\":\"web\","
	    "\"worker\":3,\"pid\":1234,\"stream\":\"out\","
	    "\"job\":\"0193a1b2c3d40001\",\"line\":\"hello\"}\n"
	    "{\"ts\":\"" TS0 "\",\"pool\":\"web\",\"worker\":0,\"pid\":99,"
	    "\"stream\":\"err\",\"job\":null,\"line\":\"oops\"}\n");
}
END_TEST

START_TEST(test_json_marks_continued_and_unterminated_lines)
{
	open_log(LOG_FORMAT_JSON);
	output_line(&web0, OUTPUT_STREAM_OUT, "aa", 2, LINE_CONT, T0);
	output_line(&web0, OUTPUT_STREAM_OUT, "b", 1, LINE_NOEOL, T0);
	output_line(&web0, OUTPUT_STREAM_OUT, "c", 1, LINE_CONT | LINE_NOEOL,
	    T0);
	log_is("{\"ts\":\"" TS0 "\",\"pool\":\"web\",\"worker\":0,\"pid\":99,"
	    "\"stream\":\"out\",\"job\":null,\"line\":\"aa\",\"cont\":true}\n"
	    "{\"ts\":\"" TS0 "\",\"pool\":\"web\",\"worker\":0,\"pid\":99,"
	    "\"stream\":\"out\",\"job\":null,\"line\":\"b\",\"noeol\":true}\n"
	    "{\"ts\":\"" TS0 "\",\"pool\":\"web\",\"worker\":0,\"pid\":99,"
	    "\"stream\":\"out\",\"job\":null,\"line\":\"c\",\"cont\":true,"
	    "\"noeol\":true}\n");
}
END_TEST

/* The "line" of a JSON record, from the log. */
static char *
json_line_of(const char *raw, size_t len)
{
	char	*got, *p, *e;

	open_log(LOG_FORMAT_JSON);
	output_line(&web0, OUTPUT_STREAM_OUT, raw, len, 0, T0);
	output_flush();
	got = slurp(path, NULL);
	ck_assert_ptr_nonnull(p = strstr(got, ",\"line\":\""));
	p += strlen(",\"line\":\"");
	e = got + strlen(got);
	ck_assert_int_eq(strcmp(e - 3, "\"}\n"), 0);
	e[-3] = '\0';
	memmove(got, p, strlen(p) + 1);
	return got;
}

START_TEST(test_json_escapes_quotes_backslashes_and_control_characters)
{
	static const char	raw[] = "say \"hi\" C:\\x\b\f\n\r\t\x01\x1f\x7f";
	char			*got;

	got = json_line_of(raw, sizeof raw - 1);
	ck_assert_str_eq(got, "say \\\"hi\\\" C:\\\\x\\b\\f\\n\\r\\t"
	    "\\u0001\\u001f\x7f");
	free(got);
}
END_TEST

START_TEST(test_json_escapes_a_nul_byte_inside_a_line)
{
	char	*got;

	got = json_line_of("a\0b", 3);
	ck_assert_str_eq(got, "a\\u0000b");
	free(got);
}
END_TEST

/*
 * Valid UTF-8 is kept; each byte that does not start a valid sequence
 * becomes U+FFFD (overlong forms, surrogates, stray continuation bytes,
 * a sequence cut by the end of the line).
 */
START_TEST(test_json_replaces_invalid_utf8_with_replacement_characters)
{
	static const char	raw[] = "\xc3\xa9|\xe2\x82\xac|\xf0\x9f\x98\x80|"
	    "\xff|\xc0\xaf|\xed\xa0\x80|\x80|\xe2\x82";
	char			*got;

	got = json_line_of(raw, sizeof raw - 1);
	ck_assert_str_eq(got, "\xc3\xa9|\xe2\x82\xac|\xf0\x9f\x98\x80|"
	    "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd");
	free(got);
}
END_TEST

START_TEST(test_json_escapes_pool_and_job_names)
{
	static const struct output_tag	odd = { "p\"q", 1, 2, "j\\k" };

	open_log(LOG_FORMAT_JSON);
	output_line(&odd, OUTPUT_STREAM_OUT, "x", 1, 0, T0);
	log_is("{\"ts\":\"" TS0 "\",\"pool\":\"p\\\"q\",\"worker\":1,"
	    "\"pid\":2,\"stream\":\"out\",\"job\":\"j\\\\k\",\"line\":\"x\"}\n");
}
END_TEST

START_TEST(test_json_supervisor_message_has_null_pool_level_and_msg)
{
	open_log(LOG_FORMAT_JSON);
	output_message("info", "pool \"web\" started\n", T0);
	output_message("warn", "x", T0);
	log_is("{\"ts\":\"" TS0 "\",\"pool\":null,\"level\":\"info\","
	    "\"msg\":\"pool \\\"web\\\" started\\n\"}\n"
	    "{\"ts\":\"" TS0 "\",\"pool\":null,\"level\":\"warn\","
	    "\"msg\":\"x\"}\n");
}
END_TEST

/*
 * Records wait in the buffer until a flush, or until they pass the high-
 * water mark; either way each arrives whole and in order.
 */
START_TEST(test_records_are_buffered_until_flushed_or_past_high_water)
{
	const char	*prefix = TS0 " mpsup: first\n" TS0 " web.0[99] out: ";
	size_t		 big = 300 * 1024, len;
	char		*line = malloc(big), *got, *p;

	open_log(LOG_FORMAT_TEXT);
	output_message("info", "first", T0);
	ck_assert_uint_gt(output_pending(), 0);
	got = slurp(path, &len);
	ck_assert_uint_eq(len, 0);
	free(got);
	memset(line, 'x', big);
	output_line(&web0, OUTPUT_STREAM_OUT, line, big, 0, T0);
	ck_assert_uint_eq(output_pending(), 0);
	output_message("info", "last", T0);
	output_flush();
	got = slurp(path, &len);
	ck_assert_uint_eq(len, strlen(TS0 " mpsup: first\n") +
	    strlen(TS0 " web.0[99] out: \n") + big +
	    strlen(TS0 " mpsup: last\n"));
	ck_assert_int_eq(strncmp(got, prefix, strlen(prefix)), 0);
	p = got + strlen(prefix);
	ck_assert_uint_eq(strspn(p, "x"), big);
	ck_assert_str_eq(p + big, "\n" TS0 " mpsup: last\n");
	free(got);
	free(line);
}
END_TEST

/*
 * After the file was moved away (log rotation), a reopen starts anew:
 * what came before it goes to the old file, what came after to the new
 * one; with loop, the writer thread writes them.
 */
static void
reopen_keeps_the_boundary(struct ev_loop *loop)
{
	char	old[80], *got, *cause = NULL;

	open_log(LOG_FORMAT_TEXT);
	if (loop != NULL)
		ck_assert_int_eq(output_start(loop, &cause), 0);
	output_message("info", "before", T0);
	output_flush();
	snprintf(old, sizeof old, "%s.1", path);
	ck_assert_int_eq(rename(path, old), 0);
	output_message("info", "between", T0);
	ck_assert_int_eq(output_reopen(&cause), 0);
	output_message("info", "after", T0);
	log_is(TS0 " mpsup: after\n");
	got = slurp(old, NULL);
	ck_assert_str_eq(got, TS0 " mpsup: before\n" TS0 " mpsup: between\n");
	free(got);
	unlink(old);
}

START_TEST(test_reopen_writes_to_a_new_file_at_the_same_path)
{
	reopen_keeps_the_boundary(NULL);
}
END_TEST

START_TEST(test_close_writes_what_is_buffered)
{
	char	*got;

	open_log(LOG_FORMAT_JSON);
	output_message("info", "bye", T0);
	output_close();
	ck_assert_uint_eq(output_pending(), 0);
	got = slurp(path, NULL);
	ck_assert_str_eq(got, "{\"ts\":\"" TS0 "\",\"pool\":null,"
	    "\"level\":\"info\",\"msg\":\"bye\"}\n");
	free(got);
}
END_TEST

START_TEST(test_open_of_an_unwritable_path_fails)
{
	char	bad[96];

	char	*cause = NULL;

	snprintf(bad, sizeof bad, "%s/no/such/dir/log", topdir);
	ck_assert_int_eq(output_open(bad, 0600, LOG_FORMAT_TEXT, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, bad));
	free(cause);
}
END_TEST

/* The file a reopen creates (after rotation) has the mode, umask or not. */
START_TEST(test_reopen_creates_the_log_with_its_mode_under_umask_0)
{
	struct stat	 st;
	char		 old[80], *cause = NULL;
	mode_t		 um;

	ck_assert_int_eq(output_open(path, 0640, LOG_FORMAT_TEXT, &cause), 0);
	snprintf(old, sizeof old, "%s.1", path);
	ck_assert_int_eq(rename(path, old), 0);
	um = umask(0);
	ck_assert_int_eq(output_reopen(&cause), 0);
	umask(um);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	unlink(old);
}
END_TEST

/* A symlink put in place of the rotated log is refused; the old fd stays. */
START_TEST(test_reopen_refuses_a_symlink_and_keeps_the_old_log)
{
	char	old[80], target[80], *cause = NULL, *got;

	open_log(LOG_FORMAT_TEXT);
	snprintf(old, sizeof old, "%s.1", path);
	snprintf(target, sizeof target, "%s.target", path);
	ck_assert_int_eq(rename(path, old), 0);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(output_reopen(&cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, path));
	ck_assert_ptr_nonnull(strstr(cause, "symbolic link"));
	free(cause);
	ck_assert_int_eq(access(target, F_OK), -1);
	output_message("info", "still", T0);
	output_flush();
	got = slurp(old, NULL);
	ck_assert_str_eq(got, TS0 " mpsup: still\n");
	free(got);
	unlink(old);
}
END_TEST

START_TEST(test_threaded_reopen_keeps_the_boundary)
{
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);

	reopen_keeps_the_boundary(loop);
	output_close();
	ev_loop_destroy(loop);
}
END_TEST

static int	resumed;

static void
on_resume(void)
{
	resumed = 1;
}

/*
 * With the writer thread on a pipe nobody reads, records pile up without
 * holding the caller: past 1 MiB the log says it is congested; read, it
 * catches up, says so on the loop, and every record arrives in order.
 */
START_TEST(test_threaded_log_on_a_full_pipe_congests_then_catches_up)
{
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	char		 line[1000], buf[65536], *cause = NULL;
	size_t		 got = 0, want = 0;
	size_t		 rec = strlen(TS0 " web.0[99] out: ") + sizeof line + 1;
	int		 fds[2], i;
	ssize_t		 n;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ne(dup2(fds[1], STDOUT_FILENO), -1);
	close(fds[1]);
	ck_assert_int_eq(output_open(NULL, 0600, LOG_FORMAT_TEXT, &cause), 0);
	ck_assert_int_eq(output_start(loop, &cause), 0);
	output_on_resume(on_resume);
	memset(line, 'y', sizeof line);
	for (i = 0; i < 2000 && !output_congested(); i++)
		output_line(&web0, OUTPUT_STREAM_OUT, line, sizeof line, 0, T0);
	ck_assert(output_congested());
	ck_assert_uint_gt(output_pending(), 1u << 20);
	want = output_pending() + 64 * 1024;	/* and what the pipe holds */
	while (!resumed) {
		struct pollfd	pfd = { fds[0], POLLIN, 0 };

		if (poll(&pfd, 1, 100) == 1) {
			ck_assert_int_gt(n = read(fds[0], buf, sizeof buf), 0);
			got += (size_t)n;
		}
		ev_run(loop, EVRUN_NOWAIT);
	}
	ck_assert(!output_congested());
	ck_assert_uint_le(output_pending(), 256u << 10);
	ck_assert_uint_gt(got, want - (256u << 10) - 64 * 1024 - 4096);
	/* The rest comes too: every record, whole. */
	output_flush();
	while (got < (size_t)i * rec) {
		ck_assert_int_gt(n = read(fds[0], buf, sizeof buf), 0);
		got += (size_t)n;
	}
	ck_assert_uint_eq(got, (size_t)i * rec);
	output_on_resume(NULL);
	close(fds[0]);
	output_close();
	ev_loop_destroy(loop);
}
END_TEST

static Suite *
output_suite(void)
{
	Suite	*s = suite_create("output");
	TCase	*tc = tcase_create("output");

	tcase_add_unchecked_fixture(tc, topdir_create, topdir_remove);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    test_text_worker_line_names_pool_index_pid_stream_and_job);
	tcase_add_test(tc, test_text_line_without_a_job_has_no_job_field);
	tcase_add_test(tc, test_text_marks_continued_and_unterminated_lines);
	tcase_add_test(tc, test_text_line_bytes_are_written_with_controls_escaped);
	tcase_add_test(tc, test_text_supervisor_message);
	tcase_add_test(tc, test_text_supervisor_message_escapes_controls);
	tcase_add_test(tc, test_timestamp_is_iso8601_utc_with_milliseconds);
	tcase_add_test(tc, test_json_worker_line);
	tcase_add_test(tc, test_json_marks_continued_and_unterminated_lines);
	tcase_add_test(tc,
	    test_json_escapes_quotes_backslashes_and_control_characters);
	tcase_add_test(tc, test_json_escapes_a_nul_byte_inside_a_line);
	tcase_add_test(tc,
	    test_json_replaces_invalid_utf8_with_replacement_characters);
	tcase_add_test(tc, test_json_escapes_pool_and_job_names);
	tcase_add_test(tc,
	    test_json_supervisor_message_has_null_pool_level_and_msg);
	tcase_add_test(tc,
	    test_records_are_buffered_until_flushed_or_past_high_water);
	tcase_add_test(tc, test_reopen_writes_to_a_new_file_at_the_same_path);
	tcase_add_test(tc, test_close_writes_what_is_buffered);
	tcase_add_test(tc, test_open_of_an_unwritable_path_fails);
	tcase_add_test(tc,
	    test_reopen_creates_the_log_with_its_mode_under_umask_0);
	tcase_add_test(tc, test_reopen_refuses_a_symlink_and_keeps_the_old_log);
	tcase_add_test(tc, test_threaded_reopen_keeps_the_boundary);
	tcase_add_test(tc,
	    test_threaded_log_on_a_full_pipe_congests_then_catches_up);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(output_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
