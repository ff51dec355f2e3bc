/*
 * libmicrohttpd's functions, resolved at the status endpoint's start
 * (see mhd_api.h).
 */
#include "config.h"

#include <stddef.h>

#define MHD_API_DEFINE
#include "common/dynlib.h"
#include "supervisor/monitor/mhd_api.h"

struct mhd_api	mhd_api;

int
mhd_api_load(char **cause)
{
#define MHD_API_SYM(f)	{ #f, (void **)&mhd_api.f },
	static const struct dynlib_sym	syms[] = {
		MHD_API_FUNCTIONS(MHD_API_SYM)
	};
#undef MHD_API_SYM
	static int			loaded;

	if (loaded)
		return 0;
	if (dynlib_load(MHD_SONAME, "the status endpoint", syms,
	    sizeof syms / sizeof syms[0], cause) == -1)
		return -1;
	loaded = 1;
	return 0;
}
