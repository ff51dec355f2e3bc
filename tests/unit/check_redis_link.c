/*
 * The cluster's connection to Redis (store/redis_link.c) against a real,
 * private redis-server (redisd.h): a Redis that stops answering is
 * dropped REDIS_LINK_TIMEOUT after the command it left unanswered, and
 * every command it held is answered NULL, however often the link's user
 * sends more meanwhile.
 */
#include "config.h"

#include <check.h>
#include <ev.h>
#include <signal.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "store/redis_link.h"
#include "tests/unit/redisd.h"

struct answer {
	int	 got;		/* the callback ran */
	int	 null;		/* with NULL: the link dropped */
	double	 at;
};

static struct ev_loop	*loop;

static void
answer_cb(void *arg, struct redisReply *r)
{
	struct answer	*a = arg;

	a->got = 1;
	a->null = r == NULL;
	a->at = ev_now(loop);
}

static void
ignore_cb(void *arg, struct redisReply *r)
{
	(void)arg;
	(void)r;
}

static int
ping(struct redis_link *l, redis_link_cb cb, void *arg)
{
	struct redis_args	a;
	int			rc;

	redis_args_init(&a);
	redis_args_str(&a, "PING");
	rc = redis_link_cmd(l, cb, arg, &a);
	redis_args_free(&a);
	return rc;
}

/* Run the loop until *flag is set or `seconds` went by. */
static void
run_until(const int *flag, double seconds)
{
	double	end = ev_time() + seconds;

	while (!*flag && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
}

/* Sends a PING every quarter second, before anything else in a turn. */
static void
chatter_cb(struct ev_loop *lp, ev_timer *t, int revents)
{
	(void)lp;
	(void)revents;
	ping(t->data, ignore_cb, NULL);
}

static const struct redis_link_cbs no_cbs;

START_TEST(test_a_frozen_redis_is_dropped_whatever_is_sent_meanwhile)
{
	struct redisd			 r = { 0 };
	struct redis_link_target	 t = { 0 };
	struct redis_link		*l;
	struct answer			 first = { 0 }, up = { 0 };
	ev_timer			 chatter;
	double				 t0 = 0, end;
	int				 was_up, still_up;

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(redisd_start(&r));
	t.path = r.sock;
	t.label = "test";
	l = redis_link_new(loop, &t, NULL, &no_cbs, NULL);
	/* Up, and answering. */
	end = ev_time() + 10;
	while (!redis_link_up(l) && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	if (redis_link_up(l) && ping(l, answer_cb, &up) == 0)
		run_until(&up.got, 5);
	was_up = up.got && !up.null;

	/*
	 * Frozen: one command, then one every 0.25 s at the highest
	 * priority. The 20th comes due in the very turn the watchdog does,
	 * and runs first.
	 */
	if (was_up && kill(r.pid, SIGSTOP) == 0 &&
	    ping(l, answer_cb, &first) == 0) {
		t0 = ev_now(loop);
		ev_timer_init(&chatter, chatter_cb, 0.25, 0.25);
		chatter.data = l;
		ev_set_priority(&chatter, EV_MAXPRI);
		ev_timer_start(loop, &chatter);
		run_until(&first.got, 3 * REDIS_LINK_TIMEOUT);
		ev_timer_stop(loop, &chatter);
	}
	still_up = redis_link_up(l);
	/* Everything ends before the first check, which may end the test. */
	kill(r.pid, SIGCONT);
	redis_link_free(l);
	redisd_stop(&r);
	ev_loop_destroy(loop);

	ck_assert_msg(was_up, "the link did not come up and answer");
	ck_assert_msg(first.got, "no answer %.0f s after Redis froze",
	    3 * REDIS_LINK_TIMEOUT);
	ck_assert(first.null);
	ck_assert_msg(first.at - t0 < REDIS_LINK_TIMEOUT + 0.5,
	    "dropped %.2f s after the command, not %.0f", first.at - t0,
	    REDIS_LINK_TIMEOUT);
	ck_assert(!still_up);
}
END_TEST

static Suite *
redis_link_suite(void)
{
	Suite	*s = suite_create("redis_link");
	TCase	*tc = tcase_create("redis_link");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_a_frozen_redis_is_dropped_whatever_is_sent_meanwhile);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(redis_link_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
