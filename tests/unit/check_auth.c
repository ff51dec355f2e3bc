/*
 * Unit tests of ipc/auth.c and ipc/authkey.c: the server state machine
 * replayed against the byte-exact transcripts T1-T4 of the protocol note,
 * the refusals (bad key, legacy off, downgrade, odd digests, oversize), the
 * admin role, the blocking client against scripted peers and against the
 * state machine, and authkey files.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/buf.h"
#include "ipc/auth.h"
#include "ipc/auth_private.h"
#include "ipc/authkey.h"
#include "ipc/frame.h"

#define KEY		((const unsigned char *)"mpsup-test-key")
#define KEYLEN		14
#define ADMIN		((const unsigned char *)"mpsup-admin-key-0123")
#define ADMINLEN	20
#define THIRD		((const unsigned char *)"mpsup-third-client-key")
#define THIRDLEN	22

/* The server's keys: KEY (index 0), then admin (1) and THIRD (2) if given. */
static size_t
keys_of(struct auth_key k[3], const unsigned char *admin, size_t adminlen,
    int third)
{
	size_t	n = 0;

	k[n].key = KEY;
	k[n++].len = KEYLEN;
	if (admin != NULL) {
		k[n].key = admin;
		k[n++].len = adminlen;
	}
	if (third) {
		k[n].key = THIRD;
		k[n++].len = THIRDLEN;
	}
	return n;
}

/* A server knowing KEY and, if not NULL, admin. */
static struct auth_server *
server_new(const unsigned char *admin, size_t adminlen, int legacy)
{
	struct auth_key	k[3];

	return auth_server_new(k, keys_of(k, admin, adminlen, 0), legacy);
}

/* The MACs of the note's section 3, verified there against OpenSSL. */
#define T_MD5_A0_B3	"8c18cb55c5dbc5cae928681061fe8cfe"
#define T_MD5_C0_D3	"ea0988abd66e7cf96504b97a08a25721"
#define T_MD5_SHA_A0_C7	"1f90f651dd55c293cf1a25948e54f076"
#define T_SHA_A0_C7	"45f814ed5ebf776d306ec3fabb019498" \
			"7fe6dc67857538e5ceecd7d1f9aad8b7"
#define T_SHA_C0_E7	"4de8258edb2a658fc11374368d82c514" \
			"b6482df1845495263db0a4263607ac60"

/* p[i] = start + i: the note's nonces a0.., c0... */
static void
seq(unsigned char *p, unsigned start, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = start + i;
}

/* Decode hex into out; returns the byte count. */
static size_t
unhex(const char *hex, unsigned char *out)
{
	size_t		n = 0;
	unsigned	v;

	while (hex[0] != '\0' && hex[1] != '\0') {
		ck_assert_int_eq(sscanf(hex, "%2x", &v), 1);
		out[n++] = v;
		hex += 2;
	}
	return n;
}

/* out = prefix || p; returns the length. */
static size_t
cat(unsigned char *out, const char *prefix, const void *p, size_t n)
{
	size_t	pl = strlen(prefix);

	memcpy(out, prefix, pl);
	memcpy(out + pl, p, n);
	return pl + n;
}

/* out = prefix || hex-decoded; returns the length. */
static size_t
cat_hex(unsigned char *out, const char *prefix, const char *hex)
{
	unsigned char	tmp[256];

	return cat(out, prefix, tmp, unhex(hex, tmp));
}

/* Take the next whole frame from b and check its payload is want. */
static void
expect_frame(struct buf *b, const void *want, size_t n)
{
	const void	*payload;
	const char	*err = NULL;
	size_t		 plen, flen;

	ck_assert_int_eq(frame_peek(buf_head(b), buf_used(b), 1 << 20,
	    &payload, &plen, &flen, &err), 1);
	ck_assert_uint_eq(plen, n);
	ck_assert_mem_eq(payload, want, n);
	buf_consume(b, flen);
}

/* The server's first frame with nonce a0..c7, header included. */
static const unsigned char T3_CHALLENGE_WIRE[] =
    "\x00\x00\x00\x3b#CHALLENGE#{sha256}"
    "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf"
    "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf"
    "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7";

/* A server with the note's nonce a0..c7, already started and checked. */
static struct auth_server *
started(const unsigned char *admin, size_t adminlen, int legacy,
    struct buf *out)
{
	struct auth_server	*as;
	struct auth_key		 k[3];
	unsigned char		 nonce[AUTH_NONCE_LEN];

	seq(nonce, 0xa0, sizeof nonce);
	as = auth_server_new_with_nonce(k, keys_of(k, admin, adminlen,
	    admin != NULL), legacy, nonce);
	auth_server_start(as, out);
	ck_assert_uint_eq(buf_used(out), 63);
	ck_assert_mem_eq(buf_head(out), T3_CHALLENGE_WIRE, 63);
	buf_consume(out, 63);
	return as;
}

