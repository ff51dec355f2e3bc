/*
 * libsqlite3's functions, resolved when a SQLite store is first opened
 * (see sqlite_api.h).
 */
#include "config.h"

#include <stddef.h>

#define MPSUP_SQLITE_API_DEFINE
#include "common/dynlib.h"
#include "store/sqlite_api.h"

struct sqlite_api	sqlite_api;

int
sqlite_api_load(char **cause)
{
#define MPSUP_SQLITE_SYM(f)	{ #f, (void **)&sqlite_api.f },
	static const struct dynlib_sym	syms[] = {
		MPSUP_SQLITE_FUNCTIONS(MPSUP_SQLITE_SYM)
	};
#undef MPSUP_SQLITE_SYM
	static int			loaded;

	if (loaded)
		return 0;
	if (dynlib_load(SQLITE_SONAME, "store = sqlite", syms,
	    sizeof syms / sizeof syms[0], cause) == -1)
		return -1;
	loaded = 1;
	return 0;
}
