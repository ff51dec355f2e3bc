/*
 * How a pool's worker process is started (see worker_proc.h): its pipes,
 * argv (the command, or mpsup's own exec worker), environment and
 * descriptors, handed to the one fork recipe (spawn.h).
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "config/parse.h"
#include "common/spawn.h"
#include "supervisor/worker_proc.h"

extern char **environ;

/* Processes worker_proc_start() returned that are not reaped yet. */
static size_t	worker_procs;

static int
worker_pipe(int fds[2], int nonblock_end)
{
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if (fcntl(fds[nonblock_end], F_SETFL, O_NONBLOCK) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

/*
 * What every worker of one pool config is started with, built once when
 * the pool takes the config rather than at every spawn: building the
 * environment (the supervisor's, the pool's env, mpsup's variables) was
 * ~30,000 instructions, 60 % of the supervisor's side of a spawn. Only
 * MPSUP_WORKER differs between workers: its slot points at worker_var,
 * rewritten before each spawn (the child has copied the environment by
 * the time spawn_process() returns).
 */
struct worker_proc {
	char		**argv;		/* the config's, or owned */
	char		 *capture;	/* owned argv[5] of the exec worker */
	char		**envp;		/* owned, but envp[slot] */
	size_t		  slot;		/* of MPSUP_WORKER= */
	char		 *slot_saved;	/* what spawn_env_build() put there */
	char		  worker_var[32];
	int		  use34;	/* job lines on fds 3 and 4 */
};

/* The argv of the process for this pool's workers. */
static char **
worker_argv(const struct pool_config *pc, const char *self_exe,
    char **owned)
{
	char			**argv;
	static const char *const outputs[] = { "log", "capture", "both" };

	if (pc->type == POOL_TYPE_STREAM)
		return pc->argv;
	argv = xcalloc(7, sizeof *argv);
	argv[0] = (char *)self_exe;
	argv[1] = (char *)"exec-worker";
	argv[2] = (char *)"--output";
	argv[3] = (char *)outputs[pc->output];
	argv[4] = (char *)"--capture-max";
	xasprintf(&argv[5], "%llu", (unsigned long long)pc->capture_max);
	*owned = argv[5];
	return argv;
}

/*
 * The workers' environment: the supervisor's, the pool's env, then
 * mpsup's own variables (MPSUP_WORKER with a placeholder).
 */
static char **
worker_envp(const struct pool_config *pc, int use34)
{
	char			*extra[6], **envp, **full;
	const char		*pypath = NULL;
	int			 i;

	xasprintf(&extra[0], "MPSUP_POOL=%s", pc->name);
	extra[1] = xstrdup("MPSUP_WORKER=0");
	xasprintf(&extra[2], "MPSUP_SUPERVISOR_PID=%ld", (long)getpid());
	xasprintf(&extra[3], "MPSUP_JOB_FDS=%s", use34 ? "3,4" : "stdio");
	/* Worker helpers write {"ready":true} after set-up when it is "line". */
	xasprintf(&extra[5], "MPSUP_READY=%s", pc->ready_line ? "line" : "none");
	envp = spawn_env_build(environ, pc->env, pc->nenv);
	/* Python workers find the installed helper, mpsup_worker.py. */
	for (char **e = envp; *e != NULL; e++)
		if (strncmp(*e, "PYTHONPATH=", 11) == 0)
			pypath = *e + 11;
	if (pypath != NULL && *pypath != '\0')
		xasprintf(&extra[4], "PYTHONPATH=%s:%s", pypath,
		    MPSUP_PKGDATADIR);
	else
		xasprintf(&extra[4], "PYTHONPATH=%s", MPSUP_PKGDATADIR);
	full = spawn_env_build(envp, extra, 6);
	spawn_env_free(envp);
	for (i = 0; i < 6; i++)
		free(extra[i]);
	return full;
}

struct worker_proc *
worker_proc_new(const struct pool_config *pc, const char *self_exe)
{
	struct worker_proc	*wp = xcalloc(1, sizeof *wp);

	wp->use34 = pc->job_fds == JOB_FDS_34 || pc->type == POOL_TYPE_EXEC;
	wp->argv = worker_argv(pc, self_exe, &wp->capture);
	wp->envp = worker_envp(pc, wp->use34);
	while (strncmp(wp->envp[wp->slot], "MPSUP_WORKER=", 13) != 0)
		wp->slot++;
	wp->slot_saved = wp->envp[wp->slot];
	wp->envp[wp->slot] = wp->worker_var;
	return wp;
}

void
worker_proc_free(struct worker_proc *wp)
{
	if (wp == NULL)
		return;
	wp->envp[wp->slot] = wp->slot_saved;
	spawn_env_free(wp->envp);
	if (wp->capture != NULL) {
		free(wp->capture);
		free(wp->argv);
	}
	free(wp);
}

/* Fill the spawn spec's descriptors: fds 0-2, or 0-4 with job_fds = 3,4. */
static void
worker_spec_fds(struct spawn_spec *sp, int use34, int out[2], int err[2],
    int jin[2], int jout[2])
{
	if (use34) {
		sp->fds[0] = -1;
		sp->fds[1] = out[1];
		sp->fds[2] = err[1];
		sp->fds[3] = jin[0];
		sp->fds[4] = jout[1];
		sp->nfds = 5;
	} else {
		sp->fds[0] = jin[0];
		sp->fds[1] = jout[1];
		sp->fds[2] = err[1];
		sp->nfds = 3;
	}
}

/* Fork and exec the process with the given pipe ends; -1 on failure. */
static pid_t
worker_fork(struct worker_proc *wp, const struct pool_config *pc, int index,
    const char *dir, int out[2], int err[2], int jin[2], int jout[2])
{
	struct spawn_spec	 sp;

	memset(&sp, 0, sizeof sp);
	snprintf(wp->worker_var, sizeof wp->worker_var, "MPSUP_WORKER=%d",
	    index);
	sp.path = wp->argv[0];
	sp.argv = wp->argv;
	sp.envp = wp->envp;
	/* Relative paths in a command mean what they do in the config. */
	sp.cwd = pc->cwd != NULL ? pc->cwd : dir;
	if (pc->user != NULL || pc->group != NULL) {
		sp.set_creds = 1;
		sp.uid = pc->user != NULL ? pc->uid : getuid();
		sp.gid = pc->gid;
		sp.user = pc->user;
	}
	worker_spec_fds(&sp, wp->use34, out, err, jin, jout);
	return spawn_process(&sp);
}

pid_t
worker_proc_start(struct worker_proc *wp, const struct pool_config *pc,
    int index, const char *dir, struct worker_fds *fds)
{
	int	out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int	jin[2] = { -1, -1 }, jout[2] = { -1, -1 };
	int	use34 = wp->use34;
	pid_t	pid;

	if (worker_pipe(err, 0) == -1 || worker_pipe(jin, 1) == -1 ||
	    worker_pipe(jout, 0) == -1 || (use34 && worker_pipe(out, 0) == -1)) {
		log_warn("%s.%d: pipe", pc->name, index);
		goto fail;
	}
	pid = worker_fork(wp, pc, index, dir, out, err, jin, jout);
	if (pid == -1) {
		log_warn("%s.%d: fork", pc->name, index);
		goto fail;
	}
	close(err[1]);
	close(jin[0]);
	close(jout[1]);
	if (use34)
		close(out[1]);
	fds->out = out[0];
	fds->err = err[0];
	fds->job_in = jin[1];
	fds->job_out = jout[0];
	worker_procs++;
	return pid;

fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] != -1) close(out[i]);
		if (err[i] != -1) close(err[i]);
		if (jin[i] != -1) close(jin[i]);
		if (jout[i] != -1) close(jout[i]);
	}
	return -1;
}

void
worker_proc_reaped(void)
{
	worker_procs--;
}

int
worker_proc_orphans_possible(void)
{
	long	n;
	int	subreaper = 0;

	if (prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == -1 || !subreaper)
		return 1;
	n = spawn_count_children();
	return n == -1 || (size_t)n != worker_procs;
}

/* The /proc pass after a worker gone as pid (see worker_sweep()). */
void
worker_proc_sweep_session(const char *pool, int index, pid_t pid)
{
	size_t	left;

	if ((left = spawn_sweep_session(pid)) > 0)
		log_info("%s.%d[%ld]: killed %zu process%s it left behind",
		    pool, index, (long)pid, left, left == 1 ? "" : "es");
}

/* Describe a wait status for the log. */
void
worker_proc_describe(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "killed by signal %d (SIG%s)%s",
		    WTERMSIG(status), signal_name(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(out, len, "changed state (0x%x)", status);
}
