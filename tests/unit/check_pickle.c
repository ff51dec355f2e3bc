/*
 * Unit tests of the pickle codec (ipc/pickle.h): the test vectors of the
 * protocol note (reference/mp-connection-protocol.md section 4.6) both
 * ways, every allow-listed opcode, every other byte refused by name,
 * truncation at every byte, the limits (depth, memo, output size, int
 * size), cycles, strict UTF-8, the bytes convention and
 * decode(encode(x)) == x.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"

static char	errbuf[512];

/* Append the bytes spelled by a hex string. */
static void
unhex(struct buf *b, const char *hex)
{
	unsigned int	v;
	char		c;

	ck_assert_msg(strlen(hex) % 2 == 0, "odd hex %s", hex);
	for (; *hex != '\0'; hex += 2) {
		ck_assert(sscanf(hex, "%2x", &v) == 1);
		c = (char)v;
		buf_append(b, &c, 1);
	}
}

/* The hex spelling of b, in a static buffer. */
static const char *
tohex(const struct buf *b)
{
	static char	s[8192];
	size_t		i;

	ck_assert(b->len * 2 < sizeof s);
	for (i = 0; i < b->len; i++)
		snprintf(s + 2 * i, 3, "%02x", (unsigned char)b->data[i]);
	s[2 * b->len] = '\0';
	return s;
}

/*
 * Decode a pickle; returns the JSON text (static, NUL-terminated) or NULL
 * with the message in errbuf. Checks that out is left alone on error.
 */
