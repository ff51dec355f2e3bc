/*
 * The worker pipe protocol (SPEC section 4), the result side: one line a
 * job, {"id":"J","ok":true,"result":<JSON>} or {"id":"J","ok":false,
 * "error":"message"}. Parsing checks the whole line and takes the spans
 * of its members without copying.
 */
#ifndef MPSUP_JOBLINE_H
#define MPSUP_JOBLINE_H

#include <stddef.h>

#include "ipc/jsontext.h"

struct jobline_result {
	struct jsontext_span	id;	/* a JSONTEXT_STRING, quotes included */
	int			ok;
	struct jsontext_span	result;	/* "null" when absent */
	struct jsontext_span	error;	/* JSONTEXT_INVALID when absent */
};

/*
 * Parse one result line (without its newline): exactly one JSON object,
 * white space around it allowed, with a string "id" and a boolean "ok".
 * Returns 0, or -1 if the line is malformed. A result nested deeper than
 * JSONSCAN_RESULT_MAX_DEPTH, in a line that is otherwise well-formed
 * however deep it goes, fails only its job: it comes back as ok = 0 with
 * JSONSCAN_RESULT_TOO_DEEP as the error (a span of static text, not of
 * the line).
 */
int	jobline_parse_result(const char *line, size_t len,
	    struct jobline_result *);

#endif
