/*
 * The log's recent records, kept in memory for `mpsup logs`: every record
 * the serialized output log writes (output.c) is also kept here, as its
 * fields rather than formatted (a text log pays for no JSON it is never
 * asked for; output_record_json() writes one on demand). The ring is
 * bounded both in records and in bytes; the oldest go first. Records are
 * numbered from 1 in the order they were written, so a follower that
 * remembers the next number it wants can tell what it missed.
 */
#ifndef MPSUP_LOGRING_H
#define MPSUP_LOGRING_H

#include <stddef.h>
#include <stdint.h>

/* At most this many records, and this many bytes of them, are kept. */
#define LOGRING_MAX_RECORDS	4096
#define LOGRING_MAX_BYTES	(4u << 20)

/* A record: a worker's line (pool set) or a supervisor message. */
struct logring_record {
	uint64_t	 seq;		/* set by the ring */
	double		 ts;
	const char	*pool;		/* NULL: a supervisor message */
	const char	*job;		/* NULL: not a job's line */
	const char	*stream;	/* "out", "err"; a message: its level */
	int		 worker;
	long		 pid;
	int		 flags;		/* LINE_CONT, LINE_NOEOL (linebuf.h) */
	const char	*text;		/* the line or the message */
	size_t		 len;
};

/*
 * Keep a record (its strings are copied; seq is ignored). Calls the
 * notify callback, if one is set, which must not log.
 */
void		 logring_add(const struct logring_record *);
/* The oldest record kept and the next one to come (equal: empty). */
uint64_t	 logring_first(void);
uint64_t	 logring_next(void);
/* Record seq, if still kept: 0, else -1. Borrowed until the next add. */
int		 logring_get(uint64_t seq, struct logring_record *);
/* Called after each add (NULL: none): the remote layer wakes followers. */
void		 logring_set_notify(void (*)(void *), void *arg);
/* Forget every record (at exit). */
void		 logring_clear(void);

#endif
