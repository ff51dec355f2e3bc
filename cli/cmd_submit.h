/*
 * What the two halves of `mpsup submit` share: cmd_submit.c parses the
 * command line and submits one job, cmd_submit_stream.c submits one job
 * per line of stdin. Included only by those two files.
 */
#ifndef MPSUP_CMD_SUBMIT_H
#define MPSUP_CMD_SUBMIT_H

#include "common/buf.h"
#include "cli/cmd_conn.h"

#define SUBMIT_READ_SIZE	65536

/* The command line. */
struct submit_args {
	struct cli_conn_options	 conn;
	const char		*pool;
	int			 wait;
	double			 timeout;	/* 0 = none */
	const char		*data;		/* -d */
	int			 from_stdin;
	int			 progress;	/* --progress 1, --no-progress 0, -1 */
	char			**argv;		/* the exec job's command */
	int			 argc;
	/* Flow fields of every job (--priority, --delay, --group). */
	int			 has_priority;
	int			 priority;
	const char		*delay;
	const char		*group;
};

/* Append the members every submit request starts with, and the pool's. */
void	submit_prefix(struct buf *, const char *op, const struct submit_args *);
/* Append the jobs' flow fields (",\"priority\":N", ...), if any. */
void	submit_flow_append(struct buf *, const struct submit_args *);
/* Submit one job per line of stdin; returns the exit status. */
int	submit_stdin(const struct submit_args *);

#endif
