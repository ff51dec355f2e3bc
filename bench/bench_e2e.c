/*
 * End-to-end load generator for `make bench`: connects to a running
 * supervisor's listener, keeps a window of submit_many batches in flight
 * and measures how many jobs per second come back finished.
 *
 * Every job's data is a distinct integer; with "wait":true every record in
 * every reply is checked (state done, result equal to the data sent, one
 * record per job), so a supervisor that drops, duplicates or reorders work
 * cannot produce a fast number. Without wait (-W) the batches only queue
 * jobs, which is how the queue-memory benchmark fills a paused pool.
 * With -g N each job names one of N groups in turn and a priority from -3
 * to 3 in turn (flow control's cost beside the default path).
 *
 * The summary is one line of key=value pairs on stdout for bench/run.py.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/time.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "ipc/authkey.h"
#include "ipc/client.h"

#define BENCH_REPLY_MAX		(256ULL * 1024 * 1024)
#define BENCH_STALL_MS		60000	/* no reply this long: give up */
#define BENCH_MAX_WINDOW	1024

struct bench {
	struct ipc_client	*client;
	const char		*pool;
	long			 batch;		/* jobs per submit_many */
	int			 window;	/* batches in flight */
	int			 wait;		/* "wait":true */
	uint64_t		 target;	/* jobs to finish */
	double			 max_seconds;	/* stop sending after this */
	long			 groups;	/* -g: groups and priorities */

	uint64_t		 next_data;	/* data of the next job sent */
	uint64_t		 sent;		/* jobs sent */
	uint64_t		 done;		/* jobs verified */
	uint64_t		 batches;	/* replies verified */

	/* Batches in flight, oldest first (replies come in order). */
	uint64_t		 ring_base[BENCH_MAX_WINDOW];
	long			 ring_n[BENCH_MAX_WINDOW];
	double			 ring_sent_at[BENCH_MAX_WINDOW];
	int			 ring_head;
	int			 ring_count;

	double			 latency_sum;	/* seconds, send to reply */
	double			 latency_max;

	struct buf		 req;		/* request being built */
};

