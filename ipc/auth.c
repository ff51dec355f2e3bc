/*
 * The multiprocessing.connection handshake (see auth.h), as mpsup plays it:
 *
 *   S->C  #CHALLENGE#{sha256}<40 random bytes>
 *   C->S  {sha256}<HMAC-SHA256>, or the raw 16-byte HMAC-MD5 of a Python
 *         <= 3.11 client (accepted only in legacy mode)
 *   S->C  #WELCOME# or #FAILURE#
 *   C->S  #CHALLENGE#{sha256}<nonce>, or #CHALLENGE#<20 bytes> (legacy)
 *   S->C  the answer, in the form the client asked for
 *   C->S  #WELCOME#
 *
 * Both MACs cover the whole challenge body, "{sha256}" prefix included.
 * Only sha256 is allowed by name. A client that answered with SHA-256 may
 * not then ask for MD5 (no downgrade). The server challenges first, so it
 * never MACs attacker-chosen bytes for an unauthenticated peer. #FAILURE#
 * is sent exactly where Python's server sends it: after a bad response, not
 * after a malformed challenge.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "ipc/auth.h"
#include "ipc/auth_private.h"
#include "ipc/frame.h"

#define AUTH_CHALLENGE		"#CHALLENGE#"
#define AUTH_CHALLENGE_LEN	11
#define AUTH_WELCOME		"#WELCOME#"
#define AUTH_FAILURE		"#FAILURE#"
#define AUTH_VERDICT_LEN	9
#define AUTH_SHA256_TAG		"{sha256}"
#define AUTH_TAG_LEN		8
#define AUTH_SHA256_LEN		32
#define AUTH_MD5_LEN		16
#define AUTH_MODERN_BODY_LEN	(AUTH_TAG_LEN + AUTH_NONCE_LEN)
#define AUTH_MODERN_ANSWER_LEN	(AUTH_TAG_LEN + AUTH_SHA256_LEN)

int	auth_client_timeout_ms = AUTH_TIMEOUT_MS;

enum auth_state {
	AUTH_STATE_NEW,
	AUTH_STATE_RESPONSE,	/* challenge sent, awaiting its MAC */
	AUTH_STATE_CHALLENGE,	/* welcomed it, awaiting its challenge */
	AUTH_STATE_VERDICT,	/* answered, awaiting #WELCOME# */
	AUTH_STATE_DONE,
	AUTH_STATE_FAILED,
};

struct auth_server {
	enum auth_state	 state;
	struct auth_key	*keys;		/* copies, one per client */
	size_t		 nkeys;
	int		 legacy_md5;	/* accept Python <= 3.11 */
	int		 which;		/* index of the key that answered */
	int		 client_legacy;	/* it answered with raw MD5 */
	/* Our challenge body, "{sha256}" and the nonce: what the MAC covers. */
	unsigned char	 body[AUTH_MODERN_BODY_LEN];
};

/* Fill p with n bytes from the CSPRNG; without one nothing is safe. */
static void
auth_random(unsigned char *p, size_t n)
{
	if (RAND_bytes(p, n) != 1)
		fatalx("RAND_bytes failed: no secure random source");
}

/*
 * HMAC of data under key into out (EVP_MAX_MD_SIZE bytes); returns its
 * length, or -1 if the digest is unavailable (MD5 under FIPS).
 */
static int
auth_mac(const EVP_MD *md, const unsigned char *key, size_t keylen,
    const void *data, size_t n, unsigned char *out)
{
	unsigned int	outlen;

	if (keylen > INT_MAX)
		return -1;
	if (HMAC(md, key, keylen, data, n, out, &outlen) == NULL)
		return -1;
	return outlen;
}

/* Does mac (maclen bytes) match HMAC(key, data)? Constant-time compare. */
static int
auth_verify(const EVP_MD *md, const unsigned char *key, size_t keylen,
    const void *data, size_t n, const unsigned char *mac, size_t maclen)
{
	unsigned char	want[EVP_MAX_MD_SIZE];
	int		len, ok;

	if ((len = auth_mac(md, key, keylen, data, n, want)) == -1 ||
	    (size_t)len != maclen)
		return 0;
	ok = CRYPTO_memcmp(want, mac, maclen) == 0;
	OPENSSL_cleanse(want, sizeof want);
	return ok;
}

/* Copy a key; xmalloc(0) still gives a valid pointer for HMAC(). */
static unsigned char *
auth_key_dup(const unsigned char *key, size_t len)
{
	unsigned char	*p;

	p = xmalloc(len);
	if (len > 0)
		memcpy(p, key, len);
	return p;
}

