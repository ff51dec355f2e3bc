/*
 * Process costs from /proc (see procstat.h). Each process is read from
 * /proc/PID/stat; its children from /proc/PID/task/TID/children, for
 * every thread, since a child belongs to the thread that forked it.
 */
#include "config.h"

#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/procstat.h"

/* Read a small /proc file into buf (NUL-terminated); its length or -1. */
static ssize_t
procstat_read(const char *path, char *buf, size_t size)
{
	ssize_t	n, got = 0;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((size_t)got < size - 1) {
		n = read(fd, buf + got, size - 1 - (size_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

/* Add one process's /proc/PID/stat to out; -1 if it cannot be read. */
static int
procstat_one(pid_t pid, struct procstat *out)
{
	char			 path[64], buf[1024], *p, *end;
	unsigned long long	 v[22];
	int			 i;
	static long		 tick, page;

	if (tick == 0) {
		tick = sysconf(_SC_CLK_TCK);
		page = sysconf(_SC_PAGESIZE);
	}
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (procstat_read(path, buf, sizeof buf) <= 0)
		return -1;
	/* The command name may hold anything, ")" too: skip to the last. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -1;
	p += 3;				/* field 3, the state */
	if ((p = strchr(p, ' ')) == NULL)
		return -1;
	for (i = 0; i < 22; i++) {	/* fields 4 (ppid) to 25 */
		v[i] = strtoull(p, &end, 10);
		if (end == p)
			return -1;
		p = end;
	}
	/* utime, stime, cutime, cstime are fields 14-17; rss is 24. */
	out->cpu += (double)(v[10] + v[11] + v[12] + v[13]) /
	    (double)(tick > 0 ? tick : 100);
	out->rss += v[20] * (unsigned long long)(page > 0 ? page : 4096);
	out->procs++;
	return 0;
}

/* Append pid's children to the list (at most max in all). */
static void
procstat_children(pid_t pid, pid_t *list, size_t *n, size_t max)
{
	char		 path[64], buf[4096], *p, *end;
	struct dirent	*de;
	DIR		*dir;
	long		 child;

	snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return;
	while (*n < max && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%ld/task/%.16s/children",
		    (long)pid, de->d_name);
		if (procstat_read(path, buf, sizeof buf) <= 0)
			continue;
		for (p = buf; *n < max; p = end) {
			child = strtol(p, &end, 10);
			if (end == p || child <= 0)
				break;
			list[(*n)++] = (pid_t)child;
		}
	}
	closedir(dir);
}

int
procstat_tree(pid_t pid, struct procstat *out)
{
	pid_t	list[PROCSTAT_MAX_PROCS + 1];
	size_t	n = 0, i;

	memset(out, 0, sizeof *out);
	if (procstat_one(pid, out) == -1)
		return -1;
	procstat_children(pid, list, &n, PROCSTAT_MAX_PROCS);
	/* Breadth first: the list grows while it is walked. */
	for (i = 0; i < n; i++) {
		if (procstat_one(list[i], out) == 0)
			procstat_children(list[i], list, &n,
			    PROCSTAT_MAX_PROCS);
	}
	return 0;
}

/* What was last read for a pid, in the slot pid % PROCSTAT_CACHE_SLOTS. */
struct procstat_cached {
	pid_t		pid;
	int		rv;
	double		at;
	struct procstat	ps;
};

static struct procstat_cached	procstat_cache[PROCSTAT_CACHE_SLOTS];

int
procstat_tree_cached(pid_t pid, double now, double max_age,
    struct procstat *out)
{
	struct procstat_cached	*c;

	c = &procstat_cache[(unsigned)pid % PROCSTAT_CACHE_SLOTS];
	if (c->pid != pid || pid <= 0 || now < c->at || now - c->at >= max_age) {
		c->pid = pid;
		c->at = now;
		c->rv = procstat_tree(pid, &c->ps);
	}
	*out = c->ps;
	return c->rv;
}