/* Feed msg and expect result r (and reason substring why on failure). */
static void
feed(struct auth_server *as, const void *msg, size_t n, struct buf *out,
    int r, const char *why)
{
	const char	*err = NULL;

	ck_assert_int_eq(auth_server_feed(as, msg, n, out, &err), r);
	if (why != NULL) {
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, why) != NULL, "reason \"%s\"", err);
	}
}

/* HMAC(key, data) into out; returns its length. */
static size_t
mac(const EVP_MD *md, const unsigned char *key, size_t keylen,
    const void *data, size_t n, unsigned char *out)
{
	unsigned int	len;

	ck_assert_ptr_nonnull(HMAC(md, key, keylen, data, n, out, &len));
	return len;
}

START_TEST(test_t3_modern_client_byte_exact)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 m[256], nonce[AUTH_NONCE_LEN];
	size_t			 n;

	as = started(NULL, 0, 0, &out);
	n = cat_hex(m, "{sha256}", T_SHA_A0_C7);
	ck_assert_uint_eq(n, 40);
	feed(as, m, n, &out, AUTH_MORE, NULL);
	expect_frame(&out, "#WELCOME#", 9);
	ck_assert_uint_eq(buf_used(&out), 0);

	seq(nonce, 0xc0, sizeof nonce);
	n = cat(m, "#CHALLENGE#{sha256}", nonce, sizeof nonce);
	ck_assert_uint_eq(n, 59);
	feed(as, m, n, &out, AUTH_MORE, NULL);
	/* #05 of T3, header included. */
	ck_assert_uint_eq(buf_used(&out), 44);
	ck_assert_mem_eq(buf_head(&out), "\x00\x00\x00\x28{sha256}", 12);
	n = unhex(T_SHA_C0_E7, m);
	ck_assert_mem_eq(buf_head(&out) + 12, m, n);
	buf_consume(&out, 44);

	feed(as, "#WELCOME#", 9, &out, AUTH_OK, NULL);
	ck_assert_uint_eq(buf_used(&out), 0);
	ck_assert_int_eq(auth_server_key(as), 0);
	ck_assert_int_eq(auth_server_legacy(as), 0);
	auth_server_free(as);
	buf_free(&out);
}
END_TEST

START_TEST(test_t4_python311_client_byte_exact)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 m[256], want[64];
	unsigned char		 nonce[AUTH_LEGACY_NONCE_LEN];
	size_t			 n;

	as = started(NULL, 0, 1, &out);
	/* A 3.11 client MACs "{sha256}"+nonce with raw MD5. */
	n = unhex(T_MD5_SHA_A0_C7, m);
	feed(as, m, n, &out, AUTH_MORE, NULL);
	expect_frame(&out, "#WELCOME#", 9);

	seq(nonce, 0xc0, sizeof nonce);
	n = cat(m, "#CHALLENGE#", nonce, sizeof nonce);
	ck_assert_uint_eq(n, 31);
	feed(as, m, n, &out, AUTH_MORE, NULL);
	expect_frame(&out, want, unhex(T_MD5_C0_D3, want));
	feed(as, "#WELCOME#", 9, &out, AUTH_OK, NULL);
	ck_assert_int_eq(auth_server_legacy(as), 1);
	auth_server_free(as);
	buf_free(&out);
}
END_TEST

START_TEST(test_legacy_refused_when_off)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 m[64];

	as = started(NULL, 0, 0, &out);
	feed(as, m, unhex(T_MD5_SHA_A0_C7, m), &out, AUTH_FAIL,
	    "legacy MD5 client refused (set legacy_md5 = yes");
	expect_frame(&out, "#FAILURE#", 9);
	ck_assert_uint_eq(buf_used(&out), 0);
	feed(as, "#WELCOME#", 9, &out, AUTH_FAIL, "already finished");
	auth_server_free(as);
	buf_free(&out);
}
END_TEST

START_TEST(test_bad_key_refused)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 m[256], body[48];
	size_t			 n;

	/* Right form, wrong key: SHA-256. */
	as = started(NULL, 0, 1, &out);
	memcpy(body, "{sha256}", 8);
	seq(body + 8, 0xa0, 40);
	n = cat(m, "{sha256}", "", 0);
	n += mac(EVP_sha256(), (const unsigned char *)"wrong-key-wrong!", 16,
	    body, 48, m + n);
	feed(as, m, n, &out, AUTH_FAIL, "digest mismatch");
	expect_frame(&out, "#FAILURE#", 9);
	auth_server_free(as);

	/* And MD5 in legacy mode. */
	as = started(NULL, 0, 1, &out);
	n = mac(EVP_md5(), (const unsigned char *)"wrong-key-wrong!", 16, body,
	    48, m);
	feed(as, m, n, &out, AUTH_FAIL, "digest mismatch");
	expect_frame(&out, "#FAILURE#", 9);
	auth_server_free(as);

	/* One flipped bit of the right MAC. */
	as = started(NULL, 0, 0, &out);
	n = cat_hex(m, "{sha256}", T_SHA_A0_C7);
	m[n - 1] ^= 1;
	feed(as, m, n, &out, AUTH_FAIL, "digest mismatch");
	expect_frame(&out, "#FAILURE#", 9);
	auth_server_free(as);
	buf_free(&out);
}
END_TEST