/*
 * Create a server handshake with a chosen nonce (tests; see
 * auth_private.h). The keys are copied.
 */
struct auth_server *
auth_server_new_with_nonce(const struct auth_key *keys, size_t nkeys,
    int legacy_md5, const unsigned char nonce[AUTH_NONCE_LEN])
{
	struct auth_server	*as;
	size_t			 i;

	if (nkeys == 0)
		fatalx("%s: no keys", __func__);
	as = xcalloc(1, sizeof *as);
	as->state = AUTH_STATE_NEW;
	as->keys = xreallocarray(NULL, nkeys, sizeof *as->keys);
	for (i = 0; i < nkeys; i++) {
		as->keys[i].key = auth_key_dup(keys[i].key, keys[i].len);
		as->keys[i].len = keys[i].len;
	}
	as->nkeys = nkeys;
	as->legacy_md5 = legacy_md5;
	as->which = -1;
	memcpy(as->body, AUTH_SHA256_TAG, AUTH_TAG_LEN);
	memcpy(as->body + AUTH_TAG_LEN, nonce, AUTH_NONCE_LEN);
	return as;
}

/*
 * Create the server side of one connection's handshake: the client must
 * know one of nkeys keys (at least one), which are copied. With
 * legacy_md5 the HMAC-MD5 answers of Python <= 3.11 clients are accepted.
 */
struct auth_server *
auth_server_new(const struct auth_key *keys, size_t nkeys, int legacy_md5)
{
	struct auth_server	*as;
	unsigned char		 nonce[AUTH_NONCE_LEN];

	auth_random(nonce, sizeof nonce);
	as = auth_server_new_with_nonce(keys, nkeys, legacy_md5, nonce);
	OPENSSL_cleanse(nonce, sizeof nonce);
	return as;
}

/* Free a handshake, wiping the keys it held. */
void
auth_server_free(struct auth_server *as)
{
	size_t	i;

	if (as == NULL)
		return;
	for (i = 0; i < as->nkeys; i++) {
		OPENSSL_cleanse((unsigned char *)as->keys[i].key,
		    as->keys[i].len);
		free((unsigned char *)as->keys[i].key);
	}
	free(as->keys);
	free(as);
}

/*
 * The index of the key the client proved it knows (valid once AUTH_OK was
 * returned; -1 before).
 */
int
auth_server_key(const struct auth_server *as)
{
	return as->which;
}

/* Did the client authenticate with legacy HMAC-MD5 (worth logging)? */
int
auth_server_legacy(const struct auth_server *as)
{
	return as->client_legacy;
}

/* Append the first frame, the server's challenge, to out. */
void
auth_server_start(struct auth_server *as, struct buf *out)
{
	struct buf	msg = BUF_INIT;

	if (as->state != AUTH_STATE_NEW)
		fatalx("%s: handshake already started", __func__);
	buf_append(&msg, AUTH_CHALLENGE, AUTH_CHALLENGE_LEN);
	buf_append(&msg, as->body, sizeof as->body);
	frame_append(out, buf_head(&msg), buf_used(&msg));
	buf_free(&msg);
	as->state = AUTH_STATE_RESPONSE;
}

/* Fail the handshake with a static reason. */
static int
auth_server_fail(struct auth_server *as, const char *why, const char **err)
{
	as->state = AUTH_STATE_FAILED;
	*err = why;
	return AUTH_FAIL;
}

/* Fail after a bad response: like Python, tell the client #FAILURE#. */
static int
auth_server_reject(struct auth_server *as, struct buf *out, const char *why,
    const char **err)
{
	frame_append(out, AUTH_FAILURE, AUTH_VERDICT_LEN);
	return auth_server_fail(as, why, err);
}

/*
 * Step 2: check the client's MAC over our challenge body against every
 * key. All are always computed, so the time taken does not say which one
 * matched (keys are distinct: config refuses two equal ones).
 */
