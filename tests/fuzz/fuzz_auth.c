/*
 * libFuzzer harness for the server side of the handshake in ipc/auth.c,
 * which talks to peers that have not proved anything yet.
 *
 * The first input byte picks the setup: bit 0 legacy_md5, bit 1 an admin
 * key, bit 2 swaps the two keys (so the note's key is the admin one), bit
 * 3 a random nonce as in production instead of the note's a0..c7 (which
 * lets the transcripts of the protocol note get all the way through).
 * The rest is the client's messages, each a 2-byte big-endian length and
 * that many bytes (a short last one is sent as it is). Whatever arrives,
 * the state machine may only answer in whole frames of at most
 * AUTH_MSG_MAX bytes, must say why it fails, and once it has finished,
 * either way, must refuse everything after without a word.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/auth.h"
#include "ipc/auth_private.h"
#include "ipc/frame.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

#define FUZZ_LEGACY	0x01
#define FUZZ_ADMIN	0x02
#define FUZZ_SWAP	0x04
#define FUZZ_RANDOM	0x08

static const unsigned char	note_key[] = "mpsup-test-key";
static const unsigned char	other_key[] = "another-key-entirely";

/*
 * Check that out holds nothing but whole frames from offset from on, each
 * a possible handshake message; returns how many.
 */
static int
check_frames(const struct buf *out, size_t from)
{
	const unsigned char	*p = (const unsigned char *)buf_head(out);
	const void		*payload;
	const char		*err;
	size_t			 n = buf_used(out), paylen, framelen;
	int			 count = 0;

	CHECK(from <= n);
	while (from < n) {
		CHECK(frame_peek(p + from, n - from, AUTH_MSG_MAX, &payload,
		    &paylen, &framelen, &err) == 1);
		CHECK(paylen > 0);
		from += framelen;
		count++;
	}
	return count;
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_server	*as;
	struct auth_key		 keys[2];
	struct buf		 out = BUF_INIT;
	const unsigned char	*key = note_key, *admin = NULL;
	unsigned char		 nonce[AUTH_NONCE_LEN];
	const char		*err;
	size_t			 keylen = sizeof note_key - 1, adminlen = 0;
	size_t			 i, len, before;
	int			 flags, r = AUTH_MORE, frames;

	if (size == 0)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (flags & FUZZ_ADMIN) {
		admin = other_key;
		adminlen = sizeof other_key - 1;
		if (flags & FUZZ_SWAP) {
			admin = note_key;
			adminlen = sizeof note_key - 1;
			key = other_key;
			keylen = sizeof other_key - 1;
		}
	}
	keys[0].key = key;
	keys[0].len = keylen;
	keys[1].key = admin;
	keys[1].len = adminlen;
	if (flags & FUZZ_RANDOM)
		as = auth_server_new(keys, admin != NULL ? 2 : 1,
		    flags & FUZZ_LEGACY);
	else {
		for (i = 0; i < sizeof nonce; i++)
			nonce[i] = 0xa0 + i;
		as = auth_server_new_with_nonce(keys, admin != NULL ? 2 : 1,
		    flags & FUZZ_LEGACY, nonce);
	}
	auth_server_start(as, &out);
	CHECK(check_frames(&out, 0) == 1);

	while (size > 0) {
		if (size >= 2) {
			len = (size_t)data[0] << 8 | data[1];
			data += 2;
			size -= 2;
			if (len > size)
				len = size;
		} else
			len = size;
		before = buf_used(&out);
		err = NULL;
		r = auth_server_feed(as, data, len, &out, &err);
		data += len;
		size -= len;
		frames = check_frames(&out, before);
		CHECK(r == AUTH_MORE || r == AUTH_OK || r == AUTH_FAIL);
		CHECK(frames <= 1);
		if (r == AUTH_MORE)
			CHECK(frames == 1);
		if (r == AUTH_FAIL)
			CHECK(err != NULL);
		if (r == AUTH_OK) {
			CHECK(frames == 0);
			CHECK(auth_server_key(as) == 0 ||
			    (admin != NULL && auth_server_key(as) == 1));
			CHECK(auth_server_legacy(as) == 0 ||
			    (flags & FUZZ_LEGACY));
		}
		if (r != AUTH_MORE)
			break;
	}

	/* Finished, or not: either way one more message must not hurt. */
	if (r != AUTH_MORE) {
		before = buf_used(&out);
		err = NULL;
		CHECK(auth_server_feed(as, "#WELCOME#", 9, &out, &err) ==
		    AUTH_FAIL);
		CHECK(err != NULL && buf_used(&out) == before);
	}
	auth_server_free(as);
	buf_free(&out);
	return 0;
}
