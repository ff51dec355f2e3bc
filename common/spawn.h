/*
 * The one fork recipe mpsup uses for every child it starts, the
 * supervisor's workers and the exec worker's jobs: signals blocked across
 * fork; in the child, dispositions reset, a new session or process group,
 * PR_SET_PDEATHSIG, fixed descriptors moved into place and every other
 * one closed, optional credentials and folder, the mask cleared, exec.
 * Why an exec failed reaches the caller either as a line on the child's
 * fd 2 (spawn_process: the caller does not wait) or through a close-on-exec
 * pipe (spawn_process_report: the caller learns it before going on).
 *
 * A session holds everything the child starts, even what it puts in
 * process groups of its own (exec jobs, shells with job control): once
 * the child is reaped, spawn_sweep_session() kills what is left of it.
 */
#ifndef MPSUP_SPAWN_H
#define MPSUP_SPAWN_H

#include <sys/types.h>

#define SPAWN_MAX_FDS	5

/* Where the child goes; either way it leads a new process group. */
enum spawn_group {
	SPAWN_SESSION,		/* setsid(): a session of its own */
	SPAWN_GROUP,		/* setpgid(): a group in our session */
};

struct spawn_spec {
	const char	*path;		/* file to exec (PATH searched) */
	char *const	*argv;
	char *const	*envp;
	int		 envp_path;	/* search envp's PATH, not ours */
	const char	*cwd;		/* or NULL */
	enum spawn_group group;
	int		 set_creds;	/* drop to uid/gid */
	uid_t		 uid;
	gid_t		 gid;
	const char	*user;		/* for initgroups(); may be NULL */
	/* fds[i] becomes descriptor i in the child; -1 = /dev/null. */
	int		 fds[SPAWN_MAX_FDS];
	int		 nfds;
};

/* Where a child failed before its exec. */
enum spawn_step {
	SPAWN_STEP_SETUP,	/* group, PR_SET_PDEATHSIG, fds, credentials */
	SPAWN_STEP_CWD,		/* chdir() */
	SPAWN_STEP_EXEC,	/* the exec itself */
};

/* What spawn_process_report() learnt; error is 0 if the exec happened. */
struct spawn_failure {
	enum spawn_step	 step;
	int		 error;		/* errno in the child */
	int		 exit_code;	/* it exits 127: not found, 126: other */
};

/*
 * Fork and exec; returns the child's pid (also its process group, and its
 * session with SPAWN_SESSION) or -1. A child that fails before its exec
 * writes "mpsup: WHAT: ERROR" on its fd 2 and exits 127.
 */
pid_t	spawn_process(const struct spawn_spec *);
/*
 * The same, but wait until the child has exec'ed or failed to; a failure
 * is returned in *fail (the child still has to be reaped).
 */
pid_t	spawn_process_report(const struct spawn_spec *,
	    struct spawn_failure *fail);
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

/*
 * How many children the calling thread has, zombies and orphans
 * reparented to it included (/proc/thread-self/children), or -1 if the
 * kernel does not say.
 */
long	spawn_count_children(void);

/* One process as /proc/PID/stat has it. */
struct spawn_proc {
	pid_t	pid, ppid, pgrp, sid;
	char	state;		/* R, S, D, Z, ... */
};
/*
 * Call fn for every process /proc lists (but the caller); -1 if /proc
 * cannot be read (Linux only).
 */
int	spawn_procs_each(void (*fn)(const struct spawn_proc *, void *),
	    void *arg);

/*
 * Hold a few descriptors (/dev/null, close-on-exec) for spawns to move a
 * child's fds into: call it early, while few fds are open. A process
 * with hundreds of fds then spawns without copying them all into each
 * child. -1 if /dev/null cannot be opened (spawns work all the same).
 */
int	spawn_reserve_fds(void);

/* Tests only: act as if close_range() were missing. */
extern int	spawn_test_no_close_range;

/*
 * Build a "KEY=VALUE" environment: base, then overrides, later ones
 * winning; an override that is a bare "KEY" removes KEY.
 */
char  **spawn_env_build(char *const *base, char *const *overrides,
	    size_t noverrides);
/* Free what spawn_env_build() returns (any NULL-ended string array). */
void	spawn_env_free(char **);

#endif