static int
auth_server_response(struct auth_server *as, const unsigned char *msg,
    size_t len, struct buf *out, const char **err)
{
	const EVP_MD		*md;
	const unsigned char	*mac;
	size_t			 maclen;
	size_t			 i;
	int			 legacy, which = -1;

	if (len == AUTH_MODERN_ANSWER_LEN &&
	    memcmp(msg, AUTH_SHA256_TAG, AUTH_TAG_LEN) == 0) {
		md = EVP_sha256();
		mac = msg + AUTH_TAG_LEN;
		maclen = AUTH_SHA256_LEN;
		legacy = 0;
	} else if (len == AUTH_MD5_LEN) {
		if (!as->legacy_md5)
			return auth_server_reject(as, out, "legacy MD5 client "
			    "refused (set legacy_md5 = yes to accept Python "
			    "<= 3.11 clients)", err);
		md = EVP_md5();
		mac = msg;
		maclen = AUTH_MD5_LEN;
		legacy = 1;
	} else
		return auth_server_reject(as, out,
		    "unsupported digest in response", err);

	for (i = 0; i < as->nkeys; i++)
		if (auth_verify(md, as->keys[i].key, as->keys[i].len, as->body,
		    sizeof as->body, mac, maclen) && which == -1)
			which = (int)i;
	if (which == -1)
		return auth_server_reject(as, out, "digest mismatch", err);

	as->which = which;
	as->client_legacy = legacy;
	frame_append(out, AUTH_WELCOME, AUTH_VERDICT_LEN);
	as->state = AUTH_STATE_CHALLENGE;
	return AUTH_MORE;
}

/*
 * Step 4: answer the client's challenge with the key it authenticated
 * with. A 20-byte body is Python <= 3.11 and gets raw HMAC-MD5, but only
 * from a client that itself answered with MD5; anything else must be
 * "{sha256}" and gets "{sha256}" + HMAC-SHA256 over the whole body.
 */
static int
auth_server_challenge(struct auth_server *as, const unsigned char *msg,
    size_t len, struct buf *out, const char **err)
{
	const unsigned char	*body, *key;
	unsigned char		 answer[AUTH_TAG_LEN + EVP_MAX_MD_SIZE];
	size_t			 blen, keylen;

	if (len < AUTH_CHALLENGE_LEN ||
	    memcmp(msg, AUTH_CHALLENGE, AUTH_CHALLENGE_LEN) != 0)
		return auth_server_fail(as, "malformed challenge", err);
	body = msg + AUTH_CHALLENGE_LEN;
	blen = len - AUTH_CHALLENGE_LEN;
	if (blen < AUTH_LEGACY_NONCE_LEN)
		return auth_server_fail(as, "challenge too short", err);

	key = as->keys[as->which].key;
	keylen = as->keys[as->which].len;
	if (blen == AUTH_LEGACY_NONCE_LEN) {
		if (!as->client_legacy)
			return auth_server_fail(as,
			    "downgrade to legacy challenge refused", err);
		if (auth_mac(EVP_md5(), key, keylen, body, blen, answer) == -1)
			return auth_server_fail(as, "HMAC-MD5 unavailable",
			    err);
		frame_append(out, answer, AUTH_MD5_LEN);
	} else {
		if (memcmp(body, AUTH_SHA256_TAG, AUTH_TAG_LEN) != 0)
			return auth_server_fail(as,
			    "unsupported digest in challenge", err);
		memcpy(answer, AUTH_SHA256_TAG, AUTH_TAG_LEN);
		if (auth_mac(EVP_sha256(), key, keylen, body, blen,
		    answer + AUTH_TAG_LEN) == -1)
			return auth_server_fail(as, "HMAC-SHA256 unavailable",
			    err);
		frame_append(out, answer, AUTH_MODERN_ANSWER_LEN);
	}
	as->state = AUTH_STATE_VERDICT;
	return AUTH_MORE;
}

/* Step 6: the client's verdict on our answer. */
static int
auth_server_verdict(struct auth_server *as, const unsigned char *msg,
    size_t len, const char **err)
{
	if (len == AUTH_VERDICT_LEN &&
	    memcmp(msg, AUTH_WELCOME, AUTH_VERDICT_LEN) == 0) {
		as->state = AUTH_STATE_DONE;
		return AUTH_OK;
	}
	if (len == AUTH_VERDICT_LEN &&
	    memcmp(msg, AUTH_FAILURE, AUTH_VERDICT_LEN) == 0)
		return auth_server_fail(as, "client rejected our digest", err);
	return auth_server_fail(as, "expected #WELCOME# from client", err);
}

/*
 * Feed one received frame payload. Frames to send are appended to out.
 * Returns AUTH_MORE, AUTH_OK (authenticated; see auth_server_key()) or
 * AUTH_FAIL with *err a static reason; the caller then sends what is in
 * out and closes the connection.
 */