/* Print how to call this program and exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: bench_e2e -a ADDRESS -k KEYFILE [-p POOL] "
	    "[-n JOBS] [-b BATCH] [-w WINDOW] [-t SECONDS] [-g GROUPS] "
	    "[-W]\n");
	exit(2);
}

/* Monotonic seconds. */
static double
bench_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* User and system CPU seconds this process has used. */
static double
bench_cpu_seconds(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Queue one submit_many of n jobs whose data are base, base+1, ... */
static void
bench_queue_batch(struct bench *b, uint64_t base, long n)
{
	char	num[96];
	long	i;
	int	len;
	uint64_t v;

	buf_reset(&b->req);
	buf_appendf(&b->req, "{\"op\":\"submit_many\",\"pool\":\"%s\",%s"
	    "\"jobs\":[", b->pool, b->wait ? "\"wait\":true," : "");
	for (i = 0; i < n; i++) {
		v = base + i;
		if (b->groups > 0)
			len = snprintf(num, sizeof num, "%s{\"group\":\"g%"
			    PRIu64 "\",\"priority\":%d,\"data\":%" PRIu64 "}",
			    i ? "," : "", v % (uint64_t)b->groups,
			    (int)(v % 7) - 3, v);
		else
			len = snprintf(num, sizeof num, "%s{\"data\":%" PRIu64
			    "}", i ? "," : "", v);
		buf_append(&b->req, num, len);
	}
	buf_append(&b->req, "]}", 2);
	ipc_client_queue(b->client, buf_head(&b->req), buf_used(&b->req));
}

/* Check a reply without wait: ok, and exactly n ids. */
static int
bench_check_ids(const char *p, size_t len, long n, char **why)
{
	const char	*end = p + len, *q;
	long		 ids = 1;

	if (strncmp(p, "{\"ok\":true,\"ids\":[\"", 19) != 0) {
		xasprintf(why, "unexpected reply: %.200s", p);
		return -1;
	}
	for (q = p + 19; q < end && *q != ']'; q++)
		if (*q == ',')
			ids++;
	if (ids != n) {
		xasprintf(why, "%ld ids for a batch of %ld jobs", ids, n);
		return -1;
	}
	return 0;
}

/*
 * Check a reply with wait: ok, then n records in order, each with state
 * done and the result equal to the data sent (base + index).
 */
static int
bench_check_records(const char *p, size_t len, uint64_t base, long n,
    char **why)
{
	static const char	 state[] = "\"state\":\"";
	static const char	 result[] = "\"result\":";
	const char		*end = p + len, *q;
	char			*e;
	unsigned long long	 v;
	long			 i;

	if (strncmp(p, "{\"ok\":true,", 11) != 0) {
		xasprintf(why, "unexpected reply: %.200s", p);
		return -1;
	}
	if ((q = memmem(p, len, "\"jobs\":[", 8)) == NULL) {
		xasprintf(why, "no \"jobs\" in the reply");
		return -1;
	}
	for (i = 0; i < n; i++) {
		q = memmem(q, end - q, state, sizeof state - 1);
		if (q == NULL) {
			xasprintf(why, "%ld records for a batch of %ld jobs",
			    i, n);
			return -1;
		}
		q += sizeof state - 1;
		if (end - q < 5 || memcmp(q, "done\"", 5) != 0) {
			xasprintf(why, "job %" PRIu64 " did not end done: "
			    "%.60s", base + i, q);
			return -1;
		}
		q = memmem(q, end - q, result, sizeof result - 1);
		if (q == NULL) {
			xasprintf(why, "job %" PRIu64 ": no result", base + i);
			return -1;
		}
		q += sizeof result - 1;
		errno = 0;
		v = strtoull(q, &e, 10);
		if (e == q || errno != 0 || v != base + i) {
			xasprintf(why, "job %" PRIu64 ": wrong result %.30s",
			    base + i, q);
			return -1;
		}
		q = e;
	}
	if (memmem(q, end - q, state, sizeof state - 1) != NULL) {
		xasprintf(why, "more records than the %ld jobs sent", n);
		return -1;
	}
	return 0;
}

/* Fill the window with new batches while there is work left. */
static void
bench_send_more(struct bench *b, double deadline)
{
	long	n;
	int	slot;

	while (b->ring_count < b->window && b->sent < b->target &&
	    bench_now() < deadline) {
		n = b->batch;
		if ((uint64_t)n > b->target - b->sent)
			n = (long)(b->target - b->sent);
		slot = (b->ring_head + b->ring_count) % BENCH_MAX_WINDOW;
		b->ring_base[slot] = b->next_data;
		b->ring_n[slot] = n;
		b->ring_sent_at[slot] = bench_now();
		b->ring_count++;
		bench_queue_batch(b, b->next_data, n);
		b->next_data += n;
		b->sent += n;
	}
}

/* Take one reply off the window and verify it. */
static int
bench_take_reply(struct bench *b, const char *msg, size_t len, char **why)
{
	uint64_t	base;
	double		lat;
	long		n;
	int		slot = b->ring_head;

	if (b->ring_count == 0) {
		xasprintf(why, "a reply to no request: %.200s", msg);
		return -1;
	}
	base = b->ring_base[slot];
	n = b->ring_n[slot];
	if (b->wait) {
		if (bench_check_records(msg, len, base, n, why) == -1)
			return -1;
	} else if (bench_check_ids(msg, len, n, why) == -1)
		return -1;
	lat = bench_now() - b->ring_sent_at[slot];
	b->latency_sum += lat;
	if (lat > b->latency_max)
		b->latency_max = lat;
	b->ring_head = (slot + 1) % BENCH_MAX_WINDOW;
	b->ring_count--;
	b->done += n;
	b->batches++;
	return 0;
}

/*
 * Run until target jobs are verified or max_seconds have passed (then the
 * batches in flight are drained). Interleaves non-blocking sends and
 * receives so neither end can block the other on a full socket.
 */
static int
bench_run(struct bench *b, char **why)
{
	struct pollfd	 pfd;
	double		 deadline, last_progress;
	char		*msg;
	size_t		 len;
	int		 r;

	deadline = bench_now() + b->max_seconds;
	last_progress = bench_now();
	pfd.fd = ipc_client_fd(b->client);
	for (;;) {
		bench_send_more(b, deadline);
		if (b->ring_count == 0)
			return 0;
		if (ipc_client_pending(b->client) > 0 &&
		    ipc_client_try_flush(b->client) == -1) {
			xasprintf(why, "send: %s", strerror(errno));
			return -1;
		}
		while ((r = ipc_client_try_recv(b->client, &msg, &len,
		    BENCH_REPLY_MAX, why)) == 1) {
			r = bench_take_reply(b, msg, len, why);
			free(msg);
			if (r == -1)
				return -1;
			last_progress = bench_now();
		}
		if (r == -1)
			return -1;
		if (b->ring_count == 0 || (b->ring_count < b->window &&
		    b->sent < b->target && bench_now() < deadline))
			continue;
		pfd.events = POLLIN;
		if (ipc_client_pending(b->client) > 0)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 1000) == -1 && errno != EINTR) {
			xasprintf(why, "poll: %s", strerror(errno));
			return -1;
		}
		if (bench_now() - last_progress > BENCH_STALL_MS / 1000.0) {
			xasprintf(why, "no reply for %d s with %d batches in "
			    "flight", BENCH_STALL_MS / 1000, b->ring_count);
			return -1;
		}
	}
}

