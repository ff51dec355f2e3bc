/*
 * libFuzzer harness for the pickle decoder. Any bytes at all go to it
 * (under a small output cap, so memo bombs are cheap to refuse); whatever
 * it accepts must be one valid JSON value, and encoding that JSON back to
 * a pickle and decoding it again must give the very same text. An error
 * must leave the output buffer untouched and say something.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

#define FUZZ_MAX_OUT	(1 << 20)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	json = BUF_INIT, pk = BUF_INIT, again = BUF_INIT;
	char		err[256];
	int		rc;

	err[0] = '\0';
	rc = pickle_to_json(data, size, FUZZ_MAX_OUT, &json, err, sizeof err);
	if (rc != 0) {
		/* Refused (-1), or too large to decode within its bound (-2). */
		CHECK((rc == -1 || rc == -2) && json.len == 0 && err[0] != '\0');
		return 0;
	}
	CHECK(json.len > 0 && json.len <= FUZZ_MAX_OUT);
	CHECK(jsontext_valid(json.data, json.len));
	CHECK(pickle_from_json(json.data, json.len, &pk, err, sizeof err) == 0);
	CHECK(pickle_to_json(pk.data, pk.len, FUZZ_MAX_OUT, &again, err,
	    sizeof err) == 0);
	CHECK(again.len == json.len &&
	    memcmp(again.data, json.data, json.len) == 0);
	buf_free(&json);
	buf_free(&pk);
	buf_free(&again);
	return 0;
}
