/*
 * Starting an exec job's process (see exec_spawn.h): the job's argument
 * vector and environment become a spawn_spec for the one fork recipe
 * (common/spawn.c), which runs it in a process group of its own and
 * reports why its command could not start.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/spawn.h"
#include "common/xmalloc.h"
#include "worker/exec/exec_job.h"
#include "worker/exec/exec_spawn.h"

extern char **environ;

/*
 * The job's environment: the worker's, minus MPSUP_JOB_FDS (the job is
 * not a stream worker), with the job's "env" applied (null unsets) and
 * MPSUP_JOB_ID set.
 */
static char **
exec_spawn_env(struct exec_job *job)
{
	json_t		*env = json_object_get(job->data, "env"), *v;
	const char	*key;
	char		**over, **envp;
	size_t		 n = 0;

	over = xcalloc(json_object_size(env) + 3, sizeof *over);
	over[n++] = xstrdup("MPSUP_JOB_FDS");
	json_object_foreach(env, key, v) {
		if (json_is_string(v))
			xasprintf(&over[n++], "%s=%s", key,
			    json_string_value(v));
		else
			over[n++] = xstrdup(key);
	}
	xasprintf(&over[n++], "MPSUP_JOB_ID=%s", job->id);
	envp = spawn_env_build(environ, over, n);
	spawn_env_free(over);
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

/* Describe a failed start as "what: strerror". */
static char *
exec_spawn_message(const struct spawn_failure *fail,
    const struct spawn_spec *sp)
{
	char	*msg;

	switch (fail->step) {
	case SPAWN_STEP_EXEC:
		xasprintf(&msg, "%s: %s", sp->path, strerror(fail->error));
		break;
	case SPAWN_STEP_CWD:
		xasprintf(&msg, "chdir %s: %s", sp->cwd,
		    strerror(fail->error));
		break;
	default:
		xasprintf(&msg, "cannot set up the job: %s",
		    strerror(fail->error));
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
	struct spawn_spec	 sp;
	struct spawn_failure	 fail;
	json_t			*cwd = json_object_get(job->data, "cwd");
	char			**argv;
	int			 shell, saved;
	pid_t			 pid;

	err->message = NULL;
	err->exit_code = 0;
	memset(&sp, 0, sizeof sp);
	argv = exec_spawn_argv(job, &shell);
	sp.path = shell ? "/bin/sh" : argv[0];
	sp.argv = argv;
	sp.envp = exec_spawn_env(job);
	sp.envp_path = 1;	/* the job's own PATH */
	sp.cwd = cwd != NULL ? json_string_value(cwd) : NULL;
	sp.group = SPAWN_GROUP;
	sp.fds[0] = stdin_fd;
	sp.fds[1] = out_fd;
	sp.fds[2] = err_fd;
	sp.nfds = 3;

	pid = spawn_process_report(&sp, &fail);
	saved = errno;
	if (pid != -1 && fail.error != 0) {
		err->message = exec_spawn_message(&fail, &sp);
		err->exit_code = fail.exit_code;
	}
	spawn_env_free(argv);
	spawn_env_free((char **)sp.envp);
	errno = saved;
	return pid;
}
