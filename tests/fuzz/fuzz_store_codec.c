/*
 * libFuzzer harness for store/store_codec.c, the decoder of the job
 * records in a store segment: bytes read back from a database file, which
 * may be damaged or hostile. The input is walked as a segment body, one
 * record after another, until one is refused or the bytes run out. A
 * record it accepts never reaches past the bytes it took; its id is 16
 * lowercase hex digits; its times are ones a clock gives; its strings
 * lie inside the record, end in a NUL there, and data_len is the length
 * of data; a start's delta (store_codec.h) is a running job's head and
 * start time, with no strings. The encoding is canonical: encoding a decoded record gives
 * back exactly the bytes it came from, and decoding that again gives the
 * same record; a record cut short is refused.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "store/store.h"
#include "store/store_codec.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* s lies in p[0..n) and ends in a NUL there. */
static void
check_str(const char *s, const char *p, size_t n)
{
	CHECK(s != NULL);
	CHECK((uintptr_t)s >= (uintptr_t)p && (uintptr_t)s < (uintptr_t)p + n);
	CHECK(memchr(s, '\0', n - (size_t)(s - p)) != NULL);
}

/* The same string, or both NULL. */
static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* A record taken from p[0..n) and what it says. */
static void
check_record(const struct store_record *r, const char *p, size_t n)
{
	int	i;

	for (i = 0; i < 16; i++)
		CHECK((r->id[i] >= '0' && r->id[i] <= '9') ||
		    (r->id[i] >= 'a' && r->id[i] <= 'f'));
	CHECK(r->id[16] == '\0');
	CHECK(r->truncated == 0 || r->truncated == 1);
	CHECK(r->state >= 0 && r->state <= 255);
	CHECK(r->attempts <= 65535);
	CHECK(r->worker >= -1 && r->worker <= 65534);
	/* Times a clock gives: finite, not negative, before 1e11 s. */
	CHECK(r->submitted_at >= 0 && r->submitted_at < 1e11);
	CHECK(r->started_at >= 0 && r->started_at < 1e11);
	CHECK(r->finished_at >= 0 && r->finished_at < 1e11);
	if (r->delta) {
		CHECK(r->state == 1);	/* JOB_RUNNING */
		CHECK(r->submitted_at == 0 && r->finished_at == 0);
		CHECK(r->pool == NULL && r->data == NULL && r->data_len == 0 &&
		    r->result == NULL && r->error == NULL && r->key == NULL &&
		    r->client == NULL && r->group == NULL);
		return;
	}
	check_str(r->pool, p, n);
	check_str(r->data, p, n);
	CHECK(strlen(r->data) == r->data_len);
	if (r->result != NULL)
		check_str(r->result, p, n);
	if (r->error != NULL)
		check_str(r->error, p, n);
	if (r->key != NULL)
		check_str(r->key, p, n);
}

/* Encode r, which came from p[0..n), and decode that again. */
static void
check_reencode(const struct store_record *r, const char *p, size_t n)
{
	struct buf		 b = BUF_INIT;
	struct store_record	 r2;
	char			*copy;
	size_t			 m;

	store_codec_put(&b, r);
	/* Canonical: every field and length has a single encoding. */
	CHECK(b.len == n && memcmp(b.data, p, n) == 0);

	/* Exactly the bytes, so that ASan sees a read past them. */
	copy = malloc(b.len);
	CHECK(copy != NULL);
	memcpy(copy, b.data, b.len);
	m = store_codec_get(copy, b.len, &r2);
	CHECK(m == b.len);
	check_record(&r2, copy, m);
	CHECK(memcmp(r2.id, r->id, sizeof r->id) == 0);
	CHECK(r2.state == r->state && r2.attempts == r->attempts &&
	    r2.worker == r->worker && r2.truncated == r->truncated);
	CHECK(memcmp(&r2.submitted_at, &r->submitted_at,
	    sizeof r->submitted_at) == 0);
	CHECK(memcmp(&r2.started_at, &r->started_at,
	    sizeof r->started_at) == 0);
	CHECK(memcmp(&r2.finished_at, &r->finished_at,
	    sizeof r->finished_at) == 0);
	CHECK(r2.delta == r->delta);
	if (!r->delta) {
		CHECK(strcmp(r2.pool, r->pool) == 0);
		CHECK(r2.data_len == r->data_len &&
		    memcmp(r2.data, r->data, r->data_len + 1) == 0);
		CHECK(same_str(r2.result, r->result));
		CHECK(same_str(r2.error, r->error));
		CHECK(same_str(r2.key, r->key));
	}
	/* A record cut short is refused. */
	CHECK(store_codec_get(copy, b.len - 1, &r2) == 0);
	free(copy);
	buf_free(&b);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*p = (const char *)data;
	struct store_record	 r;
	size_t			 left = size, n;

	while (left > 0) {
		if ((n = store_codec_get(p, left, &r)) == 0)
			break;
		CHECK(n <= left);
		check_record(&r, p, n);
		check_reencode(&r, p, n);
		p += n;
		left -= n;
	}
	return 0;
}