START_TEST(test_other_digests_refused)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 m[256], body[48];
	size_t			 n;

	seq(body + 8, 0xa0, 40);
	memcpy(body, "{sha256}", 8);

	/* {sha384} is on Python's allow-list but not on mpsup's. */
	as = started(NULL, 0, 1, &out);
	n = cat(m, "{sha384}", "", 0);
	n += mac(EVP_sha384(), KEY, KEYLEN, body, 48, m + n);
	feed(as, m, n, &out, AUTH_FAIL, "unsupported digest");
	expect_frame(&out, "#FAILURE#", 9);
	auth_server_free(as);

	/* {md5} with a correct MAC. */
	as = started(NULL, 0, 1, &out);
	n = cat(m, "{md5}", "", 0);
	n += mac(EVP_md5(), KEY, KEYLEN, body, 48, m + n);
	feed(as, m, n, &out, AUTH_FAIL, "unsupported digest");
	expect_frame(&out, "#FAILURE#", 9);
	auth_server_free(as);

	/* Raw SHA-256 without the prefix (32 bytes). */
	as = started(NULL, 0, 1, &out);
	n = mac(EVP_sha256(), KEY, KEYLEN, body, 48, m);
	feed(as, m, n, &out, AUTH_FAIL, "unsupported digest");
	expect_frame(&out, "#FAILURE#", 9);
	auth_server_free(as);

	/* An empty response. */
	as = started(NULL, 0, 1, &out);
	feed(as, "", 0, &out, AUTH_FAIL, "unsupported digest");
	expect_frame(&out, "#FAILURE#", 9);
	ck_assert_uint_eq(buf_used(&out), 0);
	auth_server_free(as);
	buf_free(&out);
}
END_TEST

/* A server past step 3, welcomed by a modern (or legacy) response. */
static struct auth_server *
welcomed(int legacy_response, struct buf *out)
{
	struct auth_server	*as;
	unsigned char		 m[64];
	size_t			 n;

	as = started(NULL, 0, 1, out);
	if (legacy_response)
		n = unhex(T_MD5_SHA_A0_C7, m);
	else
		n = cat_hex(m, "{sha256}", T_SHA_A0_C7);
	feed(as, m, n, out, AUTH_MORE, NULL);
	expect_frame(out, "#WELCOME#", 9);
	return as;
}

START_TEST(test_downgrade_refused)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 m[64], nonce[20];
	size_t			 n;

	as = welcomed(0, &out);
	seq(nonce, 0xc0, 20);
	n = cat(m, "#CHALLENGE#", nonce, 20);
	feed(as, m, n, &out, AUTH_FAIL,
	    "downgrade to legacy challenge refused");
	/* Python sends nothing when a challenge is refused. */
	ck_assert_uint_eq(buf_used(&out), 0);
	auth_server_free(as);
	buf_free(&out);
}
END_TEST

START_TEST(test_legacy_client_may_upgrade_challenge)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 m[64], nonce[40];
	size_t			 n;

	as = welcomed(1, &out);
	seq(nonce, 0xc0, 40);
	n = cat(m, "#CHALLENGE#{sha256}", nonce, 40);
	feed(as, m, n, &out, AUTH_MORE, NULL);
	n = cat_hex(m, "{sha256}", T_SHA_C0_E7);
	expect_frame(&out, m, n);
	feed(as, "#WELCOME#", 9, &out, AUTH_OK, NULL);
	auth_server_free(as);
	buf_free(&out);
}
END_TEST

START_TEST(test_malformed_challenges_refused)
{
	static const struct {
		const char	*msg;
		const char	*why;
	} bad[] = {
		{ "#CHALLENG", "malformed challenge" },
		{ "#challenge#{sha256}0123456789abcdef01234", "malformed" },
		{ "#CHALLENGE#0123456789", "challenge too short" },
		{ "#CHALLENGE#{sha512}0123456789abcdef01234", "unsupported" },
		{ "#CHALLENGE#{md5}0123456789abcdef0123456789", "unsupported" },
		{ "#CHALLENGE#0123456789abcdef0123456789ab", "unsupported" },
	};
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	size_t			 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		as = welcomed(0, &out);
		feed(as, bad[i].msg, strlen(bad[i].msg), &out, AUTH_FAIL,
		    bad[i].why);
		ck_assert_uint_eq(buf_used(&out), 0);
		auth_server_free(as);
	}
	buf_free(&out);
}
END_TEST

