/*
 * Starting an exec job's process (see exec_spawn.h): the argument vector
 * and environment are built before fork, so the child only calls
 * async-signal-safe functions between fork and exec.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/xmalloc.h"
#include "worker/exec/exec_job.h"
#include "worker/exec/exec_spawn.h"

extern char **environ;

/* Where a child failed before its command started. */
enum exec_spawn_stage {
	EXEC_SPAWN_EXEC,
	EXEC_SPAWN_CHDIR,
	EXEC_SPAWN_SETUP,
};

/* What a child writes to the report pipe when it cannot exec. */
struct exec_spawn_report {
	int	stage;
	int	error;
};

/* What a child needs, all prepared before fork. */
struct exec_spawn_child {
	char		**argv;
	char		**envp;
	const char	 *cwd;
	int		  shell;
	int		  stdin_fd;
	int		  out_fd;
	int		  err_fd;
	int		  report_fd;
	pid_t		  parent;
	long		  max_fd;
};

/* Close every fd from lowfd up in a child; close_range when possible. */
static void
exec_spawn_closefrom(int lowfd, long max_fd)
{
	long	fd;

#ifdef HAVE_CLOSE_RANGE
	if (close_range((unsigned int)lowfd, ~0U, 0) == 0)
		return;
#endif
	for (fd = lowfd; fd < max_fd; fd++)
		close((int)fd);
}

/* In the child: report why the command could not start, and exit. */
static void __attribute__((noreturn))
exec_spawn_fail(int report_fd, enum exec_spawn_stage stage, int error)
{
	struct exec_spawn_report	rep;
	ssize_t				n;

	rep.stage = stage;
	rep.error = error;
	do
		n = write(report_fd, &rep, sizeof rep);
	while (n == -1 && errno == EINTR);
	_exit(stage == EXEC_SPAWN_EXEC && error == ENOENT ? 127 : 126);
}

/*
 * In the child, between fork and exec: only async-signal-safe calls. The
 * exec worker keeps fds 0-4 open, so the pipes are all above 4 and the
 * moves onto 0-3 cannot clobber one another.
 */
static void __attribute__((noreturn))
exec_spawn_exec(struct exec_spawn_child *sc)
{
	struct sigaction	sa;
	sigset_t		none;
	int			sig;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (setpgid(0, 0) == -1)
		exec_spawn_fail(sc->report_fd, EXEC_SPAWN_SETUP, errno);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		exec_spawn_fail(sc->report_fd, EXEC_SPAWN_SETUP, errno);
	if (getppid() != sc->parent)
		_exit(126);	/* the worker died before prctl: nobody waits */

	if (dup2(sc->stdin_fd, STDIN_FILENO) == -1 ||
	    dup2(sc->out_fd, STDOUT_FILENO) == -1 ||
	    dup2(sc->err_fd, STDERR_FILENO) == -1 ||
	    dup2(sc->report_fd, 3) == -1)
		exec_spawn_fail(sc->report_fd, EXEC_SPAWN_SETUP, errno);
	if (fcntl(3, F_SETFD, FD_CLOEXEC) == -1)
		exec_spawn_fail(3, EXEC_SPAWN_SETUP, errno);
	exec_spawn_closefrom(4, sc->max_fd);

	if (sc->cwd != NULL && chdir(sc->cwd) == -1)
		exec_spawn_fail(3, EXEC_SPAWN_CHDIR, errno);
	environ = sc->envp;	/* so execvp searches the job's own PATH */
	if (sc->shell)
		execve("/bin/sh", sc->argv, sc->envp);
	else
		execvp(sc->argv[0], sc->argv);
	exec_spawn_fail(3, EXEC_SPAWN_EXEC, errno);
}

/*
 * The job's environment: the worker's, minus MPSUP_JOB_FDS (the job is
 * not a stream worker), with the job's "env" applied and MPSUP_JOB_ID set.
 */
static char **
exec_spawn_env(struct exec_job *job)
{
	json_t		*env = json_object_get(job->data, "env"), *v;
	const char	*key;
	char		**envp, *name, *eq;
	size_t		 n = 0, i;

	for (i = 0; environ[i] != NULL; i++)
		n++;
	envp = xcalloc(n + json_object_size(env) + 2, sizeof *envp);
	n = 0;
	for (i = 0; environ[i] != NULL; i++) {
		if ((eq = strchr(environ[i], '=')) == NULL)
			continue;
		name = xstrndup(environ[i], eq - environ[i]);
		if (strcmp(name, "MPSUP_JOB_FDS") != 0 &&
		    strcmp(name, "MPSUP_JOB_ID") != 0 &&
		    json_object_get(env, name) == NULL)
			envp[n++] = xstrdup(environ[i]);
		free(name);
	}
	json_object_foreach(env, key, v) {
		if (json_is_string(v))
			xasprintf(&envp[n++], "%s=%s", key,
			    json_string_value(v));
	}
	xasprintf(&envp[n++], "MPSUP_JOB_ID=%s", job->id);
	envp[n] = NULL;
	return envp;
}

