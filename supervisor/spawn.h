/*
 * The one fork recipe mpsup uses for every child it starts: signals
 * blocked across fork; in the child, dispositions and mask reset, a new
 * process group, PR_SET_PDEATHSIG, fixed descriptors moved into place and
 * every other one closed, optional credentials and folder, then exec.
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

/* Fork and exec; returns the child's pid (also its process group) or -1. */
pid_t	spawn_process(const struct spawn_spec *);

/* Build "KEY=VALUE" environment: base, then overrides (later win). */
char  **spawn_env_build(char *const *base, char *const *overrides,
	    size_t noverrides);
void	spawn_env_free(char **);

#endif
