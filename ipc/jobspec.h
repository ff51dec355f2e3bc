/*
 * Job descriptions (SPEC sections 4 and 7): what a submit request says a
 * job is, checked and turned into the data text the pool's workers get.
 * Pure, so the listener and the fuzzer run the very same checks.
 */
#ifndef MPSUP_JOBSPEC_H
#define MPSUP_JOBSPEC_H

#include "common/buf.h"
#include "config/config.h"
#include "ipc/jsontext.h"

/*
 * Append the data of the job that desc (a valid JSON object) describes to
 * out: for a stream pool the text of its "data" member; for an exec pool
 * {"args"|"shell", "env", "cwd", "stdin"} as given. Returns NULL, or a
 * static message for the client with out left as it was.
 */
const char	*jobspec_build(enum pool_type, const struct jsontext_span *desc,
		    struct buf *out);
/*
 * The stream pool's case of jobspec_build() for a caller that has found
 * the description's "data" member already (data->p NULL: there is none).
 */
const char	*jobspec_build_stream(const struct jsontext_span *data,
		    struct buf *out);

#endif
