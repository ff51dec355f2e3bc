/*
 * Store records in segments (see store_codec.h).
 */
#include "config.h"

#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "store/job.h"
#include "store/store.h"
#include "store/store_codec.h"

#define CODEC_RESULT	1
#define CODEC_ERROR	2
#define CODEC_KEY	4
#define CODEC_CLIENT	8
/* Flow fields: priority (1 byte, signed), not_before (8), group. */
#define CODEC_FLOW	16
#define CODEC_DEAD	32
#define CODEC_RETRY_OF	64
/* A start's delta: after the flags, started_at alone (see store_codec.h). */
#define CODEC_DELTA	128
#define CODEC_FLAGS	(CODEC_RESULT | CODEC_ERROR | CODEC_KEY | \
			    CODEC_CLIENT | CODEC_FLOW | CODEC_DEAD | \
			    CODEC_RETRY_OF)
/* id, state, truncated, attempts, worker, flags, three times. */
#define CODEC_FIXED	(8 + 1 + 1 + 2 + 2 + 1 + 3 * 8)
/* What every record begins with: up to the flags. */
#define CODEC_HEAD	(8 + 1 + 1 + 2 + 2 + 1)
#define CODEC_DELTA_LEN	(CODEC_HEAD + 8)

/* v's low n bytes, little-endian (n is a constant: a store or two). */
static inline char *
codec_u(char *p, uint64_t v, int n)
{
	switch (n) {
	case 1:
		*p = (char)v;
		break;
	case 2: {
		uint16_t	x = htole16((uint16_t)v);

		memcpy(p, &x, 2);
		break;
	}
	case 4: {
		uint32_t	x = htole32((uint32_t)v);

		memcpy(p, &x, 4);
		break;
	}
	default: {
		uint64_t	x = htole64(v);

		memcpy(p, &x, 8);
		break;
	}
	}
	return p + n;
}

static uint64_t
codec_get_u(const char *p, int n)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)(unsigned char)p[i] << (8 * i);
	return v;
}

static char *
codec_f(char *p, double d)
{
	uint64_t	v;

	memcpy(&v, &d, sizeof v);
	return codec_u(p, v, 8);
}

static double
codec_get_f(const char *p)
{
	uint64_t	v = codec_get_u(p, 8);
	double		d;

	memcpy(&d, &v, sizeof d);
	return d;
}

static char *
codec_s(char *p, const char *s, size_t len)
{
	p = codec_u(p, len, 4);
	memcpy(p, s, len);
	p[len] = '\0';
	return p + len + 1;
}

/*
 * 8 hex digits (either case), first digit in the low byte, as the number
 * they write: each byte to its digit, then pairs of digits, bytes and
 * halves merged, without a branch.
 */
static uint64_t
codec_hex8(uint64_t w)
{
	const uint64_t	d = 0x000f000f000f000fULL, b = 0x000000ff000000ffULL;

	w = (w & 0x0f0f0f0f0f0f0f0fULL) +
	    ((w >> 6) & 0x0101010101010101ULL) * 9;
	w = ((w & d) << 4) | ((w >> 8) & d);
	w = ((w & b) << 8) | ((w >> 16) & b);
	return ((w & 0xffff) << 16) | ((w >> 32) & 0xffff);
}

/* The 16 hex digits of an id as the number they write. */
static uint64_t
codec_id(const char *id)
{
	uint64_t	hi, lo;

	memcpy(&hi, id, 8);
	memcpy(&lo, id + 8, 8);
	return codec_hex8(le64toh(hi)) << 32 | codec_hex8(le64toh(lo));
}

/* The head every record begins with: id to flags. */
static char *
codec_head(char *p, const struct store_record *r, int flags)
{
	p = codec_u(p, codec_id(r->id), 8);
	p = codec_u(p, (uint64_t)r->state, 1);
	p = codec_u(p, r->truncated != 0, 1);
	p = codec_u(p, r->attempts, 2);
	p = codec_u(p, (uint64_t)(r->worker + 1), 2);
	return codec_u(p, (uint64_t)flags, 1);
}