static const char *
decode_buf(const struct buf *in, size_t max_out)
{
	static struct buf	out;
	int			rc;

	buf_reset(&out);
	buf_append(&out, "pre", 3);
	errbuf[0] = '\0';
	rc = pickle_to_json(in->data, in->len, max_out, &out, errbuf,
	    sizeof errbuf);
	ck_assert_msg(memcmp(out.data, "pre", 3) == 0, "prefix clobbered");
	if (rc == -1) {
		ck_assert_msg(out.len == 3, "output written on error: %s",
		    errbuf);
		ck_assert_msg(errbuf[0] != '\0', "no error message");
		return NULL;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(jsontext_valid(out.data + 3, out.len - 3),
	    "invalid JSON: %.*s", (int)(out.len - 3), out.data + 3);
	buf_append(&out, "", 1);
	return out.data + 3;
}

static const char *
decode_hex(const char *hex)
{
	struct buf	 in = BUF_INIT;
	const char	*r;

	unhex(&in, hex);
	r = decode_buf(&in, 0);
	buf_free(&in);
	return r;
}

static void
assert_decodes(const char *hex, const char *json)
{
	const char	*got = decode_hex(hex);

	ck_assert_msg(got != NULL, "%s refused: %s", hex, errbuf);
	ck_assert_msg(strcmp(got, json) == 0, "%s gave %s, want %s", hex, got,
	    json);
}

static void
assert_refused_buf(const struct buf *in, size_t max_out, const char *what)
{
	const char	*got = decode_buf(in, max_out);

	ck_assert_msg(got == NULL, "%s accepted as %s", tohex(in), got);
	ck_assert_msg(strstr(errbuf, what) != NULL,
	    "%s: error '%s' does not mention '%s'", tohex(in), errbuf, what);
}

static void
assert_refused(const char *hex, const char *what)
{
	struct buf	in = BUF_INIT;

	unhex(&in, hex);
	assert_refused_buf(&in, 0, what);
	buf_free(&in);
}

/* Encode JSON text; returns the pickle as hex or NULL. */
static const char *
encode(const char *json)
{
	struct buf	 out = BUF_INIT;
	static char	 hex[8192];
	int		 rc;

	errbuf[0] = '\0';
	rc = pickle_from_json(json, strlen(json), &out, errbuf, sizeof errbuf);
	if (rc == -1) {
		ck_assert_uint_eq(out.len, 0);
		buf_free(&out);
		return NULL;
	}
	snprintf(hex, sizeof hex, "%s", tohex(&out));
	buf_free(&out);
	return hex;
}

struct vector {
	const char	*pickle;	/* hex */
	const char	*json;
};

/* Section 4.6: Python 3.11's own pickles at protocols 2, 4 and 5. */
static const struct vector python_vectors[] = {
	{ "80024e2e", "null" }, { "80044e2e", "null" }, { "80054e2e", "null" },
	{ "8002882e", "true" }, { "8004882e", "true" }, { "8005882e", "true" },
	{ "80024bff2e", "255" }, { "80044bff2e", "255" },
	{ "80054bff2e", "255" },
	{ "80024d00012e", "256" },
	{ "80049504000000000000004d00012e", "256" },
	{ "80059504000000000000004d00012e", "256" },
	{ "80024affffffff2e", "-1" },
	{ "80049506000000000000004affffffff2e", "-1" },
	{ "80059506000000000000004affffffff2e", "-1" },
	{ "80028a0500000080002e", "2147483648" },
	{ "80049508000000000000008a0500000080002e", "2147483648" },
	{ "80059508000000000000008a0500000080002e", "2147483648" },
	{ "80028a090000000000000080002e", "9223372036854775808" },
	{ "8004950c000000000000008a090000000000000080002e",
	    "9223372036854775808" },
	{ "8005950c000000000000008a090000000000000080002e",
	    "9223372036854775808" },
	{ "80028a090000000000000000ff2e", "-18446744073709551616" },
	{ "8004950c000000000000008a090000000000000000ff2e",
	    "-18446744073709551616" },
	{ "8005950c000000000000008a090000000000000000ff2e",
	    "-18446744073709551616" },
	{ "8002473ff80000000000002e", "1.5" },
	{ "8004950a00000000000000473ff80000000000002e", "1.5" },
	{ "8005950a00000000000000473ff80000000000002e", "1.5" },
	{ "80025802000000686971002e", "\"hi\"" },
	{ "80049506000000000000008c026869942e", "\"hi\"" },
	{ "80059506000000000000008c026869942e", "\"hi\"" },
	{ "80025806000000e4bda0e5a5bd71002e", "\"\xe4\xbd\xa0\xe5\xa5\xbd\"" },
	{ "8004950a000000000000008c06e4bda0e5a5bd942e",
	    "\"\xe4\xbd\xa0\xe5\xa5\xbd\"" },
	{ "8005950a000000000000008c06e4bda0e5a5bd942e",
	    "\"\xe4\xbd\xa0\xe5\xa5\xbd\"" },
	{ "800495060000000000000043026869942e", "{\"$bytes\":\"aGk=\"}" },
	{ "800595060000000000000043026869942e", "{\"$bytes\":\"aGk=\"}" },
	{ "8005950d000000000000009602000000000000006869942e",
	    "{\"$bytes\":\"aGk=\"}" },
	{ "80025d71004b01612e", "[1]" },
	{ "80049506000000000000005d944b01612e", "[1]" },
	{ "80059506000000000000005d944b01612e", "[1]" },
	{ "80025d7100284b014b02652e", "[1,2]" },
	{ "80049509000000000000005d94284b014b02652e", "[1,2]" },
	{ "80059509000000000000005d94284b014b02652e", "[1,2]" },
	{ "80024b014b024b038771002e", "[1,2,3]" },
	{ "80049509000000000000004b014b024b0387942e", "[1,2,3]" },
	{ "80059509000000000000004b014b024b0387942e", "[1,2,3]" },
	{ "8002284b014b024b034b047471002e", "[1,2,3,4]" },
	{ "8004950c00000000000000284b014b024b034b0474942e", "[1,2,3,4]" },
	{ "8005950c00000000000000284b014b024b034b0474942e", "[1,2,3,4]" },
	{ "80027d710058010000006171014b01732e", "{\"a\":1}" },
	{ "8004950a000000000000007d948c0161944b01732e", "{\"a\":1}" },
	{ "8005950a000000000000007d948c0161944b01732e", "{\"a\":1}" },
	{ "80048f942e", "[]" }, { "80058f942e", "[]" },
	{ "80049509000000000000008f94284b014b02902e", "[1,2]" },
	{ "80059509000000000000008f94284b014b02902e", "[1,2]" },
	{ "8004950600000000000000284b0191942e", "[1]" },
	{ "8005950600000000000000284b0191942e", "[1]" },
	{ "8004951e000000000000005d94288c0b48656c6c6f20576f726c64944b644306e4bd"
	  "a0e5a5bd94652e", "[\"Hello World\",100,{\"$bytes\":\"5L2g5aW9\"}]" },
	{ "8005951e000000000000005d94288c0b48656c6c6f20576f726c64944b644306e4bd"
	  "a0e5a5bd94652e", "[\"Hello World\",100,{\"$bytes\":\"5L2g5aW9\"}]" },
	{ "80025d7100285802000000616271016801652e", "[\"ab\",\"ab\"]" },
	{ "8004950c000000000000005d94288c026162946801652e", "[\"ab\",\"ab\"]" },
	{ "8005950c000000000000005d94288c026162946801652e", "[\"ab\",\"ab\"]" },
};

/* Section 4.6, last column: what the minimal encoder must write. */
static const struct vector encoder_vectors[] = {
	{ "80044e2e", "null" },
	{ "8004882e", "true" },
	{ "8004892e", "false" },
	{ "80044bff2e", "255" },
	{ "80044d00012e", "256" },
	{ "80044affffffff2e", "-1" },
	{ "80048a0500000080002e", "2147483648" },
	{ "80048a090000000000000080002e", "9223372036854775808" },
	{ "80048a090000000000000000ff2e", "-18446744073709551616" },
	{ "8004473ff80000000000002e", "1.5" },
	{ "80048c0268692e", "\"hi\"" },
	{ "80048c06e4bda0e5a5bd2e", "\"\xe4\xbd\xa0\xe5\xa5\xbd\"" },
	{ "8004430268692e", "{\"$bytes\":\"aGk=\"}" },
	{ "80045d284b01652e", "[1]" },
	{ "80045d284b014b02652e", "[1,2]" },
	{ "80047d288c01614b01752e", "{\"a\":1}" },
	{ "80045d288c0b48656c6c6f20576f726c644b644306e4bda0e5a5bd652e",
	    "[\"Hello World\",100,{\"$bytes\":\"5L2g5aW9\"}]" },
	{ "80045d288c0261628c026162652e", "[\"ab\",\"ab\"]" },
	/* Not in the note, but the same rules. */
	{ "80045d2e", "[]" },
	{ "80047d2e", "{}" },
	{ "800443002e", "{\"$bytes\":\"\"}" },
	{ "80044b002e", "0" },
	{ "80044b002e", "-0" },
	{ "80044d34122e", "4660" },
	{ "80044a000000802e", "-2147483648" },
	{ "80044a0000ffff2e", "-65536" },
	{ "80044affff7f002e", "8388607" },
	{ "80048a08ffffffffffffff7f2e", "9223372036854775807" },
	{ "80048a0800000000000000802e", "-9223372036854775808" },
	{ "80044780000000000000002e", "-0.0" },
	{ "8004473ff00000000000002e", "1.0" },
	{ "8004473ff00000000000002e", "1e0" },
	{ "8004474341c37937e080002e", "1e16" },
};

START_TEST(test_python_vectors_decode)
{
	const struct vector	*v = &python_vectors[_i];

	assert_decodes(v->pickle, v->json);
}
END_TEST

START_TEST(test_encoder_writes_the_minimal_vectors)
{
	const struct vector	*v = &encoder_vectors[_i];
	const char		*got;

	got = encode(v->json);
	ck_assert_msg(got != NULL, "%s refused: %s", v->json, errbuf);
	ck_assert_msg(strcmp(got, v->pickle) == 0, "%s gave %s, want %s",
	    v->json, got, v->pickle);
}
END_TEST

START_TEST(test_minimal_vectors_decode_back)
{
	const struct vector	*v = &encoder_vectors[_i];
	const char		*want = v->json;

	/* Numbers come back in the decoder's canonical spelling. */
	if (strcmp(want, "-0") == 0)
		want = "0";
	else if (strcmp(want, "1e0") == 0)
		want = "1.0";
	else if (strcmp(want, "1e16") == 0)
		want = "1e+16";
	assert_decodes(v->pickle, want);
}
END_TEST

/* Every opcode of the allow-list, in hand-made pickles Python loads. */
static const struct vector opcode_vectors[] = {
	{ "8004892e", "false" },
	{ "80044d34122e", "4660" },
	{ "80044a000000802e", "-2147483648" },
	{ "80048a002e", "0" },
	{ "80048a01ff2e", "-1" },
	{ "80048a0805000000000000002e", "5" },
	{ "80048b01000000ff2e", "-1" },
	{ "80048b0a000000010000000000000000002e", "1" },
	{ "80048b090000000000000000000000012e", "18446744073709551616" },
	{ "800447bff80000000000002e", "-1.5" },
	{ "8004580200000068692e", "\"hi\"" },
	{ "80048d020000000000000068692e", "\"hi\"" },
	{ "80048c002e", "\"\"" },
	{ "8004420200000068692e", "{\"$bytes\":\"aGk=\"}" },
	{ "80048e020000000000000068692e", "{\"$bytes\":\"aGk=\"}" },
	{ "800596020000000000000068692e", "{\"$bytes\":\"aGk=\"}" },
	{ "800543002e", "{\"$bytes\":\"\"}" },
	{ "80045d28652e", "[]" },
	{ "80047d8c01614b01732e", "{\"a\":1}" },
	{ "80047d288c01614b018c01624b02752e", "{\"a\":1,\"b\":2}" },
	{ "8004292e", "[]" },
	{ "80044b01852e", "[1]" },
	{ "80044b014b02862e", "[1,2]" },
	{ "800428742e", "[]" },
	{ "800428912e", "[]" },
	{ "80045d94288c0261629468016801652e", "[\"ab\",\"ab\",\"ab\"]" },
	{ "80025d7100285802000000616272010000006a01000000652e",
	    "[\"ab\",\"ab\"]" },
	{ "80045d94285d944b016168016801652e", "[[1],[1],[1]]" },
	/* A FRAME that ends before STOP is fine: frames are advisory. */
	{ "80049502000000000000004b014b02862e", "[1,2]" },
	/* Escaping: quote, backslash, control characters, NUL. */
	{ "80048c0622005c0a1f7f2e", "\"\\\"\\u0000\\\\\\n\\u001f\x7f\"" },
	{ "80048c04f09f98802e", "\"\xf0\x9f\x98\x80\"" },
	/* Nested, mixed, a memo reference to a str. */
	{ "80047d94288c0161945d94284b018c0162944e8889474004000000000000658c0163"
	  "946801752e", "{\"a\":[1,\"b\",null,true,false,2.5],\"c\":\"a\"}" },
};

START_TEST(test_every_allowed_opcode_decodes)
{
	const struct vector	*v = &opcode_vectors[_i];

	assert_decodes(v->pickle, v->json);
}
END_TEST

/* The opcodes that build objects or call code, named in the refusal. */
static const struct {
	unsigned char	 op;
	const char	*name;
} code_opcodes[] = {
	{ 0x63, "GLOBAL" }, { 0x93, "STACK_GLOBAL" }, { 0x52, "REDUCE" },
	{ 0x62, "BUILD" }, { 0x69, "INST" }, { 0x6f, "OBJ" },
	{ 0x81, "NEWOBJ" }, { 0x92, "NEWOBJ_EX" }, { 0x82, "EXT1" },
	{ 0x83, "EXT2" }, { 0x84, "EXT4" }, { 0x50, "PERSID" },
	{ 0x51, "BINPERSID" }, { 0x97, "NEXT_BUFFER" },
	{ 0x98, "READONLY_BUFFER" },
}, legacy_opcodes[] = {
	{ 0x49, "INT" }, { 0x4c, "LONG" }, { 0x46, "FLOAT" },
	{ 0x53, "STRING" }, { 0x56, "UNICODE" }, { 0x67, "GET" },
	{ 0x70, "PUT" }, { 0x6c, "LIST" }, { 0x64, "DICT" },
	{ 0x54, "BINSTRING" }, { 0x55, "SHORT_BINSTRING" }, { 0x30, "POP" },
	{ 0x31, "POP_MARK" }, { 0x32, "DUP" },
};

static const unsigned char allowed_opcodes[] = {
	0x28, 0x29, 0x2e, 0x42, 0x43, 0x47, 0x4a, 0x4b, 0x4d, 0x4e, 0x58,
	0x5d, 0x61, 0x65, 0x68, 0x6a, 0x71, 0x72, 0x73, 0x74, 0x75, 0x7d,
	0x80, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e,
	0x8f, 0x90, 0x91, 0x94, 0x95, 0x96,
};

/* A pickle that puts op after a harmless prefix, with bytes to spare. */
static void
pickle_with(struct buf *b, unsigned char op)
{
	char	c = (char)op;

	buf_reset(b);
	unhex(b, "80044e4e4e");
	buf_append(b, &c, 1);
	unhex(b, "0a0a0a0000000000000000000000002e");
}

START_TEST(test_code_opcodes_refused_by_name)
{
	struct buf	b = BUF_INIT;
	char		want[128];
	size_t		i;

	for (i = 0; i < sizeof code_opcodes / sizeof code_opcodes[0]; i++) {
		pickle_with(&b, code_opcodes[i].op);
		snprintf(want, sizeof want, "opcode %s (0x%02x) at offset 5 is "
		    "not allowed: only plain data (None, bool, int, float, str, "
		    "bytes, list, tuple, dict) is accepted", code_opcodes[i].name,
		    code_opcodes[i].op);
		assert_refused_buf(&b, 0, want);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_legacy_opcodes_refused_by_name)
{
	struct buf	b = BUF_INIT;
	char		want[128];
	size_t		i;

	for (i = 0; i < sizeof legacy_opcodes / sizeof legacy_opcodes[0];
	    i++) {
		pickle_with(&b, legacy_opcodes[i].op);
		snprintf(want, sizeof want, "opcode %s (0x%02x) at offset 5 is "
		    "not supported", legacy_opcodes[i].name,
		    legacy_opcodes[i].op);
		assert_refused_buf(&b, 0, want);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_every_other_byte_is_an_unknown_opcode)
{
	struct buf	b = BUF_INIT;
	char		want[64];
	size_t		i;
	int		op, known, unknown = 0;

	for (op = 0; op < 256; op++) {
		known = memchr(allowed_opcodes, op, sizeof allowed_opcodes) !=
		    NULL;
		for (i = 0; i < sizeof code_opcodes / sizeof code_opcodes[0]; i++)
			known |= code_opcodes[i].op == op;
		for (i = 0; i < sizeof legacy_opcodes /
		    sizeof legacy_opcodes[0]; i++)
			known |= legacy_opcodes[i].op == op;
		if (known)
			continue;
		pickle_with(&b, (unsigned char)op);
		snprintf(want, sizeof want, "unknown opcode 0x%02x at offset 5",
		    op);
		assert_refused_buf(&b, 0, want);
		unknown++;
	}
	/* 68 opcodes exist in protocols 0 to 5. */
	ck_assert_int_eq(unknown, 256 - 68);
	buf_free(&b);
}
END_TEST

START_TEST(test_classic_payloads_refused_before_anything_runs)
{
	/* pickle.dumps of a __reduce__ to os.system at protocol 2 and 4. */
	assert_refused("800263706f7369780a73797374656d0a7100580b000000746f756368"
	    "2050574e454471018571025271032e", "opcode GLOBAL (0x63) at offset "
	    "2");
	assert_refused("80049526000000000000008c05706f736978948c0673797374656d94"
	    "93948c0b746f7563682050574e454494859452942e", "opcode STACK_GLOBAL "
	    "(0x93) at offset 28");
	/* Protocol 0, no PROTO: still named. */
	assert_refused("636f730a73797374656d0a2853276563686f270a74522e",
	    "opcode GLOBAL (0x63) at offset 0");
	/* REDUCE alone; BUILD and NEWOBJ after plain data. */
	assert_refused("80044e29522e", "opcode REDUCE (0x52) at offset 4");
	assert_refused("80045d947d62" "2e", "opcode BUILD (0x62) at offset 5");
	assert_refused("80045d2981" "2e", "opcode NEWOBJ (0x81) at offset 4");
	/* A payload hidden deep inside data. */
	assert_refused("8004953d000000000000007d948c0161945d94284b014b018c03706f"
	    "739486948c05706f736978948c0673797374656d9493948c0b746f7563682050"
	    "574e4544948594529465732e", "opcode STACK_GLOBAL (0x93) at offset "
	    "49");
	/* bytearray at protocol 4 is STACK_GLOBAL + REDUCE: refused. */
	assert_refused("80049523000000000000008c086275696c74696e73948c0962797465"
	    "61727261799493944302686994859452942e", "opcode STACK_GLOBAL");
	/* Protocol 2 bytes go through _codecs.encode: refused. */
	assert_refused("8002635f636f646563730a656e636f64650a71005802000000686971"
	    "0158060000006c6174696e3171028671035271042e", "opcode GLOBAL");
}
END_TEST

/* Valid pickles whose every proper prefix must be refused as truncated. */
static const char *const whole_pickles[] = {
	"8004951e000000000000005d94288c0b48656c6c6f20576f726c64944b644306e4bd"
	"a0e5a5bd94652e",
	"80025806000000e4bda0e5a5bd71002e",
	"80048b090000000000000000000000012e",
	"8004473ff80000000000002e",
	"80048d020000000000000068692e",
	"800596020000000000000068692e",
	"80025d7100285802000000616272010000006a01000000652e",
	"8004284b014b024b034b04742e",
	"80047d288c01614b018c01624b02752e",
};

START_TEST(test_truncation_at_every_byte_refused)
{
	struct buf	whole = BUF_INIT, part = BUF_INIT;
	size_t		n;

	unhex(&whole, whole_pickles[_i]);
	ck_assert_msg(decode_buf(&whole, 0) != NULL, "%s: %s", whole_pickles[_i],
	    errbuf);
	for (n = 0; n < whole.len; n++) {
		buf_reset(&part);
		buf_append(&part, whole.data, n);
		assert_refused_buf(&part, 0, n == 0 ? "empty pickle" :
		    "truncated pickle");
	}
	buf_free(&whole);
	buf_free(&part);
}
END_TEST

START_TEST(test_structure_errors_refused)
{
	assert_refused("80044e2e00", "1 bytes after STOP");
	assert_refused("80044e2e2e", "bytes after STOP");
	assert_refused("4b012e", "must start with PROTO");
	assert_refused("80064e2e", "unsupported pickle protocol 6");
	assert_refused("80014e2e", "unsupported pickle protocol 1");
	assert_refused("80048004" "4e2e", "PROTO at offset 2");
	assert_refused("80044e4e2e", "STOP at offset 4 with 2 values");
	assert_refused("80042e", "STOP at offset 2 with 0 values");
	assert_refused("8004284e2e", "1 MARKs");
	assert_refused("8004612e", "stack underflow: APPEND at offset 2");
	assert_refused("80045d284b01612e", "stack underflow: APPEND");
	assert_refused("80044b01652e", "APPENDS at offset 4 without a MARK");
	assert_refused("8004284b01652e", "no container below its MARK");
	assert_refused("80047d4b01612e", "the target is a dict, not a list");
	assert_refused("80045d8c01614b01732e", "the target is a list, not a dict");
	assert_refused("80044b01284b02902e", "the target is a int, not a set");
	assert_refused("80047d288c0161752e", "odd number");
	assert_refused("8004852e", "stack underflow: TUPLE1");
	assert_refused("80044b01284b02872e", "stack underflow: TUPLE3");
	assert_refused("8004742e", "TUPLE at offset 2 without a MARK");
	assert_refused("80048b00000080" "2e", "negative length");
	assert_refused("8004950a000000000000004e2e", "truncated pickle: FRAME");
	assert_refused("", "empty pickle");
}
END_TEST

START_TEST(test_depth_limit)
{
	struct buf	b = BUF_INIT;
	const char	*got;
	int		n, i;

	for (n = PICKLE_MAX_DEPTH; n <= PICKLE_MAX_DEPTH + 1; n++) {
		buf_reset(&b);
		unhex(&b, "8004");
		for (i = 0; i < n; i++)
			buf_append(&b, "]", 1);
		for (i = 1; i < n; i++)
			buf_append(&b, "a", 1);
		buf_append(&b, ".", 1);
		if (n == PICKLE_MAX_DEPTH) {
			ck_assert_msg((got = decode_buf(&b, 0)) != NULL, "%s",
			    errbuf);
			ck_assert_uint_eq(strlen(got), 2 * n);
			ck_assert(jsontext_valid(got, strlen(got)));
		} else
			assert_refused_buf(&b, 0, "nesting too deep");
	}
	/* A bytes object counts as one level of JSON nesting. */
	for (n = PICKLE_MAX_DEPTH - 1; n <= PICKLE_MAX_DEPTH; n++) {
		buf_reset(&b);
		unhex(&b, "8004");
		for (i = 0; i < n; i++)
			buf_append(&b, "]", 1);
		unhex(&b, "430178");
		for (i = 0; i < n; i++)
			buf_append(&b, "a", 1);
		buf_append(&b, ".", 1);
		if (n < PICKLE_MAX_DEPTH)
			ck_assert_msg(decode_buf(&b, 0) != NULL, "%s", errbuf);
		else
			assert_refused_buf(&b, 0, "nesting too deep");
	}
	/* A MARK bomb is refused long before memory matters. */
	buf_reset(&b);
	unhex(&b, "8004");
	for (i = 0; i < 100000; i++)
		buf_append(&b, "(", 1);
	assert_refused_buf(&b, 0, "nesting too deep: more than 64 open MARKs");
	/* Tuples nest the same way. */
	buf_reset(&b);
	unhex(&b, "80044e");
	for (i = 0; i < 1000; i++)
		unhex(&b, "85");
	buf_append(&b, ".", 1);
	assert_refused_buf(&b, 0, "nesting too deep");
	buf_free(&b);
}
END_TEST

/*
 * A "billion laughs": l0 = "aaaaaaaa", l(i+1) = [l(i), l(i)] with both
 * members fetched from the memo, so each 8-byte level doubles the text.
 * Every level stays on the stack; the cap must stop it long before STOP.
 */
static void
memo_bomb(struct buf *b, int levels)
{
	char	i8;
	int	i;

	buf_reset(b);
	unhex(b, "80048c086161616161616161" "94");
	for (i = 0; i < levels; i++) {
		i8 = (char)i;
		unhex(b, "5d28" "68");
		buf_append(b, &i8, 1);
		unhex(b, "68");
		buf_append(b, &i8, 1);
		unhex(b, "6594");
	}
	buf_append(b, ".", 1);
}

START_TEST(test_memo_bomb_refused_by_output_cap)
{
	struct buf	 b = BUF_INIT;
	const char	*got;

	memo_bomb(&b, 40);	/* 2^40 copies of "aaaaaaaa" in 334 bytes */
	ck_assert_uint_eq(b.len, 334);
	assert_refused_buf(&b, 0, "output too large: the JSON text would "
	    "exceed 67108864 bytes");
	assert_refused_buf(&b, 1 << 20, "output too large: the JSON text "
	    "would exceed 1048576 bytes");

	/* A legitimate doubling decodes in full. */
	buf_reset(&b);
	unhex(&b, "80045d288c02616194" "6800" "5d28680068006594"
	    "5d28680168016594" "5d28680268026594" "652e");
	ck_assert_msg((got = decode_buf(&b, 0)) != NULL, "%s", errbuf);
	ck_assert_str_eq(got, "[\"aa\",\"aa\",[\"aa\",\"aa\"],[[\"aa\",\"aa\"],"
	    "[\"aa\",\"aa\"]],[[[\"aa\",\"aa\"],[\"aa\",\"aa\"]],[[\"aa\",\"aa\"],"
	    "[\"aa\",\"aa\"]]]]");
	/* The cap is exact. */
	assert_refused_buf(&b, strlen(got) - 1, "output too large");
	ck_assert(decode_buf(&b, strlen(got)) != NULL);
	buf_free(&b);
}
END_TEST

/*
 * A list of n members, each what one[0..len) pushes (a small int, or a
 * 1-tuple of one), appended 1000 at a time as Python writes it.
 */
static void
pickle_list_of(struct buf *b, const char *one, size_t len, size_t n)
{
	size_t	i;

	buf_append(b, "\x80\x04]", 3);
	for (i = 0; i < n; i++) {
		if (i % 1000 == 0)
			buf_append(b, "(", 1);
		buf_append(b, one, len);
		if (i % 1000 == 999 || i == n - 1)
			buf_append(b, "e", 1);
	}
	buf_append(b, ".", 1);
}

/*
 * What decoding holds is bounded by 8 times the pickle plus 32 MiB: a
 * pickle of a million tiny tuples (3 bytes each, about 120 bytes each to
 * hold) is refused as too large (-2), while a list of a million small
 * ints (2 bytes, about 20 to hold) decodes.
 */
START_TEST(test_memory_is_bounded_by_the_pickle_size)
{
	struct buf	in = BUF_INIT, out = BUF_INIT;
	char		err[256];

	pickle_list_of(&in, "K\x07\x85", 3, 1000000);
	ck_assert_int_eq(pickle_to_json(in.data, in.len, 0, &out, err,
	    sizeof err), -2);
	ck_assert_msg(strstr(err, "too large to decode") != NULL, "%s", err);
	ck_assert_uint_eq(out.len, 0);
	buf_reset(&in);
	pickle_list_of(&in, "K\x07", 2, 1000000);
	ck_assert_int_eq(pickle_to_json(in.data, in.len, 0, &out, err,
	    sizeof err), 0);
	ck_assert_uint_eq(out.len, 2 * 1000000 + 1);
	/* Small pickles of any shape fit the constant part. */
	buf_reset(&in);
	buf_reset(&out);
	pickle_list_of(&in, "K\x07\x85", 3, 100000);
	ck_assert_int_eq(pickle_to_json(in.data, in.len, 0, &out, err,
	    sizeof err), 0);
	buf_free(&in);
	buf_free(&out);
}
END_TEST

START_TEST(test_memo_rules)
{
	/* GET of an undefined index, PUT skipping ahead, MEMOIZE spam. */
	assert_refused("80044e68002e", "memo index 0 is not defined");
	assert_refused("80044e94680a2e", "memo index 10 is not defined");
	assert_refused("80044e7105" "2e", "memo index 5 skips ahead");
	assert_refused("80044e72000001002e", "memo index 65536 skips ahead");
	assert_refused("80044e94942e", "memo too large");
	assert_refused("8004942e", "stack underflow: MEMOIZE");
	/* A value built by TUPLE or FROZENSET counts as one too. */
	assert_decodes("800428919428749486942e", "[[],[]]");
	assert_refused("80042891949494" "2e", "memo too large");
	assert_refused("8004284e28942e", "stack underflow: MEMOIZE");
	/* Re-PUT at an existing index replaces it. */
	assert_decodes("8004284b0171004b0271006800742e", "[1,2,2]");
}
END_TEST

START_TEST(test_self_reference_refused)
{
	/* l = []; l.append(l) at protocol 4, as CPython writes it. */
	assert_refused("80049506000000000000005d946800612e",
	    "self-referencing structure");
	assert_refused("80045d946800612e", "self-referencing structure: APPEND");
	assert_refused("80045d9428680065" "2e", "self-referencing structure: "
	    "APPENDS");
	/* d = {}; d['self'] = d */
	assert_refused("80047d948c0473656c6694680073" "2e",
	    "self-referencing structure: SETITEM");
	/* Sharing without a cycle is fine: d = {}; [d, [d, d]]. */
	assert_decodes("80045d94287d945d28680168016594652e", "[{},[{},{}]]");
}
END_TEST

START_TEST(test_strings_must_be_strict_utf8)
{
	assert_refused("80048c01ff2e", "str at offset 2 is not valid UTF-8");
	assert_refused("80048c02c0af2e", "not valid UTF-8");	/* overlong */
	assert_refused("80048c03e080af2e", "not valid UTF-8");	/* overlong */
	assert_refused("80048c03eda0802e", "not valid UTF-8");	/* surrogate */
	assert_refused("80048c03edbfbf2e", "not valid UTF-8");	/* surrogate */
	assert_refused("80048c04f49080802e", "not valid UTF-8"); /* > 10FFFF */
	assert_refused("80048c02e4bd2e", "not valid UTF-8");	/* cut */
	assert_refused("80048c02bda02e", "not valid UTF-8");	/* no lead */
	assert_refused("800458010000008a2e", "not valid UTF-8");
	assert_decodes("80048c03efbfbf2e", "\"\xef\xbf\xbf\"");
	assert_decodes("80048c04f48fbfbf2e", "\"\xf4\x8f\xbf\xbf\"");
	/* Bytes are anything at all. */
	assert_decodes("800443030000ff2e", "{\"$bytes\":\"AAD/\"}");
}
END_TEST

/* Ints: -2^511 <= n < 2^511, whatever length encodes them. */
START_TEST(test_integer_limits)
{
	struct buf	 b = BUF_INIT;
	const char	*got;
	int		 i;

	/* 2^511 - 1: 63 bytes of ff, then 7f. */
	unhex(&b, "80048a40");
	for (i = 0; i < 63; i++)
		unhex(&b, "ff");
	unhex(&b, "7f2e");
	ck_assert_msg((got = decode_buf(&b, 0)) != NULL, "%s", errbuf);
	ck_assert_str_eq(got, "67039039649712985497870124991029230637396829102"
	    "96196688861780721860882015036773488400937149083451713845015929093"
	    "243025426876941405973284973216824503042047");
	/* -2^511: 63 bytes of 00, then 80. */
	buf_reset(&b);
	unhex(&b, "80048a40");
	for (i = 0; i < 63; i++)
		unhex(&b, "00");
	unhex(&b, "802e");
	ck_assert_msg((got = decode_buf(&b, 0)) != NULL, "%s", errbuf);
	ck_assert_str_eq(got, "-6703903964971298549787012499102923063739682910"
	    "296196688861780721860882015036773488400937149083451713845015929093"
	    "243025426876941405973284973216824503042048");
	/* 2^511 needs 65 bytes: refused, from LONG1 and from LONG4. */
	buf_reset(&b);
	unhex(&b, "80048a41");
	for (i = 0; i < 63; i++)
		unhex(&b, "00");
	unhex(&b, "80002e");
	assert_refused_buf(&b, 0, "integer too large: more than 512 bits");
	buf_reset(&b);
	unhex(&b, "80048b00010000");
	for (i = 0; i < 256; i++)
		unhex(&b, "5a");
	unhex(&b, "2e");
	assert_refused_buf(&b, 0, "integer too large");
	/* Non-minimal lengths hold small values: fine. */
	buf_reset(&b);
	unhex(&b, "80048b00100000");
	unhex(&b, "fe");
	for (i = 1; i < 4096; i++)
		unhex(&b, "ff");
	unhex(&b, "2e");
	ck_assert_msg((got = decode_buf(&b, 0)) != NULL, "%s", errbuf);
	ck_assert_str_eq(got, "-2");
	/* Just beyond int64. */
	assert_decodes("80048a09ffffffffffffffff002e", "18446744073709551615");
	assert_decodes("80048a09ffffffffffffffff7f2e", "2361183241434822606847");
	assert_decodes("80048a0901000000000000000a2e", "184467440737095516161");
	assert_decodes("80048a09ffffffffffffff7fff2e", "-9223372036854775809");
	buf_free(&b);
}
END_TEST

START_TEST(test_floats)
{
	assert_refused("8004477ff80000000000002e", "float nan at offset 2 cannot be represented in JSON");
	assert_refused("8004477ff00000000000002e", "float inf");
	assert_refused("800447fff00000000000002e", "float -inf");
	assert_decodes("80044700000000000000002e", "0.0");
	assert_decodes("80044780000000000000002e", "-0.0");
	assert_decodes("8004473fb999999999999a2e", "0.1");
	assert_decodes("8004474341c37937e080002e", "1e+16");
	assert_decodes("8004473ff00000000000012e", "1.0000000000000002");
	assert_decodes("80044700000000000000012e", "4.94065645841247e-324");
	assert_decodes("8004477fefffffffffffff2e", "1.7976931348623157e+308");
	assert_decodes("800447c0c81c8000000000" "2e", "-12345.0");
}
END_TEST

START_TEST(test_dict_keys)
{
	assert_refused("80047d4b014b02732e", "dict key must be a string, not int");
	assert_refused("80047d430178" "4b02732e", "dict key must be a string, "
	    "not bytes");
	assert_refused("80047d4e4b02732e", "not None");
	assert_refused("80047d4b01854b02732e", "not tuple");
	assert_refused("80047d288c01614b018c01614b02752e",
	    "duplicate dict key \"a\"");
	assert_refused("80047d8c01614b01738c01614b02732e", "duplicate dict key");
	assert_refused("80047d8c06246279746573430178732e", "reserved");
	assert_refused("80047d8c06246279746573" "8c0461476b3d" "732e",
	    "reserved");
	assert_decodes("80047d288c062462797465734b018c01784b02752e",
	    "{\"$bytes\":1,\"x\":2}");
	assert_decodes("80045d8c0624627974657361" "2e", "[\"$bytes\"]");
	/* Python keeps the key order of the pickle. */
	assert_decodes("80047d288c017a4b018c01614b02752e", "{\"z\":1,\"a\":2}");
}
END_TEST

START_TEST(test_sets_need_hashable_members)
{
	assert_refused("80048f285d902e", "unhashable list in a set");
	assert_refused("80048f285d85902e", "unhashable tuple in a set");
	assert_refused("80048f2896" "0000000000000000" "902e",
	    "unhashable bytearray in a set");
	assert_refused("80042896" "0000000000000000" "912e",
	    "unhashable bytearray in a set");
	assert_decodes("80048f284b014b0286430178902e",
	    "[[1,2],{\"$bytes\":\"eA==\"}]");
}
END_TEST

START_TEST(test_output_appends_and_error_leaves_it)
{
	struct buf	out = BUF_INIT, in = BUF_INIT;
	char		err[8] = "xxxxxxx";

	buf_append(&out, "abc", 3);
	unhex(&in, "80045d284b014b02652e");
	ck_assert_int_eq(pickle_to_json(in.data, in.len, 0, &out, err,
	    sizeof err), 0);
	ck_assert_uint_eq(out.len, 8);
	ck_assert(memcmp(out.data, "abc[1,2]", 8) == 0);
	/* A short error buffer is truncated, NUL-terminated. */
	ck_assert_int_eq(pickle_to_json(in.data, 3, 0, &out, err, sizeof err),
	    -1);
	ck_assert_uint_eq(out.len, 8);
	ck_assert_str_eq(err, "truncat");
	ck_assert_int_eq(pickle_to_json(in.data, 3, 0, &out, NULL, 0), -1);
	/* max_out is exact. */
	ck_assert_int_eq(pickle_to_json(in.data, in.len, 4, &out, err,
	    sizeof err), -1);
	ck_assert_int_eq(pickle_to_json(in.data, in.len, 5, &out, err,
	    sizeof err), 0);
	buf_free(&out);
	buf_free(&in);
}
END_TEST

START_TEST(test_encoder_details)
{
	char		 big[1024];
	const char	*got;
	size_t		 i;

	/* Escapes decoded, NUL kept, surrogate pairs joined. */
	got = encode("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\ud83d\\ude00\"");
	ck_assert_str_eq(got, "80048c1061225c2f080c0a0d0900c3a9f09f98802e");
	/* 256 bytes and up: BINUNICODE and BINBYTES. */
	memset(big, 'x', sizeof big);
	big[0] = '"';
	big[257] = '"';
	big[258] = '\0';
	got = encode(big);
	ck_assert(strncmp(got, "800458000100007878", 18) == 0);
	ck_assert_uint_eq(strlen(got), 2 * (2 + 5 + 256 + 1));
	/* 255 bytes stay SHORT_BINUNICODE. */
	big[256] = '"';
	big[257] = '\0';
	ck_assert(strncmp(encode(big), "80048cff78", 10) == 0);
	/* 258 bytes of bytes: BINBYTES. "////" is ff ff ff. */
	strcpy(big, "{\"$bytes\":\"");
	for (i = 0; i < 86; i++)
		strcat(big, "////");
	strcat(big, "\"}");
	ck_assert(strncmp(encode(big), "80044202010000ffff", 18) == 0);
	/* Only canonical base64 is bytes; anything else is a dict. */
	ck_assert_str_eq(encode("{\"$bytes\":\"aGk\"}"),
	    "80047d288c062462797465738c036147" "6b752e");
	ck_assert_str_eq(encode("{\"$bytes\":\"aGl=\"}"),
	    "80047d288c062462797465738c0461476c3d752e");
	ck_assert_str_eq(encode("{\"$bytes\":\"aG=k\"}"),
	    "80047d288c062462797465738c0461473d6b752e");
	ck_assert_str_eq(encode("{\"$bytes\":\"aGk=\",\"x\":1}"),
	    "80047d288c062462797465738c0461476b3d8c01784b01752e");
	ck_assert_str_eq(encode("{\"$bytes\":1}"),
	    "80047d288c062462797465734b01752e");
	ck_assert_str_eq(encode("{\"\\u0024bytes\":\"eA==\"}"), "8004430178" "2e");
	ck_assert_str_eq(encode("{\"$bytes\":\"eHk=\"}"), "800443027879" "2e");
	ck_assert_str_eq(encode("{\"$bytes\":\"eHl6\"}"), "8004430378797a" "2e");
	/* Beyond the int limit: a float; beyond the double range: inf. */
	big[0] = '1';
	memset(big + 1, '0', 160);
	big[161] = '\0';
	ck_assert_str_eq(encode(big), "8004476126c2d4256ffcc32e");	/* 1e160 */
	memset(big + 1, '0', 400);
	big[401] = '\0';
	ck_assert_str_eq(encode(big), "8004477ff00000000000002e");
	got = encode("67039039649712985497870124991029230637396829102961966888"
	    "6178072186088201503677348840093714908345171384501592909324302542"
	    "6876941405973284973216824503042048");	/* 2^511 */
	ck_assert_str_eq(got, "8004475fe00000000000002e");
	got = encode("-6703903964971298549787012499102923063739682910296196688"
	    "8617807218608820150367734884009371490834517138450159290932430254"
	    "26876941405973284973216824503042048");	/* -2^511 */
	ck_assert_uint_eq(strlen(got), 2 * (2 + 2 + 64 + 1));
	ck_assert_str_eq(got + 8 + 126, "802e");
	got = encode("-6703903964971298549787012499102923063739682910296196688"
	    "8617807218608820150367734884009371490834517138450159290932430254"
	    "26876941405973284973216824503042049");	/* -2^511 - 1 */
	ck_assert_str_eq(got, "800447dfe00000000000002e");
	ck_assert_str_eq(encode("1e400"), "8004477ff00000000000002e");
	ck_assert_str_eq(encode("-1e400"), "800447fff00000000000002e");
	ck_assert_str_eq(encode("1e-400"), "80044700000000000000002e");
	/* White space around the value; invalid JSON refused. */
	ck_assert_str_eq(encode(" \n[ 1 , { \"a\" : null } ]\t"),
	    "80045d284b017d288c01614e75652e");
	ck_assert_ptr_null(encode("[1,]"));
	ck_assert(strstr(errbuf, "not one valid JSON value") != NULL);
	ck_assert_ptr_null(encode(""));
	ck_assert_ptr_null(encode("1 2"));
	ck_assert_ptr_null(encode("\"\\ud800\""));
}
END_TEST

/* JSON texts, in the decoder's canonical compact form. */
static const char *const round_trips[] = {
	"null", "true", "false", "0", "-1", "255", "256", "65535", "65536",
	"-2147483648", "2147483647", "2147483648", "-2147483649",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808",
	"-9223372036854775809", "18446744073709551616",
	"123456789012345678901234567890123456789012345678901234567890",
	"-123456789012345678901234567890123456789012345678901234567890",
	"0.0", "-0.0", "1.5", "0.1", "1e+16", "1e-07", "3.141592653589793",
	"1.7976931348623157e+308", "-2.2250738585072014e-308",
	"4.94065645841247e-324", "123456789.123", "1e+300",
	"\"\"", "\"hi\"", "\"\xe4\xbd\xa0\xe5\xa5\xbd\"",
	"\"\\\"\\\\\\n\\r\\t\\b\\f\\u0000\\u001f\x7f/\"",
	"\"\xf0\x9f\x98\x80\"", "{\"$bytes\":\"\"}", "{\"$bytes\":\"AA==\"}",
	"{\"$bytes\":\"AAE=\"}", "{\"$bytes\":\"AAEC\"}",
	"{\"$bytes\":\"5L2g5aW9\"}", "[]", "{}", "[[]]", "[{}]", "{\"\":{}}",
	"[1,[2,[3,[4,[]]]]]", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":"
	"\"e\"}}", "{\"$bytes\":1,\"x\":2}", "{\"z\":1,\"a\":2}",
	"[\"Hello World\",100,{\"$bytes\":\"5L2g5aW9\"}]",
	"{\"op\":\"submit\",\"pool\":\"P\",\"args\":[1,2.5,\"x\"],\"wait\":true,"
	"\"timeout\":30}",
};

START_TEST(test_decode_of_encode_is_identity)
{
	const char	*json = round_trips[_i], *hex, *back;
	char		*copy;

	hex = encode(json);
	ck_assert_msg(hex != NULL, "%s: %s", json, errbuf);
	copy = strdup(hex);
	back = decode_hex(copy);
	ck_assert_msg(back != NULL, "%s -> %s: %s", json, copy, errbuf);
	ck_assert_msg(strcmp(back, json) == 0, "%s -> %s -> %s", json, copy,
	    back);
	free(copy);
}
END_TEST

/* A tiny fixed-seed generator, so failures reproduce. */
static uint64_t
rng_next(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Append a random JSON value in the decoder's canonical form. */
static void
random_json(struct buf *b, uint64_t *rng, int depth)
{
	static const char *const scalars[] = {
		"null", "true", "false", "0", "7", "-300", "70000",
		"-5000000000", "99999999999999999999", "2.5", "-0.0", "1e+100",
		"\"\"", "\"k\"", "\"\\u0000\\n\"", "\"\xc3\xa9\"",
		"{\"$bytes\":\"AQID\"}",
	};
	unsigned char	bytes[40];
	uint64_t	r = rng_next(rng);
	size_t		i, n;
	char		key[16];

	switch (depth >= 6 ? 0 : r % 5) {
	case 0:
	case 1:
		buf_append_str(b, scalars[(r >> 8) % (sizeof scalars /
		    sizeof scalars[0])]);
		break;
	case 2:
		n = (r >> 8) % 5;
		buf_append(b, "[", 1);
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_append(b, ",", 1);
			random_json(b, rng, depth + 1);
		}
		buf_append(b, "]", 1);
		break;
	case 3:
		n = (r >> 8) % 5;
		buf_append(b, "{", 1);
		for (i = 0; i < n; i++) {
			snprintf(key, sizeof key, "%s\"k%zu\":", i ? "," : "",
			    i);
			buf_append_str(b, key);
			random_json(b, rng, depth + 1);
		}
		buf_append(b, "}", 1);
		break;
	default:
		n = (r >> 8) % sizeof bytes;
		for (i = 0; i < n; i++)
			bytes[i] = (unsigned char)rng_next(rng);
		buf_append_str(b, "\"");
		for (i = 0; i < n; i++)
			if (bytes[i] >= 0x20 && bytes[i] < 0x7f &&
			    bytes[i] != '"' && bytes[i] != '\\')
				buf_append(b, &bytes[i], 1);
		buf_append_str(b, "\"");
		break;
	}
}

START_TEST(test_random_values_round_trip)
{
	struct buf	 json = BUF_INIT, pk = BUF_INIT, back = BUF_INIT;
	uint64_t	 rng = 0x9e3779b97f4a7c15ULL;
	char		 err[256];
	int		 i;

	for (i = 0; i < 2000; i++) {
		buf_reset(&json);
		buf_reset(&pk);
		buf_reset(&back);
		random_json(&json, &rng, 0);
		ck_assert(jsontext_valid(json.data, json.len));
		ck_assert_int_eq(pickle_from_json(json.data, json.len, &pk, err,
		    sizeof err), 0);
		ck_assert_msg(pickle_to_json(pk.data, pk.len, 0, &back, err,
		    sizeof err) == 0, "%.*s: %s", (int)json.len, json.data, err);
		ck_assert_msg(back.len == json.len && memcmp(back.data,
		    json.data, json.len) == 0, "%.*s came back as %.*s",
		    (int)json.len, json.data, (int)back.len, back.data);
	}
	buf_free(&json);
	buf_free(&pk);
	buf_free(&back);
}
END_TEST

static Suite *
pickle_suite(void)
{
	Suite	*s = suite_create("pickle");
	TCase	*tc;

	tc = tcase_create("decode");
	tcase_add_loop_test(tc, test_python_vectors_decode, 0,
	    sizeof python_vectors / sizeof python_vectors[0]);
	tcase_add_loop_test(tc, test_every_allowed_opcode_decodes, 0,
	    sizeof opcode_vectors / sizeof opcode_vectors[0]);
	tcase_add_loop_test(tc, test_minimal_vectors_decode_back, 0,
	    sizeof encoder_vectors / sizeof encoder_vectors[0]);
	tcase_add_test(tc, test_floats);
	tcase_add_test(tc, test_integer_limits);
	tcase_add_test(tc, test_strings_must_be_strict_utf8);
	tcase_add_test(tc, test_dict_keys);
	tcase_add_test(tc, test_sets_need_hashable_members);
	tcase_add_test(tc, test_output_appends_and_error_leaves_it);
	suite_add_tcase(s, tc);

	tc = tcase_create("refuse");
	tcase_add_test(tc, test_code_opcodes_refused_by_name);
	tcase_add_test(tc, test_legacy_opcodes_refused_by_name);
	tcase_add_test(tc, test_every_other_byte_is_an_unknown_opcode);
	tcase_add_test(tc, test_classic_payloads_refused_before_anything_runs);
	tcase_add_loop_test(tc, test_truncation_at_every_byte_refused, 0,
	    sizeof whole_pickles / sizeof whole_pickles[0]);
	tcase_add_test(tc, test_structure_errors_refused);
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_memo_bomb_refused_by_output_cap);
	tcase_add_test(tc, test_memo_rules);
	tcase_add_test(tc, test_memory_is_bounded_by_the_pickle_size);
	tcase_add_test(tc, test_self_reference_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_loop_test(tc, test_encoder_writes_the_minimal_vectors, 0,
	    sizeof encoder_vectors / sizeof encoder_vectors[0]);
	tcase_add_test(tc, test_encoder_details);
	tcase_add_loop_test(tc, test_decode_of_encode_is_identity, 0,
	    sizeof round_trips / sizeof round_trips[0]);
	tcase_add_test(tc, test_random_values_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(pickle_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
