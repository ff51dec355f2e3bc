/*
 * Killing what an exec job left behind (see exec_strays.h). Reads /proc
 * (Linux), as the subreaper it relies on is Linux's too.
 *
 * Signalling a child by its pid is safe from pid reuse: only its parent
 * (this process) can reap it, and nothing here reaps while it scans.
 */
#include "config.h"

#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/exec/exec_strays.h"

/* State, parent and process group of /proc/NAME/stat; -1 if gone. */
static int
exec_strays_stat(int dirfd, const char *name, char *state, pid_t *ppid,
    pid_t *pgrp)
{
	char	 path[64], buf[512], *p, st;
	ssize_t	 n;
	int	 fd, pp, pg;

	snprintf(path, sizeof path, "%s/stat", name);
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid pgrp ...": comm may hold ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %d %d", &st, &pp, &pg) != 3)
		return -1;
	*state = st;
	*ppid = pp;
	*pgrp = pg;
	return 0;
}

int
exec_strays_kill(pid_t pgid)
{
	struct dirent	*de;
	DIR		*dir;
	pid_t		 pid, ppid, pgrp, self = getpid();
	char		 state;
	int		 n = 0;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (exec_strays_stat(dirfd(dir), de->d_name, &state, &ppid,
		    &pgrp) == -1)
			continue;
		if (ppid == self) {
			if (state != 'Z' && kill(pid, SIGKILL) == -1 &&
			    errno == EPERM)
				continue;
			n++;
		} else if (pgid > 0 && pgrp == pgid)
			n++;	/* dying; its children come here next */
	}
	closedir(dir);
	return n;
}