/* A start's delta: the head, then started_at. */
static void
codec_put_delta(struct buf *b, const struct store_record *r)
{
	char	*p;

	buf_reserve(b, 4 + CODEC_DELTA_LEN);
	p = b->data + b->len;
	p = codec_u(p, CODEC_DELTA_LEN, 4);
	p = codec_head(p, r, CODEC_DELTA);
	codec_f(p, r->started_at);
	b->len += 4 + CODEC_DELTA_LEN;
}

void
store_codec_put(struct buf *b, const struct store_record *r)
{
	size_t	 plen, rlen = 0, elen = 0, klen = 0, clen = 0;
	size_t	 glen = 0, olen = 0;
	size_t	 n;
	char	*p, *start;
	int	 flags = 0;

	/* A delta has no strings (a decoded one has no pool either). */
	if (r->delta) {
		codec_put_delta(b, r);
		return;
	}
	plen = strlen(r->pool);
	n = CODEC_FIXED + 4 + plen + 1 + 4 + r->data_len + 1;
	if (r->result != NULL) {
		flags |= CODEC_RESULT;
		n += 4 + (rlen = strlen(r->result)) + 1;
	}
	if (r->error != NULL) {
		flags |= CODEC_ERROR;
		n += 4 + (elen = strlen(r->error)) + 1;
	}
	if (r->key != NULL) {
		flags |= CODEC_KEY;
		n += 4 + (klen = strlen(r->key)) + 1;
	}
	if (r->client != NULL) {
		flags |= CODEC_CLIENT;
		n += 4 + (clen = strlen(r->client)) + 1;
	}
	if (r->priority != 0 || r->not_before != 0 || r->group != NULL) {
		flags |= CODEC_FLOW;
		glen = r->group != NULL ? strlen(r->group) : 0;
		n += 1 + 8 + 4 + glen + 1;
	}
	if (r->retry_of != NULL) {
		flags |= CODEC_RETRY_OF;
		n += 4 + (olen = strlen(r->retry_of)) + 1;
	}
	if (r->dead)
		flags |= CODEC_DEAD;
	buf_reserve(b, 4 + n);
	start = p = b->data + b->len;
	p = codec_u(p, n, 4);
	p = codec_head(p, r, flags);
	p = codec_f(p, r->submitted_at);
	p = codec_f(p, r->started_at);
	p = codec_f(p, r->finished_at);
	p = codec_s(p, r->pool, plen);
	p = codec_s(p, r->data, r->data_len);
	if (flags & CODEC_RESULT)
		p = codec_s(p, r->result, rlen);
	if (flags & CODEC_ERROR)
		p = codec_s(p, r->error, elen);
	if (flags & CODEC_KEY)
		p = codec_s(p, r->key, klen);
	if (flags & CODEC_CLIENT)
		p = codec_s(p, r->client, clen);
	if (flags & CODEC_FLOW) {
		p = codec_u(p, (uint64_t)(uint8_t)(int8_t)r->priority, 1);
		p = codec_f(p, r->not_before);
		/* An empty group is none. */
		p = codec_s(p, r->group != NULL ? r->group : "", glen);
	}
	if (flags & CODEC_RETRY_OF)
		p = codec_s(p, r->retry_of, olen);
	b->len += (size_t)(p - start);
}

/* One string at *p (end at e): it must fit, end in NUL and hold none. */
static const char *
codec_get_s(const char **p, const char *e, size_t *len)
{
	const char	*s;
	uint64_t	 n;

	if (e - *p < 4)
		return NULL;
	n = codec_get_u(*p, 4);
	s = *p + 4;
	if ((uint64_t)(e - s) < n + 1 || s[n] != '\0' ||
	    memchr(s, '\0', n) != NULL)
		return NULL;
	*p = s + n + 1;
	if (len != NULL)
		*len = n;
	return s;
}