START_TEST(test_oversized_handshake_message)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 m[AUTH_MSG_MAX + 1], want[64];
	size_t			 n;

	/* 256 bytes is Python's limit and is fine ... */
	as = welcomed(0, &out);
	memset(m, 'x', sizeof m);
	cat(m, "#CHALLENGE#{sha256}", "", 0);
	feed(as, m, AUTH_MSG_MAX, &out, AUTH_MORE, NULL);
	memcpy(want, "{sha256}", 8);
	n = 8 + mac(EVP_sha256(), KEY, KEYLEN, m + 11, AUTH_MSG_MAX - 11,
	    want + 8);
	expect_frame(&out, want, n);
	auth_server_free(as);

	/* ... 257 is refused, in any state, with no frame. */
	as = welcomed(0, &out);
	feed(as, m, AUTH_MSG_MAX + 1, &out, AUTH_FAIL, "too large");
	ck_assert_uint_eq(buf_used(&out), 0);
	auth_server_free(as);
	as = started(NULL, 0, 1, &out);
	feed(as, m, AUTH_MSG_MAX + 1, &out, AUTH_FAIL, "too large");
	ck_assert_uint_eq(buf_used(&out), 0);
	auth_server_free(as);
	buf_free(&out);
}
END_TEST

START_TEST(test_client_verdicts)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 m[64], nonce[40];
	size_t			 n;

	seq(nonce, 0xc0, 40);
	n = cat(m, "#CHALLENGE#{sha256}", nonce, 40);

	as = welcomed(0, &out);
	feed(as, m, n, &out, AUTH_MORE, NULL);
	buf_reset(&out);
	feed(as, "#FAILURE#", 9, &out, AUTH_FAIL, "client rejected");
	auth_server_free(as);

	as = welcomed(0, &out);
	feed(as, m, n, &out, AUTH_MORE, NULL);
	buf_reset(&out);
	feed(as, "#WELCOME", 8, &out, AUTH_FAIL, "expected #WELCOME#");
	auth_server_free(as);

	/* Feeding before start is a failure, not a crash. */
	as = server_new(NULL, 0, 0);
	feed(as, "#WELCOME#", 9, &out, AUTH_FAIL, "not started");
	auth_server_free(as);
	buf_free(&out);
}
END_TEST

/* Authenticate against a server with an admin key using key k. */
static void
role_check(const unsigned char *k, size_t klen, int legacy, int want_role)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	unsigned char		 body[48], m[128], want[64], nonce[40];
	size_t			 n;

	seq(body + 8, 0xa0, 40);
	memcpy(body, "{sha256}", 8);
	as = started(ADMIN, ADMINLEN, 1, &out);
	if (legacy)
		n = mac(EVP_md5(), k, klen, body, 48, m);
	else {
		n = cat(m, "{sha256}", "", 0);
		n += mac(EVP_sha256(), k, klen, body, 48, m + n);
	}
	feed(as, m, n, &out, AUTH_MORE, NULL);
	expect_frame(&out, "#WELCOME#", 9);
	ck_assert_int_eq(auth_server_key(as), want_role);

	/* The answer to the client's challenge uses the key that matched. */
	seq(nonce, 0xc0, legacy ? 20 : 40);
	if (legacy) {
		n = cat(m, "#CHALLENGE#", nonce, 20);
		feed(as, m, n, &out, AUTH_MORE, NULL);
		n = mac(EVP_md5(), k, klen, nonce, 20, want);
	} else {
		n = cat(m, "#CHALLENGE#{sha256}", nonce, 40);
		feed(as, m, n, &out, AUTH_MORE, NULL);
		memcpy(want, "{sha256}", 8);
		n = 8 + mac(EVP_sha256(), k, klen, m + 11, 48, want + 8);
	}
	expect_frame(&out, want, n);
	feed(as, "#WELCOME#", 9, &out, AUTH_OK, NULL);
	ck_assert_int_eq(auth_server_key(as), want_role);
	auth_server_free(as);
	buf_free(&out);
}

START_TEST(test_admin_role)
{
	role_check(ADMIN, ADMINLEN, 0, 1);
	role_check(KEY, KEYLEN, 0, 0);
	role_check(ADMIN, ADMINLEN, 1, 1);
	role_check(KEY, KEYLEN, 1, 0);
	/* A third client's key is told from the other two. */
	role_check(THIRD, THIRDLEN, 0, 2);
	role_check(THIRD, THIRDLEN, 1, 2);
}
END_TEST

START_TEST(test_nonce_is_random)
{
	struct auth_server	*a, *b;
	struct buf		 oa = BUF_INIT, ob = BUF_INIT;

	a = server_new(NULL, 0, 0);
	b = server_new(NULL, 0, 0);
	auth_server_start(a, &oa);
	auth_server_start(b, &ob);
	ck_assert_uint_eq(buf_used(&oa), 63);
	ck_assert_mem_eq(buf_head(&oa), "\x00\x00\x00\x3b#CHALLENGE#{sha256}",
	    23);
	ck_assert(memcmp(buf_head(&oa) + 23, buf_head(&ob) + 23, 40) != 0);
	auth_server_free(a);
	auth_server_free(b);
	buf_free(&oa);
	buf_free(&ob);
}
END_TEST