int
auth_server_feed(struct auth_server *as, const void *msg, size_t len,
    struct buf *out, const char **err)
{
	if (len > AUTH_MSG_MAX)
		return auth_server_fail(as, "handshake message too large", err);
	switch (as->state) {
	case AUTH_STATE_RESPONSE:
		return auth_server_response(as, msg, len, out, err);
	case AUTH_STATE_CHALLENGE:
		return auth_server_challenge(as, msg, len, out, err);
	case AUTH_STATE_VERDICT:
		return auth_server_verdict(as, msg, len, err);
	case AUTH_STATE_NEW:
		return auth_server_fail(as, "handshake not started", err);
	default:
		*err = "handshake already finished";
		return AUTH_FAIL;
	}
}

/* Receive timeouts saved across the client handshake. */
struct auth_timeouts {
	struct timeval	rcv;
	struct timeval	snd;
	int		saved;
};

/* Bound every read and write on fd by ms, remembering the old bounds. */
static void
auth_timeouts_set(int fd, struct auth_timeouts *t, int ms)
{
	struct timeval	tv;
	socklen_t	len;

	len = sizeof t->rcv;
	t->saved = getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t->rcv, &len) == 0;
	len = sizeof t->snd;
	if (t->saved &&
	    getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t->snd, &len) != 0)
		t->saved = 0;
	if (!t->saved)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Put back the timeouts auth_timeouts_set() replaced. */
static void
auth_timeouts_restore(int fd, const struct auth_timeouts *t)
{
	if (!t->saved)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t->rcv, sizeof t->rcv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t->snd, sizeof t->snd);
}

