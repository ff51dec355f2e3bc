/*
 * A private redis-server for the C unit tests (see redisd.h): fork and
 * exec with its settings on the command line, then poll its socket with
 * PING until it answers or it exits; stop it by pid and reap it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/redisd.h"

#define REDISD_START_TIMEOUT	10.0
#define REDISD_STOP_TIMEOUT	5.0

static double
redisd_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
redisd_nap(void)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static int
redisd_remove_cb(const char *p, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int
redisd_ask(const char *path, const char *const argv[], char *reply,
    size_t size)
{
	struct sockaddr_un	 sa;
	struct timeval		 tv = { 5, 0 };
	char			 req[1024];
	size_t			 len = 0, n = 0, i, argc;
	ssize_t			 r;
	int			 fd;

	for (argc = 0; argv[argc] != NULL; argc++)
		;
	len = (size_t)snprintf(req, sizeof req, "*%zu\r\n", argc);
	for (i = 0; i < argc && len < sizeof req; i++)
		len += (size_t)snprintf(req + len, sizeof req - len,
		    "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
	if (len >= sizeof req || size < 2 || strlen(path) >= sizeof sa.sun_path)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* A server that hangs fails the test instead of blocking it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    write(fd, req, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	while (n < size - 1 && (n < 2 || memcmp(reply + n - 2, "\r\n", 2))) {
		if ((r = read(fd, reply + n, size - 1 - n)) <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	reply[n] = '\0';
	reply[strcspn(reply, "\r\n")] = '\0';
	return n > 0 ? 0 : -1;
}

/* In the child: its own group, dies with us, quiet, then exec. */
static void
redisd_exec(const struct redisd *r, pid_t parent)
{
	const char	*argv[] = {
		REDISD_SERVER, "--port", "0", "--unixsocket", r->sock,
		"--unixsocketperm", "700", "--save", "", "--appendonly", "no",
		"--dir", r->dir, "--logfile", r->log, "--daemonize", "no",
		NULL
	};
	int		 fd;

	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(127);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	execv(REDISD_SERVER, (char *const *)argv);
	_exit(127);
}

/* Its log's last lines on stderr, to say why it did not start. */
static void
redisd_show_log(const struct redisd *r)
{
	char	 buf[2048];
	FILE	*fp;
	size_t	 n;
	long	 end;

	if ((fp = fopen(r->log, "re")) == NULL)
		return;
	fseek(fp, 0, SEEK_END);
	end = ftell(fp);
	fseek(fp, end > (long)sizeof buf - 1 ? end - (long)sizeof buf + 1 : 0,
	    SEEK_SET);
	n = fread(buf, 1, sizeof buf - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	fprintf(stderr, "redisd: its log ends:\n%s\n", buf);
}

const char *
redisd_start(struct redisd *r)
{
	static const char *const ping[] = { "PING", NULL };
	char	 reply[64], tmpl[] = "/tmp/mpsup-redisd-XXXXXX";
	double	 end;
	pid_t	 parent = getpid();

	memset(r, 0, sizeof *r);
	if (access(REDISD_SERVER, X_OK) == -1) {
		fprintf(stderr, "redisd: %s: %s (apt-get install "
		    "redis-server)\n", REDISD_SERVER, strerror(errno));
		return NULL;
	}
	if (mkdtemp(tmpl) == NULL) {
		fprintf(stderr, "redisd: mkdtemp: %s\n", strerror(errno));
		return NULL;
	}
	snprintf(r->dir, sizeof r->dir, "%s", tmpl);
	snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
	snprintf(r->log, sizeof r->log, "%s/redis.log", r->dir);
	if ((r->pid = fork()) == -1) {
		fprintf(stderr, "redisd: fork: %s\n", strerror(errno));
		r->pid = 0;
		redisd_stop(r);
		return NULL;
	}
	if (r->pid == 0)
		redisd_exec(r, parent);
	for (end = redisd_now() + REDISD_START_TIMEOUT; redisd_now() < end;
	    redisd_nap()) {
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
			r->pid = 0;
			fprintf(stderr, "redisd: redis-server exited at once\n");
			break;
		}
		if (redisd_ask(r->sock, ping, reply, sizeof reply) == 0 &&
		    strcmp(reply, "+PONG") == 0)
			return r->sock;
	}
	if (r->pid != 0)
		fprintf(stderr, "redisd: no PONG within %.0fs\n",
		    REDISD_START_TIMEOUT);
	redisd_show_log(r);
	redisd_stop(r);
	return NULL;
}

void
redisd_stop(struct redisd *r)
{
	double	end;
	int	reaped = 0;

	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		for (end = redisd_now() + REDISD_STOP_TIMEOUT;
		    !reaped && redisd_now() < end; redisd_nap())
			reaped = waitpid(r->pid, NULL, WNOHANG) == r->pid;
		if (!reaped) {
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
			waitpid(r->pid, NULL, 0);
		}
		r->pid = 0;
	}
	if (r->dir[0] != '\0')
		nftw(r->dir, redisd_remove_cb, 16, FTW_DEPTH | FTW_PHYS);
	r->dir[0] = '\0';
}