/* The argument vector of a job: its "args", or sh -c "shell". */
static char **
exec_spawn_argv(struct exec_job *job, int *shell)
{
	json_t	*args = json_object_get(job->data, "args"), *v;
	char	**argv;
	size_t	 i;

	if (args == NULL) {
		*shell = 1;
		argv = xcalloc(4, sizeof *argv);
		argv[0] = xstrdup("sh");
		argv[1] = xstrdup("-c");
		argv[2] = xstrdup(json_string_value(json_object_get(job->data,
		    "shell")));
		return argv;
	}
	*shell = 0;
	argv = xcalloc(json_array_size(args) + 1, sizeof *argv);
	json_array_foreach(args, i, v)
		argv[i] = xstrdup(json_string_value(v));
	return argv;
}

/* Free a NULL-terminated array of strings. */
static void
exec_spawn_strv_free(char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Describe a failed start as "what: strerror". */
static char *
exec_spawn_message(struct exec_spawn_report *rep,
    struct exec_spawn_child *sc)
{
	char	*msg;

	switch (rep->stage) {
	case EXEC_SPAWN_EXEC:
		xasprintf(&msg, "%s: %s", sc->shell ? "/bin/sh" : sc->argv[0],
		    strerror(rep->error));
		break;
	case EXEC_SPAWN_CHDIR:
		xasprintf(&msg, "chdir %s: %s", sc->cwd, strerror(rep->error));
		break;
	default:
		xasprintf(&msg, "cannot set up the job: %s",
		    strerror(rep->error));
		break;
	}
	return msg;
}

/*
 * Fork and exec job with stdin_fd, out_fd and err_fd as its fds 0-2 (the
 * caller closes its copies). Returns the pid, which is also the job's
 * process group, or -1 with errno set if no process could be started. When
 * the process started but its command did not, err->message is set (and
 * the process exits with err->exit_code on its own); otherwise it is NULL.
 */
pid_t
exec_spawn_job(struct exec_job *job, int stdin_fd, int out_fd, int err_fd,
    struct exec_spawn_error *err)
{
	struct exec_spawn_child		sc;
	struct exec_spawn_report	rep;
	sigset_t			all, old;
	json_t				*cwd;
	int				report[2], saved;
	ssize_t				n;
	pid_t				pid;

	err->message = NULL;
	err->exit_code = 0;
	if (pipe2(report, O_CLOEXEC) == -1)
		return -1;

	memset(&sc, 0, sizeof sc);
	cwd = json_object_get(job->data, "cwd");
	sc.argv = exec_spawn_argv(job, &sc.shell);
	sc.envp = exec_spawn_env(job);
	sc.cwd = cwd != NULL ? json_string_value(cwd) : NULL;
	sc.stdin_fd = stdin_fd;
	sc.out_fd = out_fd;
	sc.err_fd = err_fd;
	sc.report_fd = report[1];
	sc.parent = getpid();
	sc.max_fd = sysconf(_SC_OPEN_MAX);
	if (sc.max_fd <= 0 || sc.max_fd > 1024 * 1024)
		sc.max_fd = 1024 * 1024;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		exec_spawn_exec(&sc);
	saved = errno;
	if (pid != -1)
		setpgid(pid, pid);	/* also here: the group exists at once */
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(report[1]);

	if (pid != -1) {
		/* EOF means the exec happened; a report means it did not. */
		do
			n = read(report[0], &rep, sizeof rep);
		while (n == -1 && errno == EINTR);
		if (n == (ssize_t)sizeof rep) {
			err->message = exec_spawn_message(&rep, &sc);
			err->exit_code = (rep.stage == EXEC_SPAWN_EXEC &&
			    rep.error == ENOENT) ? 127 : 126;
		}
	}
	close(report[0]);
	exec_spawn_strv_free(sc.argv);
	exec_spawn_strv_free(sc.envp);
	errno = saved;
	return pid;
}