/*
 * Run the client handshake in a child on fd. It exits 0 on success, 1 on a
 * failure whose cause contains expect, 2 on any other outcome.
 */
static pid_t
client_child(int fd, int other, const unsigned char *k, size_t klen,
    int flags, const unsigned char *nonce, size_t noncelen,
    const char *expect)
{
	char	*cause = NULL;
	pid_t	 pid;
	int	 r;

	if ((pid = fork()) != 0) {
		ck_assert_int_ne(pid, -1);
		close(fd);
		return pid;
	}
	close(other);
	if (nonce != NULL)
		r = auth_client_handshake_with_nonce(fd, k, klen, flags, nonce,
		    noncelen, &cause);
	else
		r = auth_client_handshake(fd, k, klen, flags, &cause);
	if (r == 0)
		_exit(expect == NULL ? 0 : 2);
	if (expect != NULL && strstr(cause, expect) != NULL)
		_exit(1);
	fprintf(stderr, "client: %s\n", cause);
	_exit(2);
}

/* Wait for a client child and check its exit code. */
static void
client_wait(pid_t pid, int want)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), want);
}

/* Receive one handshake frame on fd and check it. */
static void
recv_expect(int fd, const void *want, size_t n)
{
	char	*msg = NULL, *cause = NULL;
	size_t	 len;

	ck_assert_msg(frame_recv_fd(fd, AUTH_MSG_MAX, &msg, &len,
	    &cause) == 0, "recv: %s", cause);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(msg, want, n);
	free(msg);
}

START_TEST(test_client_t2_legacy_byte_exact)
{
	unsigned char	m[64], mine[20], theirs[20];
	size_t		n;
	pid_t		pid;
	int		sv[2];

	/* We are the 3.11 Listener of T2; the client's nonce is a0..b3. */
	seq(mine, 0xa0, 20);
	seq(theirs, 0xc0, 20);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = client_child(sv[1], sv[0], KEY, KEYLEN, AUTH_CLIENT_LEGACY, mine,
	    20, NULL);
	n = cat(m, "#CHALLENGE#", theirs, 20);
	ck_assert_int_eq(frame_send_fd(sv[0], m, n), 0);
	recv_expect(sv[0], m, unhex(T_MD5_C0_D3, m));
	ck_assert_int_eq(frame_send_fd(sv[0], "#WELCOME#", 9), 0);
	n = cat(m, "#CHALLENGE#", mine, 20);
	recv_expect(sv[0], m, n);
	n = unhex(T_MD5_A0_B3, m);
	ck_assert_int_eq(frame_send_fd(sv[0], m, n), 0);
	recv_expect(sv[0], "#WELCOME#", 9);
	client_wait(pid, 0);
	close(sv[0]);
}
END_TEST

START_TEST(test_client_t3_modern_byte_exact)
{
	unsigned char	m[64], mine[40], theirs[40];
	size_t		n;
	pid_t		pid;
	int		sv[2];

	/* We are the server of T3; the client's nonce is c0..e7. */
	seq(mine, 0xc0, 40);
	seq(theirs, 0xa0, 40);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = client_child(sv[1], sv[0], KEY, KEYLEN, 0, mine, 40, NULL);
	ck_assert_int_eq(write(sv[0], T3_CHALLENGE_WIRE, 63), 63);
	recv_expect(sv[0], m, cat_hex(m, "{sha256}", T_SHA_A0_C7));
	ck_assert_int_eq(frame_send_fd(sv[0], "#WELCOME#", 9), 0);
	recv_expect(sv[0], m, cat(m, "#CHALLENGE#{sha256}", mine, 40));
	n = cat_hex(m, "{sha256}", T_SHA_C0_E7);
	ck_assert_int_eq(frame_send_fd(sv[0], m, n), 0);
	recv_expect(sv[0], "#WELCOME#", 9);
	client_wait(pid, 0);
	close(sv[0]);
}
END_TEST

/* Write out's raw bytes (whole frames) to fd and empty it. */
static void
send_raw(int fd, struct buf *out)
{
	if (buf_used(out) > 0)
		ck_assert_int_eq(send(fd, buf_head(out), buf_used(out),
		    MSG_NOSIGNAL), (ssize_t)buf_used(out));
	buf_reset(out);
}

/* Play the server side of the state machine on fd until it decides. */
static int
drive_server(struct auth_server *as, int fd, const char **err)
{
	struct buf	 out = BUF_INIT;
	char		*msg, *cause;
	size_t		 len;
	int		 r = AUTH_MORE;

	auth_server_start(as, &out);
	while (r == AUTH_MORE) {
		send_raw(fd, &out);
		if (frame_recv_fd(fd, AUTH_MSG_MAX, &msg, &len, &cause) == -1) {
			*err = "peer went away";
			free(cause);
			r = AUTH_FAIL;
			break;
		}
		r = auth_server_feed(as, msg, len, &out, err);
		free(msg);
	}
	/* The last frames (#FAILURE#), as a real server would send them. */
	send_raw(fd, &out);
	buf_free(&out);
	return r;
}

