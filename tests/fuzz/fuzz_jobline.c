/*
 * libFuzzer harness for ipc/jobline.c, the parser of every result line a
 * worker writes (a user's program: contained, never trusted). What it
 * accepts must be one valid JSON object, and each span it hands out must
 * lie inside the line and be exactly one valid value of the right type,
 * so that the dispatcher can copy, compare and decode them blindly. The
 * one exception is the error of a result nested too deep (the line may
 * then go deeper than any reader takes), which is the parser's own text.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/jobline.h"
#include "ipc/jsontext.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const char too_deep[] = "\"" JSONSCAN_RESULT_TOO_DEEP "\"";

/* Check sp is one valid value inside line[0..len). */
static void
check_span(const struct jsontext_span *sp, const char *line, size_t len)
{
	struct jsontext_span	again;

	CHECK(sp->p >= line && sp->len > 0 && sp->len <= len &&
	    sp->p + sp->len <= line + len);
	CHECK(jsontext_scan(sp->p, sp->p + sp->len, &again) ==
	    sp->p + sp->len);
	CHECK(again.p == sp->p && again.len == sp->len &&
	    again.type == sp->type);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*line = (const char *)data;
	char			*id;
	struct jobline_result	 r;
	size_t			 idlen;

	if (jobline_parse_result(line, size, &r) == -1)
		return 0;
	CHECK(r.ok == 0 || r.ok == 1);
	/* A result too deep fails its job with a text of the parser's own. */
	if (r.error.type == JSONTEXT_STRING &&
	    ((uintptr_t)r.error.p < (uintptr_t)line ||
	    (uintptr_t)r.error.p >= (uintptr_t)line + size)) {
		CHECK(r.ok == 0 && r.error.len == sizeof too_deep - 1 &&
		    memcmp(r.error.p, too_deep, r.error.len) == 0);
		CHECK(r.result.type == JSONTEXT_NULL);
		r.error.type = JSONTEXT_INVALID;
	} else
		CHECK(jsontext_valid(line, size));
	CHECK(r.id.type == JSONTEXT_STRING);
	check_span(&r.id, line, size);
	id = jsontext_string_decode(&r.id, &idlen);
	free(id);
	/* "result" is the member's text, or a null from elsewhere. */
	if ((uintptr_t)r.result.p >= (uintptr_t)line &&
	    (uintptr_t)r.result.p < (uintptr_t)line + size)
		check_span(&r.result, line, size);
	else
		CHECK(r.result.type == JSONTEXT_NULL && r.result.len == 4 &&
		    memcmp(r.result.p, "null", 4) == 0);
	if (r.error.type != JSONTEXT_INVALID)
		check_span(&r.error, line, size);
	return 0;
}
