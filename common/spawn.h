/*
 * The one fork recipe mpsup uses for every child it starts: signals
 * blocked across fork; in the child, dispositions and mask reset, a new
 * session (so a new process group too), PR_SET_PDEATHSIG, fixed
 * descriptors moved into place and every other one closed, optional
 * credentials and folder, then exec.
 *
 * The session holds everything the child starts, even what it puts in
 * process groups of its own (exec jobs, shells with job control): once
 * the child is reaped, spawn_sweep_session() kills what is left of it.
 */
#ifndef MPSUP_SPAWN_H
#define MPSUP_SPAWN_H

#include <sys/types.h>

#define SPAWN_MAX_FDS	5

struct spawn_spec {
	const char	*path;		/* file to exec (PATH searched) */
	char *const	*argv;
	char *const	*envp;
	const char	*cwd;		/* or NULL */
	int		 set_creds;	/* drop to uid/gid */
	uid_t		 uid;
	gid_t		 gid;
	const char	*user;		/* for initgroups(); may be NULL */
	/* fds[i] becomes descriptor i in the child; -1 = /dev/null. */
	int		 fds[SPAWN_MAX_FDS];
	int		 nfds;
};

/*
 * Fork and exec; returns the child's pid (also its session and process
 * group) or -1.
 */
pid_t	spawn_process(const struct spawn_spec *);
/*
 * Signal a child's process group; before the child has one, the child
 * alone, but only while it is unreaped: the pid of a reaped child may be
 * someone else's. Returns 0, or -1 with errno ESRCH if nothing was there.
 */
int	spawn_signal(pid_t pid, int sig);
/*
 * SIGKILL every process (and its group) still in session sid, the pid of
 * a reaped child: whatever it left behind, wherever it put it. Returns how
 * many processes there were. Reads /proc (Linux).
 */
size_t	spawn_sweep_session(pid_t sid);

/* Tests only: act as if close_range() were missing. */
extern int	spawn_test_no_close_range;

/* Build "KEY=VALUE" environment: base, then overrides (later win). */
char  **spawn_env_build(char *const *base, char *const *overrides,
	    size_t noverrides);
void	spawn_env_free(char **);

#endif
