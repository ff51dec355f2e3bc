/*
 * JSON as text: validate, skip and pick apart JSON without building a tree.
 * Job data and results cross mpsup as opaque, validated JSON text that the
 * supervisor frames and forwards; this is what checks it is valid, finds
 * the members of a request object and writes strings out escaped. No
 * function here allocates except jsontext_string_decode().
 *
 * The names carry the module's prefix, not "json_": jansson (used by the
 * exec worker, in the same library) owns json_* and JSON_*, and a clash
 * there would bind jansson's callers to these functions at link time.
 */
#ifndef MPSUP_JSONTEXT_H
#define MPSUP_JSONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/jsonscan.h"

enum jsontext_type {
	JSONTEXT_INVALID, JSONTEXT_OBJECT, JSONTEXT_ARRAY, JSONTEXT_STRING,
	JSONTEXT_NUMBER, JSONTEXT_TRUE, JSONTEXT_FALSE, JSONTEXT_NULL,
};

/* A value's text inside a larger buffer: p[0..len). */
struct jsontext_span {
	const char		*p;
	size_t			 len;
	enum jsontext_type	 type;
};

/*
 * Validate one JSON value (RFC 8259, strings must be valid UTF-8, nesting
 * at most JSONSCAN_MAX_DEPTH) starting at p, after optional white space.
 * Returns a pointer just past it, or NULL if it is not valid; fills *out
 * (the value without surrounding white space) when out is not NULL. What
 * follows the value is not looked at: "12x" scans as 12.
 */
const char	*jsontext_scan(const char *p, const char *end,
		    struct jsontext_span *out);

/* True if s[0..len) is exactly one valid JSON value, white space around it. */
int		 jsontext_valid(const char *s, size_t len);

/* The type of the valid value whose first byte is c. */
enum jsontext_type	 jsontext_type_of(char c);

/*
 * Look up key among the members of the object obj (a span from
 * jsontext_scan of type JSONTEXT_OBJECT). Returns 1 and fills *val when
 * found, 0 when absent. The object is assumed valid. With duplicate keys
 * the last one wins.
 */
int		 jsontext_object_get(const struct jsontext_span *obj,
		    const char *key, struct jsontext_span *val);

/*
 * The members of one valid object, found in a single pass: a request
 * object holding a large "jobs" array is looked up several times, and
 * each jsontext_object_get() walks all of it. An object with more than
 * JSONTEXT_MEMBERS_MAX members is looked up the slow way.
 */
#define JSONTEXT_MEMBERS_MAX	16
struct jsontext_members {
	struct jsontext_span	obj;
	size_t			n;
	int			complete;	/* all members are in key/val */
	struct jsontext_span	key[JSONTEXT_MEMBERS_MAX];
	struct jsontext_span	val[JSONTEXT_MEMBERS_MAX];
};
void		 jsontext_members_index(struct jsontext_members *,
		    const struct jsontext_span *obj);
/*
 * Validate the object that starts at p (after white space) as
 * jsontext_scan() would, and index its members in the same pass. Returns
 * just past it, or NULL if no valid object starts there.
 */
const char	*jsontext_members_scan(struct jsontext_members *,
		    const char *p, const char *end);
/* As jsontext_object_get() on the indexed object. */
int		 jsontext_members_get(const struct jsontext_members *,
		    const char *key, struct jsontext_span *val);

/*
 * Iterate the members of a valid object: *state starts at 0; returns 1
 * with *key (a JSONTEXT_STRING span, quotes included) and *val filled, 0 at
 * the end.
 */
int		 jsontext_object_next(const struct jsontext_span *obj,
		    size_t *state, struct jsontext_span *key,
		    struct jsontext_span *val);

/*
 * Skip the value at p (not at white space) in text known to be valid;
 * returns past it, or end.
 */
const char	*jsontext_skip(const char *p, const char *end);
/* Iterate the elements of a valid array the same way. */
int		 jsontext_array_next(const struct jsontext_span *arr,
		    size_t *state, struct jsontext_span *val);

/*
 * Decode a JSONTEXT_STRING span into a NUL-terminated malloc'ed string
 * (the caller frees it) of *len bytes. Returns NULL (and sets *len to 0)
 * if it contains a NUL character.
 */
char		*jsontext_string_decode(const struct jsontext_span *,
		    size_t *len);

/* True if a JSONTEXT_STRING span decodes to the C string (escapes decoded). */
int		 jsontext_string_eq(const struct jsontext_span *,
		    const char *);

/*
 * Parse a JSONTEXT_NUMBER span as a double / as an integer literal (no
 * '.', no exponent) in [min, max]. Return 0, or -1 if the span is not such
 * a number, the double overflows or the integer is out of range.
 */
int		 jsontext_number(const struct jsontext_span *, double *);
int		 jsontext_integer(const struct jsontext_span *, int64_t min,
		    int64_t max, int64_t *);

/*
 * Append s[0..len) to b as the body of a JSON string (no quotes): '"',
 * '\\' and control characters escaped, each byte that is not part of valid
 * UTF-8 replaced by U+FFFD so the output is always valid JSON.
 */
void		 jsontext_escape_append(struct buf *b, const char *s,
		    size_t len);
/* The same with the quotes. */
void		 jsontext_string_append(struct buf *b, const char *s,
		    size_t len);

#endif