/*
 * The client against the state machine: client key and flags, server
 * legacy switch, the expected server result and the client's exit code.
 */
static void
client_vs_server(const unsigned char *k, size_t klen, int flags, int legacy,
    int want, const char *server_why, int client_exit, const char *client_why)
{
	struct auth_server	*as;
	const char		*err = NULL;
	pid_t			 pid;
	int			 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = client_child(sv[1], sv[0], k, klen, flags, NULL, 0, client_why);
	as = server_new(ADMIN, ADMINLEN, legacy);
	ck_assert_int_eq(drive_server(as, sv[0], &err), want);
	if (server_why != NULL)
		ck_assert_msg(err != NULL && strstr(err, server_why) != NULL,
		    "server reason \"%s\"", err);
	close(sv[0]);
	client_wait(pid, client_exit);
	auth_server_free(as);
}

START_TEST(test_client_against_server)
{
	/* Modern client: works with legacy off and on. */
	client_vs_server(KEY, KEYLEN, 0, 0, AUTH_OK, NULL, 0, NULL);
	client_vs_server(KEY, KEYLEN, 0, 1, AUTH_OK, NULL, 0, NULL);
	client_vs_server(ADMIN, ADMINLEN, 0, 0, AUTH_OK, NULL, 0, NULL);
	/* Legacy client: only with legacy on. */
	client_vs_server(KEY, KEYLEN, AUTH_CLIENT_LEGACY, 1, AUTH_OK, NULL, 0,
	    NULL);
	client_vs_server(KEY, KEYLEN, AUTH_CLIENT_LEGACY, 0, AUTH_FAIL,
	    "legacy_md5 = yes", 1, "rejected our digest");
	/* Wrong key. */
	client_vs_server((const unsigned char *)"not-the-key-at-all", 18, 0, 1,
	    AUTH_FAIL, "digest mismatch", 1, "rejected our digest");
}
END_TEST

START_TEST(test_client_rejects_impostor_server)
{
	unsigned char	m[64], theirs[40];
	char		*msg, *cause;
	size_t		n, len;
	pid_t		pid;
	int		sv[2];

	/* A server that welcomes anything but does not know the key. */
	seq(theirs, 0xa0, 40);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = client_child(sv[1], sv[0], KEY, KEYLEN, 0, NULL, 0,
	    "failed to prove");
	n = cat(m, "#CHALLENGE#{sha256}", theirs, 40);
	ck_assert_int_eq(frame_send_fd(sv[0], m, n), 0);
	ck_assert_int_eq(frame_recv_fd(sv[0], 256, &msg, &len, &cause), 0);
	free(msg);
	ck_assert_int_eq(frame_send_fd(sv[0], "#WELCOME#", 9), 0);
	ck_assert_int_eq(frame_recv_fd(sv[0], 256, &msg, &len, &cause), 0);
	free(msg);
	n = cat_hex(m, "{sha256}", T_SHA_C0_E7);
	ck_assert_int_eq(frame_send_fd(sv[0], m, n), 0);
	recv_expect(sv[0], "#FAILURE#", 9);
	client_wait(pid, 1);
	close(sv[0]);
}
END_TEST

START_TEST(test_client_refuses_legacy_challenge_by_default)
{
	unsigned char	m[64], theirs[20];
	size_t		n;
	pid_t		pid;
	int		sv[2];

	seq(theirs, 0xc0, 20);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = client_child(sv[1], sv[0], KEY, KEYLEN, 0, NULL, 0,
	    "legacy MD5");
	n = cat(m, "#CHALLENGE#", theirs, 20);
	ck_assert_int_eq(frame_send_fd(sv[0], m, n), 0);
	client_wait(pid, 1);
	close(sv[0]);
}
END_TEST

START_TEST(test_client_times_out)
{
	pid_t	pid;
	int	sv[2];

	/* A silent server: the client gives up instead of hanging. */
	auth_client_timeout_ms = 200;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = client_child(sv[1], sv[0], KEY, KEYLEN, 0, NULL, 0, "timed out");
	client_wait(pid, 1);
	close(sv[0]);
}
END_TEST

/* A fresh temporary directory for key files. */
static char *
tmpdir(void)
{
	static char	dir[64];

	strcpy(dir, "/tmp/check_auth.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

/* Remove dir and the files in it. */
static void
rmtree(const char *dir)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*de;

	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path) == -1)
			rmdir(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Count the entries of dir. */
static int
count_entries(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0))
			n++;
	closedir(d);
	return n;
}

/* Write a file with the given mode. */
static void
write_file(const char *path, const char *text, size_t n, mode_t mode)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Expect authkey_load(path, 0) to fail with exactly want. */
static void
load_fails(const char *path, const char *want)
{
	unsigned char	*key = NULL;
	char		*cause = NULL;
	size_t		 len;

	ck_assert_int_eq(authkey_load(path, 0, &key, &len, &cause), -1);
	ck_assert_str_eq(cause, want);
	free(cause);
}

