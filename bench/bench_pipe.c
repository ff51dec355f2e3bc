/*
 * Raw pipe baseline for `make bench`: what this machine's kernel costs to
 * move a small message to another process and back, the floor under any
 * supervisor that talks to its workers over pipes.
 *
 * Two processes joined by a pair of pipes. "pingpong" sends one message and
 * waits for it to come back; "batched" sends -b messages in one write each
 * way, the ceiling for a dispatcher that batches as well as it can. Each
 * mode runs -r times for -s/-r seconds and reports its fastest run, since
 * on a busy 2-core machine a round trip's cost depends on whether the
 * scheduler put both ends on one core. The results are key=value lines on
 * stdout for bench/run.py.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PIPE_MAX_BYTES	(1024 * 1024)

/* Print how to call this program and exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: bench_pipe [-s SECONDS] [-r RUNS] "
	    "[-m MSGSIZE] [-b BATCH]\n");
	exit(2);
}

/* Monotonic seconds. */
static double
pipe_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read exactly n bytes: 1, 0 at EOF before any byte, -1 on error. */
static int
pipe_read_full(int fd, char *p, size_t n)
{
	size_t	got = 0;
	ssize_t	r;

	while (got < n) {
		r = read(fd, p + got, n - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			return got == 0 ? 0 : -1;
		got += r;
	}
	return 1;
}

/* Write all n bytes: 0, or -1 on error. */
static int
pipe_write_full(int fd, const char *p, size_t n)
{
	ssize_t	r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

/* The echoing side: send back every chunk of n bytes until EOF. */
static void
pipe_echo(int in, int out, size_t n)
{
	char	*p = malloc(n);
	int	 r;

	if (p == NULL)
		_exit(1);
	while ((r = pipe_read_full(in, p, n)) == 1)
		if (pipe_write_full(out, p, n) == -1)
			_exit(1);
	_exit(r == 0 ? 0 : 1);
}

/*
 * Bounce chunks of n bytes off a child for about secs seconds. Returns the
 * number of round trips and their total time in *elapsed, or -1.
 */
static long
pipe_bounce(size_t n, double secs, double *elapsed)
{
	int	 to_child[2], to_parent[2], status;
	char	*p;
	pid_t	 pid;
	long	 trips = 0;
	double	 t0, deadline;

	if (pipe(to_child) == -1 || pipe(to_parent) == -1) {
		perror("bench_pipe: pipe");
		return -1;
	}
	if ((pid = fork()) == -1) {
		perror("bench_pipe: fork");
		return -1;
	}
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		pipe_echo(to_child[0], to_parent[1], n);
	}
	close(to_child[0]);
	close(to_parent[1]);
	if ((p = calloc(1, n)) == NULL)
		return -1;
	memset(p, 'x', n);
	t0 = pipe_now();
	deadline = t0 + secs;
	for (;;) {
		if (pipe_write_full(to_child[1], p, n) == -1 ||
		    pipe_read_full(to_parent[0], p, n) != 1) {
			perror("bench_pipe: round trip");
			kill(pid, SIGKILL);
			trips = -1;
			break;
		}
		trips++;
		if ((trips & 63) == 0 && pipe_now() >= deadline)
			break;
	}
	*elapsed = pipe_now() - t0;
	close(to_child[1]);
	close(to_parent[0]);
	free(p);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		trips = -1;
	return trips;
}

/*
 * The fastest of runs bounces of n bytes, secs in all: round trips in
 * *trips, seconds in *elapsed. Returns -1 on failure.
 */
static int
pipe_best(size_t n, double secs, int runs, long *trips, double *elapsed)
{
	double	t, best = 0;
	long	k;
	int	i;

	for (i = 0; i < runs; i++) {
		if ((k = pipe_bounce(n, secs / runs, &t)) == -1)
			return -1;
		if (i == 0 || k / t > best) {
			best = k / t;
			*trips = k;
			*elapsed = t;
		}
	}
	return 0;
}

/* Ping-pong first, then the batched variant. */
int
main(int argc, char **argv)
{
	double	 secs = 1.0, elapsed;
	long	 msg = 32, batch = 1000, trips;
	char	*e;
	int	 ch, runs = 5;

	while ((ch = getopt(argc, argv, "b:m:r:s:")) != -1) {
		switch (ch) {
		case 'b':
			batch = strtol(optarg, &e, 10);
			if (*e != '\0' || batch < 1)
				usage();
			break;
		case 'm':
			msg = strtol(optarg, &e, 10);
			if (*e != '\0' || msg < 1)
				usage();
			break;
		case 'r':
			runs = (int)strtol(optarg, &e, 10);
			if (*e != '\0' || runs < 1 || runs > 1000)
				usage();
			break;
		case 's':
			secs = strtod(optarg, &e);
			if (*e != '\0' || secs <= 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || msg * batch > BENCH_PIPE_MAX_BYTES)
		usage();

	if (pipe_best(msg, secs, runs, &trips, &elapsed) == -1)
		return 1;
	printf("bench_pipe: mode=pingpong msg=%ld runs=%d round_trips=%ld "
	    "seconds=%.3f per_s=%.0f us_per_round_trip=%.3f\n", msg, runs,
	    trips, elapsed, trips / elapsed, elapsed * 1e6 / trips);
	fflush(stdout);

	if (pipe_best(msg * batch, secs, runs, &trips, &elapsed) == -1)
		return 1;
	printf("bench_pipe: mode=batched msg=%ld batch=%ld runs=%d "
	    "messages=%ld seconds=%.3f per_s=%.0f us_per_message=%.4f\n", msg,
	    batch, runs, trips * batch, elapsed, trips * batch / elapsed,
	    elapsed * 1e6 / (trips * batch));
	return 0;
}
