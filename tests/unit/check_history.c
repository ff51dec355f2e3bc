/*
 * Unit tests for the last hour's ring of buckets (common/history.h) and
 * the /proc reader of process costs (common/procstat.h).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/history.h"
#include "common/procstat.h"

START_TEST(test_jobs_land_in_the_bucket_of_their_time)
{
	static struct history	h;
	struct history_bucket	b;
	double			t = 1700000000.0;
	uint64_t		n = history_bucket_at(t);

	memset(&h, 0, sizeof h);
	history_add(&h, t + 1, HISTORY_DONE, 0.5);
	history_add(&h, t + 2, HISTORY_DONE, 1.5);
	history_add(&h, t + 3, HISTORY_FAILED, 0.25);
	history_add(&h, t + 4, HISTORY_CANCELLED, -1);	/* never ran */
	history_add(&h, t + HISTORY_BUCKET_S, HISTORY_DONE, 2);
	history_get(&h, n, &b);
	ck_assert_uint_eq(b.done, 2);
	ck_assert_uint_eq(b.failed, 1);
	ck_assert_uint_eq(b.cancelled, 1);
	ck_assert_uint_eq(b.runs, 3);
	ck_assert_double_eq_tol(b.run_sum, 2.25, 1e-9);
	ck_assert_double_eq_tol(b.run_max, 1.5, 1e-9);
	history_get(&h, n + 1, &b);
	ck_assert_uint_eq(b.done, 1);
	ck_assert_double_eq_tol(b.run_max, 2, 1e-9);
	/* Nothing before. */
	history_get(&h, n - 1, &b);
	ck_assert_uint_eq(b.done + b.failed + b.cancelled + b.runs, 0);
}
END_TEST

START_TEST(test_an_hour_later_the_slot_reads_empty_and_starts_afresh)
{
	static struct history	h;
	struct history_bucket	b;
	double			t = 1700000000.0;
	uint64_t		n = history_bucket_at(t);

	memset(&h, 0, sizeof h);
	history_add(&h, t, HISTORY_FAILED, 3);
	/* The same slot one turn of the ring later. */
	history_get(&h, n + HISTORY_BUCKETS, &b);
	ck_assert_uint_eq(b.failed, 0);
	history_add(&h, t + HISTORY_BUCKETS * HISTORY_BUCKET_S, HISTORY_DONE,
	    0.1);
	history_get(&h, n + HISTORY_BUCKETS, &b);
	ck_assert_uint_eq(b.failed, 0);
	ck_assert_uint_eq(b.done, 1);
	ck_assert_double_eq_tol(b.run_max, 0.1, 1e-9);
	/* And the old bucket is gone. */
	history_get(&h, n, &b);
	ck_assert_uint_eq(b.failed + b.done, 0);
}
END_TEST

/* CPU seconds this process and its children have used. */
static void
spin(double seconds)
{
	struct timespec	ts;
	double		end;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	end = ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
	do
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	while (ts.tv_sec + ts.tv_nsec / 1e9 < end);
}

START_TEST(test_a_process_is_measured_with_its_descendants)
{
	struct procstat	ps;
	int		up[2], status;
	pid_t		child;
	char		c;

	ck_assert_int_eq(pipe(up), 0);
	if ((child = fork()) == 0) {
		/* A grandchild that spins, then both wait to be measured. */
		(void)setpgid(0, 0);
		if (fork() == 0) {
			spin(0.3);
			(void)write(up[1], "g", 1);
			pause();
			_exit(0);
		}
		(void)write(up[1], "c", 1);
		pause();
		_exit(0);
	}
	ck_assert_int_gt(child, 0);
	ck_assert_int_eq(read(up[0], &c, 1), 1);
	ck_assert_int_eq(read(up[0], &c, 1), 1);
	ck_assert_int_eq(procstat_tree(child, &ps), 0);
	ck_assert_uint_eq(ps.procs, 2);
	ck_assert(ps.cpu >= 0.25);
	ck_assert(ps.rss > 100 * 1024);
	/* The whole group: the grandchild is in it. */
	ck_assert_int_eq(kill(-child, SIGKILL), 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_int_eq(procstat_tree(child, &ps), -1);
	close(up[0]);
	close(up[1]);
}
END_TEST

START_TEST(test_this_process_alone)
{
	struct procstat	ps;

	ck_assert_int_eq(procstat_tree(getpid(), &ps), 0);
	ck_assert_uint_eq(ps.procs, 1);
	ck_assert(ps.rss > 0);
	ck_assert_int_eq(procstat_tree(0, &ps), -1);
}
END_TEST

START_TEST(test_cached_figures_are_read_again_once_old)
{
	struct procstat	a, b;

	ck_assert_int_eq(procstat_tree_cached(getpid(), 100.0, 0.5, &a), 0);
	spin(0.2);
	/* Within max_age: what was read before, though the CPU time grew. */
	ck_assert_int_eq(procstat_tree_cached(getpid(), 100.4, 0.5, &b), 0);
	ck_assert(b.cpu == a.cpu && b.rss == a.rss);
	ck_assert_int_eq(procstat_tree_cached(getpid(), 100.5, 0.5, &b), 0);
	ck_assert(b.cpu >= a.cpu + 0.15);
	/* A clock that went back reads again too. */
	spin(0.1);
	ck_assert_int_eq(procstat_tree_cached(getpid(), 99.0, 0.5, &a), 0);
	ck_assert(a.cpu >= b.cpu + 0.05);
	/* No process: -1, every time. */
	ck_assert_int_eq(procstat_tree_cached(0, 100.0, 0.5, &a), -1);
	ck_assert_int_eq(procstat_tree_cached(0, 100.1, 0.5, &a), -1);
}
END_TEST

static Suite *
history_suite(void)
{
	Suite	*s = suite_create("history");
	TCase	*tc = tcase_create("history");

	tcase_add_test(tc, test_jobs_land_in_the_bucket_of_their_time);
	tcase_add_test(tc,
	    test_an_hour_later_the_slot_reads_empty_and_starts_afresh);
	tcase_add_test(tc, test_a_process_is_measured_with_its_descendants);
	tcase_add_test(tc, test_this_process_alone);
	tcase_add_test(tc, test_cached_figures_are_read_again_once_old);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(history_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
