/*
 * What the two halves of the spawn recipe share (see spawn.h): spawn.c
 * prepares a struct spawn_child in the parent and clones, spawn_child.c
 * is what runs in the child until its exec. Included by those two only.
 *
 * The child shares the parent's memory until it execs (CLONE_VM |
 * CLONE_VFORK, as posix_spawn does, so the supervisor's page tables are
 * not copied and the child runs while the parent waits): it writes only
 * its own stack and makes only async-signal-safe calls. Its functions are
 * left out of AddressSanitizer's instrumentation, as they run on a stack
 * the sanitizer does not know.
 *
 * It also starts on the parent's descriptor table (CLONE_FILES), and
 * before touching any fd takes a table of its own holding only the fds
 * below files_bound (close_range(CLOSE_RANGE_UNSHARE)): a supervisor
 * with 100 workers has ~300 pipe ends, which clone() would copy into
 * every child and the child would then close one by one.
 */
#ifndef MPSUP_SPAWN_IMPL_H
#define MPSUP_SPAWN_IMPL_H

#include <sys/types.h>

#include "common/spawn.h"

#define SPAWN_CHILD_FN	__attribute__((no_sanitize_address))

/* What the child works from, all set up before the clone. */
struct spawn_child {
	const struct spawn_spec	*sp;
	int			 fds[SPAWN_MAX_FDS];	/* sp's, maybe moved */
	int			 report_fd;	/* -1: say it on fd 2 */
	/*
	 * Not 0: the child shares our descriptor table (CLONE_FILES) and
	 * takes a table of its own holding only fds below this one.
	 */
	int			 files_bound;
	pid_t			 parent;
	const char		*path;		/* PATH to search, or NULL */
	gid_t			*groups;	/* sp->user's, for setgroups() */
	int			 ngroups;	/* -1: getgrouplist() failed */
	int			 groups_error;	/* ... with this errno */
};

/* The child, from clone() to exec(); arg is a struct spawn_child. */
int	spawn_child_entry(void *arg);

#endif
