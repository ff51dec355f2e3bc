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
 * How deep a result may nest: replies wrap it in up to four levels
 * ({"jobs":[{"result":...}]}) and must stay within JSONSCAN_MAX_DEPTH, the
 * limit of every JSON and pickle reader in mpsup.
 */
#define JOBLINE_MAX_RESULT_DEPTH	(JSONSCAN_MAX_DEPTH - 4)

/*
 * Parse one result line (without its newline): exactly one JSON object,
 * white space around it allowed, with a string "id" and a boolean "ok",
 * and a result nested at most JOBLINE_MAX_RESULT_DEPTH deep. Returns 0,
 * or -1 if the line is malformed.
 */
int	jobline_parse_result(const char *line, size_t len,
	    struct jobline_result *);

#endif
