/*
 * The one JSON scanner: validates JSON text (RFC 8259, strings in valid
 * UTF-8 without lone surrogates, bounded nesting) and writes strings out
 * escaped, without building a tree and without allocating. Both ends of
 * the worker pipe use it, the supervisor (through ipc/jsontext.h) and the
 * C worker library (worker/, libc only), so that what one side writes
 * the other accepts, nested as deep as the other allows.
 */
#ifndef MPSUP_JSONSCAN_H
#define MPSUP_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of arrays and objects any JSON (or pickle) reader takes. */
#define JSONSCAN_MAX_DEPTH		64
/*
 * Deepest nesting of a job's result, on both sides of the worker pipe:
 * replies to clients wrap it in up to four levels ({"jobs":[{"result":
 * ...}]}) and must stay within JSONSCAN_MAX_DEPTH. A result nested deeper
 * fails its job with JSONSCAN_RESULT_TOO_DEEP as the error.
 */
#define JSONSCAN_RESULT_MAX_DEPTH	60
#define JSONSCAN_RESULT_TOO_DEEP	"result nested deeper than " \
	JSONSCAN_QUOTE(JSONSCAN_RESULT_MAX_DEPTH) " levels"
#define JSONSCAN_QUOTE(x)		JSONSCAN_QUOTE_(x)
#define JSONSCAN_QUOTE_(x)		#x

enum jsonscan_error {
	JSONSCAN_OK,
	JSONSCAN_MALFORMED,	/* not JSON */
	JSONSCAN_TOO_DEEP,	/* well-formed up to a level too many */
};

/* One scan: its limit in, what it met out. */
struct jsonscan {
	unsigned int		 max_depth;	/* deepest nesting accepted */
	uint64_t		*levels;	/* see jsonscan_value() */
	unsigned int		 depth;		/* out: deepest nesting met */
	enum jsonscan_error	 error;		/* out: why it failed */
};

/* Words of levels for a scan that accepts nesting n deep. */
#define JSONSCAN_LEVEL_WORDS(n)		(((size_t)(n) + 63) / 64)

/*
 * Validate the one JSON value that starts at p (not at white space) and
 * return a pointer just past it, or NULL with js->error set. What follows
 * the value is not looked at: "12x" scans as 12. The scan keeps one bit
 * per open level: in a word of its own up to 64 levels (levels NULL), in
 * js->levels, JSONSCAN_LEVEL_WORDS(max_depth) words, beyond.
 */
const char	*jsonscan_value(struct jsonscan *js, const char *p,
		    const char *end);

/* Validate the string whose opening quote is at p; returns past its end. */
const char	*jsonscan_string(const char *p, const char *end);

/* Validate a number, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
const char	*jsonscan_number(const char *p, const char *end);

/* Skip JSON white space. */
static inline const char *
jsonscan_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' ||
	    *p == '\t'))
		p++;
	return p;
}

/*
 * Length of the well-formed UTF-8 sequence at s, before e (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF): 1 to 4, or 0 if
 * there is none. s < e.
 */
size_t		 jsonscan_utf8_len(const unsigned char *s,
		    const unsigned char *e);

/*
 * Decode the escape whose backslash is at *sp into out as UTF-8, moving
 * *sp past it. Returns the bytes written (1 to 4), or 0 if the escape is
 * not valid, including a \u surrogate that is not half of a pair.
 */
size_t		 jsonscan_escape_decode(const char **sp, const char *end,
		    unsigned char out[4]);

/*
 * The id at the start of a job line too long or too broken to parse, if
 * it starts as the supervisor writes it, {"id":" then 1 to max bytes
 * without escapes or control characters, then a quote: its length, with
 * *id pointing at it, or 0.
 */
size_t		 jsonscan_peek_id(const char *line, size_t len, size_t max,
		    const char **id);

/*
 * Write the bytes from *sp up to stop at o as the body of a JSON string:
 * '"', '\\' and control characters escaped, each byte that is not part of
 * valid UTF-8 replaced by U+FFFD, so the output is always valid. A UTF-8
 * sequence that starts before stop may end after it, up to end. Needs
 * 6 * (stop - *sp) + 3 bytes at o. Returns the end of what it wrote and
 * moves *sp to where it stopped.
 */
char		*jsonscan_escape(char *o, const char **sp, const char *stop,
		    const char *end);

#endif
