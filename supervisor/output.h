/*
 * The serialized output log. The supervisor is its only writer: worker
 * lines and supervisor messages become records (text or JSON) that are
 * collected in a buffer and written with as few write(2) calls as
 * possible, always whole records, so no two records ever interleave.
 * Once started, a thread writes them, so that a log that lags holds up
 * neither the loop nor anything it serves.
 */
#ifndef MPSUP_OUTPUT_H
#define MPSUP_OUTPUT_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "config/config.h"
#include "supervisor/logring.h"

enum output_stream { OUTPUT_STREAM_OUT, OUTPUT_STREAM_ERR };

/* Who wrote a line. */
struct output_tag {
	const char	*pool;
	int		 worker;
	pid_t		 pid;
	const char	*job;		/* or NULL */
};

/*
 * Open the log: path NULL means stdout; a file it creates gets mode, a
 * symlink at path is refused (common/privfile.h). -1 with cause set.
 */
int	output_open(const char *path, mode_t mode, enum log_format,
	    char **cause);
struct ev_loop;

/*
 * Write from a thread from now on (until output_close()), waking loop
 * when the log caught up. -1 with cause set: the loop keeps writing.
 */
int	output_start(struct ev_loop *loop, char **cause);
/*
 * Whether the log lags so far behind that the workers' log pipes should
 * not be read; once it caught up, fn runs (on the loop).
 */
int	output_congested(void);
void	output_on_resume(void (*fn)(void));
/* Reopen the file (SIGUSR1); keeps the old one on failure (cause set). */
int	output_reopen(char **cause);
void	output_close(void);
/* One worker line (flags from linebuf.h), timestamped at now. */
void	output_line(const struct output_tag *, enum output_stream,
	    const char *line, size_t len, int flags, double now);
/* One supervisor message. */
void	output_message(const char *level, const char *msg, double now);
/* Append a record as the JSON log has it (no newline) to b. */
void	output_record_json(struct buf *b, const struct logring_record *);
/*
 * Write out everything buffered: hand it to the thread once started,
 * else write it now.
 */
void	output_flush(void);
/* The same, and wait (a few seconds at most) until it is written. */
void	output_sync(void);
/* Bytes waiting to be written. */
size_t	output_pending(void);

#endif