START_TEST(test_authkey_created_when_missing)
{
	char		*dir = tmpdir(), path[256], text[128];
	unsigned char	*key, *again;
	char		*cause = NULL;
	size_t		 len, len2, i;
	struct stat	 st;
	int		 fd;

	snprintf(path, sizeof path, "%s/authkey", dir);
	umask(0);	/* the mode must not depend on it */
	ck_assert_msg(authkey_load(path, 1, &key, &len, &cause) == 0, "%s",
	    cause);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 65);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, text, sizeof text), 65);
	close(fd);
	ck_assert_int_eq(text[64], '\n');
	for (i = 0; i < 64; i++)
		ck_assert(strchr("0123456789abcdef", text[i]) != NULL);
	ck_assert_uint_eq(len, 64);
	ck_assert_mem_eq(key, text, 64);
	/* No temporary file is left behind. */
	ck_assert_int_eq(count_entries(dir), 1);

	/* Loading again gives the same key; create does not replace it. */
	ck_assert_int_eq(authkey_load(path, 1, &again, &len2, &cause), 0);
	ck_assert_uint_eq(len2, 64);
	ck_assert_mem_eq(again, key, 64);
	authkey_free(key, len);
	authkey_free(again, len2);
	rmtree(dir);
}
END_TEST

START_TEST(test_authkey_missing_without_create)
{
	char	*dir = tmpdir(), path[256], want[300];

	snprintf(path, sizeof path, "%s/nokey", dir);
	snprintf(want, sizeof want, "%s: No such file or directory", path);
	load_fails(path, want);
	ck_assert_int_eq(access(path, F_OK), -1);
	rmtree(dir);
}
END_TEST

START_TEST(test_authkey_permissions)
{
	static const mode_t	 readable[] = { 0640, 0604, 0644, 0660 };
	char			*dir = tmpdir(), path[256], want[400];
	const char		*k = "0123456789abcdef0123456789abcdef\n";
	unsigned char		*key;
	char			*cause = NULL;
	size_t			 i, len;

	snprintf(path, sizeof path, "%s/authkey", dir);
	snprintf(want, sizeof want, "%s: authkey file is readable by group or "
	    "others (chmod 600)", path);
	for (i = 0; i < sizeof readable / sizeof readable[0]; i++) {
		write_file(path, k, strlen(k), readable[i]);
		load_fails(path, want);
	}
	snprintf(want, sizeof want, "%s: authkey file is writable by group or "
	    "others (chmod 600)", path);
	write_file(path, k, strlen(k), 0620);
	load_fails(path, want);
	write_file(path, k, strlen(k), 0602);
	load_fails(path, want);
	/* 0400 is fine. */
	write_file(path, k, strlen(k), 0400);
	ck_assert_int_eq(authkey_load(path, 0, &key, &len, &cause), 0);
	ck_assert_uint_eq(len, 32);
	authkey_free(key, len);
	/* A directory is not a key file. */
	snprintf(path, sizeof path, "%s/sub", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(want, sizeof want, "%s: authkey file is not a regular file",
	    path);
	load_fails(path, want);
	rmtree(dir);
}
END_TEST

/*
 * A key file of another user (not root) is refused: its owner could open
 * it up or change the key. One of root's is fine. Needs root to chown;
 * elsewhere only the own-user case runs.
 */
START_TEST(test_authkey_owner)
{
	char		*dir = tmpdir(), path[256], want[400];
	const char	*k = "0123456789abcdef0123456789abcdef\n";
	unsigned char	*key;
	char		*cause = NULL;
	size_t		 len;

	snprintf(path, sizeof path, "%s/authkey", dir);
	write_file(path, k, strlen(k), 0600);
	ck_assert_int_eq(authkey_load(path, 0, &key, &len, &cause), 0);
	authkey_free(key, len);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, 65534, -1), 0);
		snprintf(want, sizeof want, "%s: authkey file is owned by uid "
		    "65534, not by mpsup's user (uid 0) or root (chown it)",
		    path);
		load_fails(path, want);
		ck_assert_int_eq(chown(path, 0, -1), 0);
		ck_assert_int_eq(authkey_load(path, 0, &key, &len, &cause), 0);
		authkey_free(key, len);
	}
	rmtree(dir);
}
END_TEST

