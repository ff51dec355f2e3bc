/*
 * The cluster's fence (store/queue_redis_lua.c, the update script) against
 * a real, private redis-server (redisd.h): once another node has taken an
 * entry over (its lease ran out), the late ends, releases and attempts of
 * the node that held it change nothing in Redis and come back as fenced,
 * while the node that holds it now ends its jobs as usual.
 *
 * A node also lets go of what it lost when it next checks its lease
 * (queue_redis_lease.c), so the end-to-end tests pass even without this
 * fence: it is the one guard for an end sent before that check, and only
 * a test of the script itself shows it holds.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store/queue_redis.h"
#include "tests/unit/redisd.h"

#define STREAM	"mpsup:{p}:q"
#define PRE	"mpsup:{p}:"
#define JOB_A	"01a24e6542ca0001"
#define BUCKET	"01a24e654"		/* its first 9 digits */
#define REC	"done\n1\n0\n1765000000\n1765000001\n0\n1765000000\n" \
		"7\n1\n0\ndefault1"

/* One command (printf-style, as hiredis takes it); its reply, or NULL. */
static redisReply *
cmd(redisContext *c, const char *fmt, ...)
{
	va_list	 ap;
	void	*r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	return r;
}

/* An integer reply's value, or -1000 for anything else. */
static long long
cmd_int(redisContext *c, const char *fmt, ...)
{
	va_list		 ap;
	redisReply	*r;
	long long	 v = -1000;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	freeReplyObject(r);
	return v;
}

/* The consumer an entry is pending for, into who; "" if none. */
static void
owner(redisContext *c, const char *x, char *who, size_t size)
{
	redisReply	*r = cmd(c, "XPENDING %s mpsup %s %s 1", STREAM, x, x);

	who[0] = '\0';
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements >= 2)
		snprintf(who, size, "%s", r->element[0]->element[1]->str);
	freeReplyObject(r);
}

/*
 * The update script run by consumer me for JOB_A of entry x, with op
 * ("f" ended, "r" released, "a" attempt started) and its value: how many
 * ids came back fenced (-1 if the script failed), the first in id.
 */
static int
update(redisContext *c, const char *me, const char *x, const char *op,
    const char *value, char *id, size_t size)
{
	const char	*argv[] = { "EVAL", queue_redis_lua_update, "1", STREAM,
	    PRE, "p", me, "60", "0", "100000",
	    x, "nodeA", "", op, "", BUCKET, "1", JOB_A, value };
	redisReply	*r;
	int		 n = -1;

	r = redisCommandArgv(c, (int)(sizeof argv / sizeof argv[0]), argv,
	    NULL);
	id[0] = '\0';
	if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
		n = (int)r->elements;
		if (n > 0 && r->element[0]->type == REDIS_REPLY_STRING)
			snprintf(id, size, "%s", r->element[0]->str);
	} else if (r != NULL && r->type == REDIS_REPLY_ERROR)
		fprintf(stderr, "update: %s\n", r->str);
	freeReplyObject(r);
	return n;
}

START_TEST(test_ends_from_a_node_that_lost_the_entry_are_fenced)
{
	struct redisd	 rd = { 0 };
	redisContext	*c = NULL;
	redisReply	*r;
	char		 x[64] = "", who_taken[64] = "", who_after[64] = "";
	char		 fenced_f[32], fenced_r[32], fenced_a[32], mine[32];
	int		 nf = -2, nr = -2, na = -2, nb = -2;
	long long	 rec_late = -2, rec_b = -2, u_late = -2, u_b = -2;
	long long	 len_late = -2, attempts_late = -2;

	if (redisd_start(&rd) != NULL &&
	    (c = redisConnectUnix(rd.sock)) != NULL && c->err == 0) {
		/* A submitted entry of one job, taken by node A. */
		freeReplyObject(cmd(c, "XGROUP CREATE %s mpsup $ MKSTREAM",
		    STREAM));
		freeReplyObject(cmd(c, "XADD %s * o nodeA i %s b x k %s",
		    STREAM, JOB_A, BUCKET));
		r = cmd(c, "XREADGROUP GROUP mpsup nodeA COUNT 1 STREAMS %s >",
		    STREAM);
		if (r != NULL && r->type == REDIS_REPLY_ARRAY &&
		    r->elements == 1)
			snprintf(x, sizeof x, "%s",
			    r->element[0]->element[1]->element[0]->
			    element[0]->str);
		freeReplyObject(r);
		freeReplyObject(cmd(c, "SET %su 1", PRE));
		/* A's lease ran out: B took the entry over. */
		freeReplyObject(cmd(c, "XCLAIM %s mpsup nodeB 0 %s", STREAM,
		    x));
		owner(c, x, who_taken, sizeof who_taken);

		/* A's late end, release and attempt: fenced, no effect. */
		nf = update(c, "nodeA", x, "f", REC, fenced_f,
		    sizeof fenced_f);
		nr = update(c, "nodeA", x, "r", "0\n\n0\n\n0\n0\n0\n1",
		    fenced_r, sizeof fenced_r);
		na = update(c, "nodeA", x, "a", "2", fenced_a,
		    sizeof fenced_a);
		rec_late = cmd_int(c, "HEXISTS %sr:%s %s", PRE, BUCKET, JOB_A);
		r = cmd(c, "GET %su", PRE);
		u_late = r != NULL && r->type == REDIS_REPLY_STRING ?
		    atoll(r->str) : -1;
		freeReplyObject(r);
		len_late = cmd_int(c, "XLEN %s", STREAM);
		attempts_late = cmd_int(c, "HEXISTS %sa %s", PRE, JOB_A);
		owner(c, x, who_after, sizeof who_after);

		/* B, which holds it now, ends it. */
		nb = update(c, "nodeB", x, "f", REC, mine, sizeof mine);
		rec_b = cmd_int(c, "HEXISTS %sr:%s %s", PRE, BUCKET, JOB_A);
		r = cmd(c, "GET %su", PRE);
		u_b = r != NULL && r->type == REDIS_REPLY_STRING ?
		    atoll(r->str) : -1;
		freeReplyObject(r);
	}
	/* Everything ends before the first check, which may end the test. */
	if (c != NULL)
		redisFree(c);
	redisd_stop(&rd);

	ck_assert_msg(x[0] != '\0', "node A took no entry");
	ck_assert_str_eq(who_taken, "nodeB");
	ck_assert_int_eq(nf, 1);
	ck_assert_str_eq(fenced_f, JOB_A);
	ck_assert_int_eq(nr, 1);
	ck_assert_str_eq(fenced_r, JOB_A);
	ck_assert_int_eq(na, 0);		/* attempts are not reported */
	ck_assert_msg(rec_late == 0, "A's late end wrote the record");
	ck_assert_msg(u_late == 1, "A's late end and release counted: u %lld",
	    u_late);
	ck_assert_msg(len_late == 1, "A's release put the job back: %lld "
	    "entries", len_late);
	ck_assert_msg(attempts_late == 0, "A's late attempt was counted");
	ck_assert_str_eq(who_after, "nodeB");
	ck_assert_int_eq(nb, 0);
	ck_assert_msg(rec_b == 1, "B's end was not written");
	ck_assert_msg(u_b == 0, "B's end not counted: u %lld", u_b);
}
END_TEST

static Suite *
redis_fence_suite(void)
{
	Suite	*s = suite_create("redis_fence");
	TCase	*tc = tcase_create("redis_fence");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ends_from_a_node_that_lost_the_entry_are_fenced);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(redis_fence_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
