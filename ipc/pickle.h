/*
 * A safe codec between Python pickles of plain data and JSON text, so a
 * client may send(dict) and recv() a reply while the rest of mpsup only
 * ever sees JSON. The decoder is an allow-list: it reads the opcodes of
 * pure data (protocols 2 to 5) and refuses, by name, every opcode that
 * imports, calls or constructs anything; no code ever runs. The encoder
 * writes the minimal protocol 4 subset every Python since 3.4 reads.
 *
 * Mapping, pickle -> JSON:
 *   None, True, False   null, true, false
 *   int                 a JSON integer; only -2^511 <= n < 2^511 (at most
 *                       PICKLE_INT_MAX_BYTES bytes of two's complement)
 *   float               a JSON number that always has a '.' or an exponent
 *                       ("1.0", "1e+16"); NaN and infinities are refused
 *   str                 a string (strict UTF-8: lone surrogates, which
 *                       Python writes with 'surrogatepass', are refused)
 *   bytes, bytearray    {"$bytes":"<standard base64, padded>"}
 *   list, tuple         an array (tuples come back as lists)
 *   set, frozenset      an array, members in pickle order
 *   dict                an object; keys must be str and distinct, and a
 *                       dict whose only key is "$bytes" is refused (it
 *                       would read back as bytes)
 * A value shared through the memo is written out once per reference.
 *
 * Mapping, JSON -> pickle: null/true/false/strings as above; an object
 * with the single member "$bytes" whose value is canonical base64 (the
 * form the decoder writes) becomes bytes, any other object a dict; arrays
 * become lists; integer literals in the range above become ints, others
 * and every number with a fraction or an exponent become floats (which
 * may be +-inf for literals beyond the double range, as json.loads does).
 * So decoding then encoding gives back an equal value, except that tuples
 * and sets come back as lists and bytearray as bytes.
 */
#ifndef MPSUP_PICKLE_H
#define MPSUP_PICKLE_H

#include <stddef.h>

#include "common/buf.h"
#include "common/jsonscan.h"

/*
 * Containers nest at most this deep (a bytes object counts as one level),
 * as JSON does: data crosses from one to the other.
 */
#define PICKLE_MAX_DEPTH	JSONSCAN_MAX_DEPTH
/* Largest int, in bytes of two's complement. */
#define PICKLE_INT_MAX_BYTES	64
/* Most memo entries one pickle may define. */
#define PICKLE_MAX_MEMO		(1U << 24)
/* Output cap used when the caller passes 0. */
#define PICKLE_DEFAULT_MAX_OUT	((size_t)64 << 20)
/*
 * What decoding may hold at most: this many times the pickle's size, plus
 * PICKLE_MEM_SLACK bytes (a request's cost, bounded by its frame size).
 */
#define PICKLE_MEM_FACTOR	8
#define PICKLE_MEM_SLACK	((size_t)32 << 20)

/*
 * Decode the pickle p[0..len) (PROTO 2..5 first, STOP last, nothing after
 * it) into one compact JSON value appended to out. The JSON text may be at
 * most max_out bytes (0: PICKLE_DEFAULT_MAX_OUT; never more than 4 GiB);
 * this is also what stops memo references from multiplying a small pickle
 * into a huge text, and with the input's length it bounds the memory
 * used (about 32 bytes per value, plus the text). Callers should pass
 * their message size limit.
 * Decoding holds at most PICKLE_MEM_FACTOR times len plus PICKLE_MEM_SLACK
 * bytes (stack, memo, containers, text): a pickle of many tiny containers
 * that would need more is refused.
 * Returns 0; -2 with a message in err if the pickle is too large to
 * decode within that bound; or -1 with out unchanged and a message in err
 * that names the refused opcode, the limit that was hit or the
 * malformation, and where.
 */
int	pickle_to_json(const void *p, size_t len, size_t max_out,
	    struct buf *out, char *err, size_t errlen);

/*
 * Encode the JSON value json[0..len) (white space around it allowed) as a
 * protocol 4 pickle appended to out. Returns 0, or -1 with out unchanged
 * and a message in err if the text is not one valid JSON value.
 */
int	pickle_from_json(const char *json, size_t len, struct buf *out,
	    char *err, size_t errlen);

#endif