START_TEST(test_authkey_content_rules)
{
	char		*dir = tmpdir(), path[256], want[400], big[5000];
	unsigned char	*key;
	char		*cause = NULL;
	size_t		 len;

	snprintf(path, sizeof path, "%s/authkey", dir);
	snprintf(want, sizeof want, "%s: authkey file is empty", path);
	write_file(path, "", 0, 0600);
	load_fails(path, want);
	write_file(path, " \n\t\r\n", 5, 0600);
	load_fails(path, want);

	snprintf(want, sizeof want, "%s: authkey is too short (15 bytes, at "
	    "least 16 needed)", path);
	write_file(path, "0123456789abcde\n", 16, 0600);
	load_fails(path, want);

	/* Trailing whitespace goes, leading whitespace stays. */
	write_file(path, " 123456789abcdef \r\n\t\v\f", 22, 0600);
	ck_assert_int_eq(authkey_load(path, 0, &key, &len, &cause), 0);
	ck_assert_uint_eq(len, 16);
	ck_assert_mem_eq(key, " 123456789abcdef", 16);
	authkey_free(key, len);

	/* Binary keys are fine. */
	write_file(path, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\xff\xfe\xfd"
	    "\xfc\xfb\xfa\xf9", 16, 0600);
	ck_assert_int_eq(authkey_load(path, 0, &key, &len, &cause), 0);
	ck_assert_uint_eq(len, 16);
	ck_assert_mem_eq(key, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\xff\xfe"
	    "\xfd\xfc\xfb\xfa\xf9", 16);
	authkey_free(key, len);

	memset(big, 'k', sizeof big);
	write_file(path, big, AUTHKEY_FILE_MAX, 0600);
	ck_assert_int_eq(authkey_load(path, 0, &key, &len, &cause), 0);
	ck_assert_uint_eq(len, AUTHKEY_FILE_MAX);
	authkey_free(key, len);
	write_file(path, big, AUTHKEY_FILE_MAX + 1, 0600);
	snprintf(want, sizeof want, "%s: authkey file is too large (more than "
	    "4096 bytes)", path);
	load_fails(path, want);
	rmtree(dir);
}
END_TEST

START_TEST(test_authkey_generate_refuses_overwrite)
{
	char		*dir = tmpdir(), path[256], path2[256], want[300];
	unsigned char	*k1, *k2, *k3;
	char		*cause = NULL;
	size_t		 l1, l2, l3;

	snprintf(path, sizeof path, "%s/k1", dir);
	snprintf(path2, sizeof path2, "%s/k2", dir);
	ck_assert_int_eq(authkey_generate(path, &cause), 0);
	ck_assert_int_eq(authkey_generate(path2, &cause), 0);
	ck_assert_int_eq(authkey_load(path, 0, &k1, &l1, &cause), 0);
	ck_assert_int_eq(authkey_load(path2, 0, &k2, &l2, &cause), 0);
	ck_assert(memcmp(k1, k2, 64) != 0);

	snprintf(want, sizeof want, "%s: already exists", path);
	ck_assert_int_eq(authkey_generate(path, &cause), -1);
	ck_assert_str_eq(cause, want);
	free(cause);
	ck_assert_int_eq(authkey_load(path, 0, &k3, &l3, &cause), 0);
	ck_assert_mem_eq(k1, k3, 64);
	ck_assert_int_eq(count_entries(dir), 2);
	authkey_free(k1, l1);
	authkey_free(k2, l2);
	authkey_free(k3, l3);
	rmtree(dir);
}
END_TEST

START_TEST(test_authkey_write_fd)
{
	char	text[128], *cause = NULL;
	int	p[2], i;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(authkey_write_fd(p[1], &cause), 0);
	close(p[1]);
	ck_assert_int_eq(read(p[0], text, sizeof text), 65);
	close(p[0]);
	ck_assert_int_eq(text[64], '\n');
	for (i = 0; i < 64; i++)
		ck_assert(strchr("0123456789abcdef", text[i]) != NULL);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite	*s = suite_create("auth");
	TCase	*tc;

	tc = tcase_create("server");
	tcase_add_test(tc, test_t3_modern_client_byte_exact);
	tcase_add_test(tc, test_t4_python311_client_byte_exact);
	tcase_add_test(tc, test_legacy_refused_when_off);
	tcase_add_test(tc, test_bad_key_refused);
	tcase_add_test(tc, test_other_digests_refused);
	tcase_add_test(tc, test_downgrade_refused);
	tcase_add_test(tc, test_legacy_client_may_upgrade_challenge);
	tcase_add_test(tc, test_malformed_challenges_refused);
	tcase_add_test(tc, test_oversized_handshake_message);
	tcase_add_test(tc, test_client_verdicts);
	tcase_add_test(tc, test_admin_role);
	tcase_add_test(tc, test_nonce_is_random);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_add_test(tc, test_client_t2_legacy_byte_exact);
	tcase_add_test(tc, test_client_t3_modern_byte_exact);
	tcase_add_test(tc, test_client_against_server);
	tcase_add_test(tc, test_client_rejects_impostor_server);
	tcase_add_test(tc, test_client_refuses_legacy_challenge_by_default);
	tcase_add_test(tc, test_client_times_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("authkey");
	tcase_add_test(tc, test_authkey_created_when_missing);
	tcase_add_test(tc, test_authkey_missing_without_create);
	tcase_add_test(tc, test_authkey_permissions);
	tcase_add_test(tc, test_authkey_owner);
	tcase_add_test(tc, test_authkey_content_rules);
	tcase_add_test(tc, test_authkey_generate_refuses_overwrite);
	tcase_add_test(tc, test_authkey_write_fd);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(auth_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