/*
 * A time as a clock gives it: finite, not negative, before the year 5138
 * (0 is "not yet"). Anything else is damage: the record is refused.
 */
static int
codec_time_ok(double t)
{
	return t >= 0 && t < 1e11;
}

/* The flow fields at *p: a priority in range, a finite time, a group. */
static int
codec_get_flow(const char **p, const char *e, struct store_record *r)
{
	size_t	glen;

	if (e - *p < 9)
		return -1;
	r->priority = (int8_t)(uint8_t)codec_get_u(*p, 1);
	r->not_before = codec_get_f(*p + 1);
	*p += 9;
	if (r->priority < JOB_PRIORITY_MIN || r->priority > JOB_PRIORITY_MAX ||
	    !codec_time_ok(r->not_before) ||
	    (r->group = codec_get_s(p, e, &glen)) == NULL || glen > JOB_GROUP_MAX)
		return -1;
	if (glen == 0)
		r->group = NULL;
	/* The encoder writes no block that says nothing: one encoding only. */
	if (r->priority == 0 && r->not_before == 0 && r->group == NULL)
		return -1;
	return 0;
}

size_t
store_codec_get(const char *p, size_t len, struct store_record *r)
{
	const char	*e;
	uint64_t	 n;
	int		 flags;

	if (len < 4 || (n = codec_get_u(p, 4)) > len - 4 || n < CODEC_HEAD)
		return 0;
	e = p + 4 + n;
	p += 4;
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%016llx",
	    (unsigned long long)codec_get_u(p, 8));
	r->state = (int)codec_get_u(p + 8, 1);
	r->truncated = (int)codec_get_u(p + 9, 1);
	r->attempts = (unsigned)codec_get_u(p + 10, 2);
	r->worker = (int)codec_get_u(p + 12, 2) - 1;
	flags = (int)codec_get_u(p + 14, 1);
	if (flags & CODEC_DELTA) {
		/* Only a start, and nothing else, is written this way. */
		if (flags != CODEC_DELTA || n != CODEC_DELTA_LEN ||
		    r->state != JOB_RUNNING || r->truncated > 1)
			return 0;
		r->delta = 1;
		r->started_at = codec_get_f(p + CODEC_HEAD);
		return codec_time_ok(r->started_at) ? 4 + CODEC_DELTA_LEN : 0;
	}
	if (n < CODEC_FIXED)
		return 0;
	r->submitted_at = codec_get_f(p + 15);
	r->started_at = codec_get_f(p + 23);
	r->finished_at = codec_get_f(p + 31);
	p += CODEC_FIXED;
	r->dead = (flags & CODEC_DEAD) != 0;
	if ((flags & ~CODEC_FLAGS) != 0 ||
	    r->truncated > 1 || !codec_time_ok(r->submitted_at) ||
	    !codec_time_ok(r->started_at) || !codec_time_ok(r->finished_at) ||
	    (r->pool = codec_get_s(&p, e, NULL)) == NULL ||
	    (r->data = codec_get_s(&p, e, &r->data_len)) == NULL ||
	    ((flags & CODEC_RESULT) &&
	    (r->result = codec_get_s(&p, e, NULL)) == NULL) ||
	    ((flags & CODEC_ERROR) &&
	    (r->error = codec_get_s(&p, e, NULL)) == NULL) ||
	    ((flags & CODEC_KEY) &&
	    (r->key = codec_get_s(&p, e, NULL)) == NULL) ||
	    ((flags & CODEC_CLIENT) &&
	    (r->client = codec_get_s(&p, e, NULL)) == NULL) ||
	    ((flags & CODEC_FLOW) && codec_get_flow(&p, e, r) == -1) ||
	    ((flags & CODEC_RETRY_OF) &&
	    (r->retry_of = codec_get_s(&p, e, NULL)) == NULL) || p != e)
		return 0;
	return 4 + (size_t)n;
}
