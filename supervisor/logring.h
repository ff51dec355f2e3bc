/*
 * The log's recent records, kept in memory for `mpsup logs`: every record
 * the serialized output log writes (output.c) is also kept here as a JSON
 * object (the json log format's fields, whatever format the file has),
 * with its pool and job for filtering. The ring is bounded both in
 * records and in bytes; the oldest go first. Records are numbered from 1
 * in the order they were written, so a follower that remembers the next
 * number it wants can tell what it missed.
 */
#ifndef MPSUP_LOGRING_H
#define MPSUP_LOGRING_H

#include <stddef.h>
#include <stdint.h>

/* At most this many records, and this many bytes of them, are kept. */
#define LOGRING_MAX_RECORDS	4096
#define LOGRING_MAX_BYTES	(4u << 20)

struct logring_record {
	uint64_t	 seq;
	const char	*pool;		/* NULL: a supervisor message */
	const char	*job;		/* NULL: not a job's line */
	const char	*json;		/* the record, one JSON object */
	size_t		 len;
};

/*
 * Keep a record (copied). pool and job may be NULL. Calls the notify
 * callback, if one is set, which must not log.
 */
void		 logring_add(const char *pool, const char *job,
		    const char *json, size_t len);
/* The oldest record kept and the next one to come (equal: empty). */
uint64_t	 logring_first(void);
uint64_t	 logring_next(void);
/* Record seq, if it is still kept: 0, else -1. Borrowed until the next add. */
int		 logring_get(uint64_t seq, struct logring_record *);
/* Called after each add (NULL: none): the remote layer wakes its followers. */
void		 logring_set_notify(void (*)(void *), void *arg);
/* Forget every record (at exit). */
void		 logring_clear(void);

#endif
