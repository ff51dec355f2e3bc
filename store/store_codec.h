/*
 * How a job record is laid out inside a store segment: a length-prefixed
 * binary record, little-endian, every string NUL-terminated in place so
 * that a decoded record points into the segment without copies.
 *
 *   u32 length of what follows
 *   u64 id, u8 state, u8 truncated, u16 attempts, u16 worker (+1, 0 none),
 *   u8 flags (1 result, 2 error, 4 key, 8 client, 16 flow, 32 dead
 *   letter, 64 retry_of), f64 submitted_at, started_at, finished_at, then
 *   each string as u32 length, bytes, NUL: pool, data, and result, error,
 *   key, client when their flag is set; with the flow flag, i8 priority,
 *   f64 not_before and the group as a string (empty: none); then
 *   retry_of when its flag is set. Records written before clients, flow
 *   control or dead letters existed lack those flags.
 *
 * A start (store_record.delta) is written as a delta: the same head up to
 * the flags, which are 128 alone, then f64 started_at, and nothing more
 * (27 bytes in all against ~75 for a small job's whole record). The rest
 * is that of the job's newest whole record before it, which the store
 * keeps as long as the delta is the job's newest record; recovery merges
 * the two (store_recover.h).
 *
 * Decoding is for bytes read back from a file: every length is checked
 * against what is there, and a malformed record is refused, not trusted.
 * Strings hold no NUL (job data and results are JSON text), state fits a
 * byte, attempts and worker + 1 16 bits (as in struct job): the encoder
 * relies on it, the decoder refuses a string with a NUL in it.
 */
#ifndef MPSUP_STORE_CODEC_H
#define MPSUP_STORE_CODEC_H

#include <stddef.h>

struct buf;
struct store_record;

/* Append r's encoding to b. */
void	store_codec_put(struct buf *b, const struct store_record *r);
/*
 * Decode the record at p (len bytes left) into r, whose strings then
 * point into p. Returns the bytes it took, or 0 if they are malformed
 * (r is then partly filled, and meaningless).
 */
size_t	store_codec_get(const char *p, size_t len, struct store_record *r);

#endif