/* Send one handshake frame, describing a failure in cause. */
static int
auth_client_send(int fd, const void *p, size_t len, const char *what,
    char **cause)
{
	if (frame_send_fd(fd, p, len) == 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		xasprintf(cause, "sending %s: timed out", what);
	else
		xasprintf(cause, "sending %s: %s", what, strerror(errno));
	return -1;
}

/* Receive one handshake frame (at most AUTH_MSG_MAX bytes). */
static int
auth_client_recv(int fd, char **msg, size_t *len, const char *what,
    char **cause)
{
	char	*why;

	if (frame_recv_fd(fd, AUTH_MSG_MAX, msg, len, &why) == 0)
		return 0;
	xasprintf(cause, "reading %s: %s", what, why);
	free(why);
	return -1;
}

/*
 * Steps 1-3 as the client: answer the server's challenge and read its
 * verdict. Legacy answers anything with raw MD5, as Python <= 3.11 does.
 */
static int
auth_client_answer(int fd, const unsigned char *key, size_t keylen,
    int flags, char **cause)
{
	const unsigned char	*body;
	unsigned char		 answer[AUTH_TAG_LEN + EVP_MAX_MD_SIZE];
	char			*msg = NULL;
	size_t			 len, blen, alen;
	int			 rv = -1;

	if (auth_client_recv(fd, &msg, &len, "the server's challenge",
	    cause) == -1)
		return -1;
	if (len < AUTH_CHALLENGE_LEN ||
	    memcmp(msg, AUTH_CHALLENGE, AUTH_CHALLENGE_LEN) != 0) {
		*cause = xstrdup("protocol error: expected a challenge from "
		    "the server");
		goto out;
	}
	body = (unsigned char *)msg + AUTH_CHALLENGE_LEN;
	blen = len - AUTH_CHALLENGE_LEN;
	if (flags & AUTH_CLIENT_LEGACY) {
		if (auth_mac(EVP_md5(), key, keylen, body, blen,
		    answer) == -1) {
			*cause = xstrdup("HMAC-MD5 unavailable");
			goto out;
		}
		alen = AUTH_MD5_LEN;
	} else {
		if (blen == AUTH_LEGACY_NONCE_LEN) {
			*cause = xstrdup("the server offers only the legacy "
			    "MD5 handshake");
			goto out;
		}
		if (blen < AUTH_LEGACY_NONCE_LEN ||
		    memcmp(body, AUTH_SHA256_TAG, AUTH_TAG_LEN) != 0) {
			*cause = xstrdup("the server asks for an unsupported "
			    "digest");
			goto out;
		}
		memcpy(answer, AUTH_SHA256_TAG, AUTH_TAG_LEN);
		if (auth_mac(EVP_sha256(), key, keylen, body, blen,
		    answer + AUTH_TAG_LEN) == -1) {
			*cause = xstrdup("HMAC-SHA256 unavailable");
			goto out;
		}
		alen = AUTH_MODERN_ANSWER_LEN;
	}
	if (auth_client_send(fd, answer, alen, "our digest", cause) == -1)
		goto out;
	free(msg);
	msg = NULL;

	if (auth_client_recv(fd, &msg, &len, "the server's verdict",
	    cause) == -1)
		goto out;
	if (len == AUTH_VERDICT_LEN &&
	    memcmp(msg, AUTH_WELCOME, AUTH_VERDICT_LEN) == 0)
		rv = 0;
	else if (len == AUTH_VERDICT_LEN &&
	    memcmp(msg, AUTH_FAILURE, AUTH_VERDICT_LEN) == 0)
		*cause = xstrdup("the server rejected our digest (wrong "
		    "authkey?)");
	else
		*cause = xstrdup("protocol error: unexpected verdict from "
		    "the server");
out:
	free(msg);
	return rv;
}

/*
 * Steps 4-6 as the client: challenge the server with nonce and check its
 * answer, then tell it the verdict.
 */
static int
auth_client_challenge(int fd, const unsigned char *key, size_t keylen,
    int flags, const unsigned char *nonce, size_t noncelen, char **cause)
{
	struct buf	 chal = BUF_INIT;
	const EVP_MD	*md;
	const char	*verdict;
	char		*msg = NULL;
	size_t		 len, skip;
	int		 ok;

	buf_append(&chal, AUTH_CHALLENGE, AUTH_CHALLENGE_LEN);
	if (!(flags & AUTH_CLIENT_LEGACY))
		buf_append(&chal, AUTH_SHA256_TAG, AUTH_TAG_LEN);
	buf_append(&chal, nonce, noncelen);
	if (auth_client_send(fd, buf_head(&chal), buf_used(&chal),
	    "our challenge", cause) == -1)
		goto fail;
	if (auth_client_recv(fd, &msg, &len, "the server's answer",
	    cause) == -1)
		goto fail;

	if (flags & AUTH_CLIENT_LEGACY) {
		md = EVP_md5();
		skip = 0;
		ok = len == AUTH_MD5_LEN;
	} else {
		md = EVP_sha256();
		skip = AUTH_TAG_LEN;
		ok = len == AUTH_MODERN_ANSWER_LEN &&
		    memcmp(msg, AUTH_SHA256_TAG, AUTH_TAG_LEN) == 0;
	}
	ok = ok && auth_verify(md, key, keylen,
	    buf_head(&chal) + AUTH_CHALLENGE_LEN,
	    buf_used(&chal) - AUTH_CHALLENGE_LEN,
	    (unsigned char *)msg + skip, len - skip);
	verdict = ok ? AUTH_WELCOME : AUTH_FAILURE;
	if (auth_client_send(fd, verdict, AUTH_VERDICT_LEN, "our verdict",
	    cause) == -1)
		goto fail;
	if (!ok) {
		*cause = xstrdup("the server failed to prove it knows the "
		    "authkey");
		goto fail;
	}
	free(msg);
	buf_free(&chal);
	return 0;

fail:
	free(msg);
	buf_free(&chal);
	return -1;
}

/* Run the client handshake with a chosen nonce (tests; auth_private.h). */
int
auth_client_handshake_with_nonce(int fd, const unsigned char *key,
    size_t keylen, int flags, const unsigned char *nonce, size_t noncelen,
    char **cause)
{
	struct auth_timeouts	t;
	int			rv;

	auth_timeouts_set(fd, &t, auth_client_timeout_ms);
	rv = auth_client_answer(fd, key, keylen, flags, cause);
	if (rv == 0)
		rv = auth_client_challenge(fd, key, keylen, flags, nonce,
		    noncelen, cause);
	auth_timeouts_restore(fd, &t);
	return rv;
}

/*
 * Authenticate as a client on the connected socket fd, each read and write
 * bounded by AUTH_TIMEOUT_MS (the socket's own timeouts are restored).
 * The default is the modern {sha256} handshake only; AUTH_CLIENT_LEGACY
 * behaves exactly like a Python 3.11 client (HMAC-MD5 answer, 20-byte
 * challenge). Returns 0, or -1 with cause set.
 */
int
auth_client_handshake(int fd, const unsigned char *key, size_t keylen,
    int flags, char **cause)
{
	unsigned char	nonce[AUTH_NONCE_LEN];
	size_t		n;
	int		rv;

	n = (flags & AUTH_CLIENT_LEGACY) ? AUTH_LEGACY_NONCE_LEN :
	    AUTH_NONCE_LEN;
	auth_random(nonce, n);
	rv = auth_client_handshake_with_nonce(fd, key, keylen, flags, nonce,
	    n, cause);
	OPENSSL_cleanse(nonce, sizeof nonce);
	return rv;
}
