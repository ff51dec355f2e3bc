/*
 * What an exec job leaves behind. The exec worker is a child subreaper
 * and runs one job at a time, so every process a job started, whatever
 * group or session it moved into (setsid, a double fork), comes back to
 * the worker as a child once its parent dies, and every child of the
 * worker other than the running job's own process is that job's.
 *
 * When a job's process has been reaped, exec_strays_kill() is called
 * until it finds nothing: each call SIGKILLs the worker's live children
 * and counts them (and those already dead, not yet reaped) together with
 * what is left of the job's process group, whose members still pass
 * their own children on to the worker as they die. The loop's SIGCHLD
 * handler reaps them all (libev reaps every child of its default loop).
 */
#ifndef MPSUP_EXEC_STRAYS_H
#define MPSUP_EXEC_STRAYS_H

#include <sys/types.h>

/*
 * SIGKILL the calling process's live children; return how many of its
 * children (live or not yet reaped) and members of process group pgid
 * there still are, 0 when the job is gone for good, or -1 if /proc
 * cannot be read. Children that cannot be signalled (EPERM: they changed
 * user) are not counted: nothing here can end them.
 */
int	exec_strays_kill(pid_t pgid);

#endif
