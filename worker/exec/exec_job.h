/*
 * Jobs of the exec worker as they arrive on its fd 3: parsing and checking
 * one line ({"id":..,"data":{..}[,"timeout_ms":N]} or {"cancel":"ID"}),
 * and the one conversion its results need, process output to a JSON
 * string.
 */
#ifndef MPSUP_EXEC_JOB_H
#define MPSUP_EXEC_JOB_H

#include <sys/queue.h>

#include <stddef.h>

#include <jansson.h>

/* A checked job, waiting for its turn or running. */
struct exec_job {
	TAILQ_ENTRY(exec_job)	 entry;
	char			*id;
	json_t			*data;		/* a checked data object */
	double			 timeout;	/* seconds, 0 for none */
};
TAILQ_HEAD(exec_jobs, exec_job);

enum exec_line_type {
	EXEC_LINE_JOB,		/* job is set */
	EXEC_LINE_CANCEL,	/* id is the job to cancel */
	EXEC_LINE_ERROR,	/* error says why; id is set if answerable */
};

/* One parsed line; strings and the job belong to it until cleared. */
struct exec_line {
	enum exec_line_type	 type;
	struct exec_job		*job;
	char			*id;
	char			*error;
};

void	 exec_line_parse(const char *, size_t, struct exec_line *);
void	 exec_line_clear(struct exec_line *);
char	*exec_line_peek_id(const char *, size_t);
void	 exec_job_free(struct exec_job *);
json_t	*exec_job_text(const char *, size_t);

#endif