/* An integer option in [min, max], or usage(). */
static long
bench_number(const char *s, long min, long max)
{
	char	*e;
	long	 v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (e == s || *e != '\0' || errno != 0 || v < min || v > max)
		usage();
	return v;
}

/* Connect, warm up with one batch, then measure. */
int
main(int argc, char **argv)
{
	struct bench	 b;
	const char	*address = NULL, *keyfile = NULL;
	unsigned char	*key;
	size_t		 keylen;
	char		*cause, *e;
	double		 t0, t1, cpu0, cpu1, secs;
	uint64_t	 warm;
	int		 ch;

	memset(&b, 0, sizeof b);
	b.pool = "echo";
	b.batch = 2000;
	b.window = 4;
	b.wait = 1;
	b.target = 2000000;
	b.max_seconds = 1e9;
	while ((ch = getopt(argc, argv, "a:b:g:k:n:p:t:w:W")) != -1) {
		switch (ch) {
		case 'g':
			b.groups = bench_number(optarg, 1, 1000000);
			break;
		case 'a':
			address = optarg;
			break;
		case 'b':
			b.batch = bench_number(optarg, 1, 100000);
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'n':
			b.target = (uint64_t)bench_number(optarg, 1,
			    1000000000L);
			break;
		case 'p':
			b.pool = optarg;
			break;
		case 't':
			b.max_seconds = strtod(optarg, &e);
			if (e == optarg || *e != '\0' || b.max_seconds <= 0)
				usage();
			break;
		case 'w':
			b.window = (int)bench_number(optarg, 1,
			    BENCH_MAX_WINDOW);
			break;
		case 'W':
			b.wait = 0;
			break;
		default:
			usage();
		}
	}
	if (address == NULL || keyfile == NULL || optind != argc)
		usage();

	if (authkey_load(keyfile, 0, &key, &keylen, &cause) == -1) {
		fprintf(stderr, "bench_e2e: %s\n", cause);
		return 1;
	}
	b.client = ipc_client_connect(address, key, keylen, 0, &cause);
	authkey_free(key, keylen);
	if (b.client == NULL) {
		fprintf(stderr, "bench_e2e: %s\n", cause);
		return 1;
	}

	/* One untimed batch first: connection buffers, worker start-up. */
	if (b.wait) {
		warm = b.target;
		b.target = (uint64_t)b.batch;
		if (bench_run(&b, &cause) == -1) {
			fprintf(stderr, "bench_e2e: warm-up: %s\n", cause);
			return 1;
		}
		b.target = warm;
		b.sent = b.done = b.batches = 0;
		b.latency_sum = b.latency_max = 0;
	}

	cpu0 = bench_cpu_seconds();
	t0 = bench_now();
	if (bench_run(&b, &cause) == -1) {
		fprintf(stderr, "bench_e2e: after %" PRIu64 " jobs: %s\n",
		    b.done, cause);
		return 1;
	}
	t1 = bench_now();
	cpu1 = bench_cpu_seconds();
	secs = t1 - t0;
	printf("bench_e2e: mode=%s jobs=%" PRIu64 " batch=%ld window=%d "
	    "seconds=%.3f jobs_per_s=%.0f us_per_job=%.3f "
	    "batch_latency_ms_mean=%.2f batch_latency_ms_max=%.2f "
	    "client_cpu_s=%.3f\n", b.wait ? "wait" : "submit", b.done,
	    b.batch, b.window, secs, b.done / secs, secs * 1e6 / b.done,
	    b.batches ? b.latency_sum * 1e3 / b.batches : 0.0,
	    b.latency_max * 1e3, cpu1 - cpu0);
	ipc_client_close(b.client);
	buf_free(&b.req);
	return 0;
}
