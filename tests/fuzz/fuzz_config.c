/*
 * libFuzzer harness for config/config.c: any bytes at all as the
 * configuration file. The file lives in a private folder made once per
 * process, so relative paths in it resolve there and nothing else is
 * touched (loading only reads: stat for cwd, user and group look-ups).
 * Loading must either give a config and no errors, or NULL and at least
 * one "FILE[:LINE]: message"; every pool must be whole; freeing both
 * must leave nothing behind.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static char	fuzz_dir[] = "/tmp/mpsup-fuzz-config.XXXXXX";
static char	fuzz_path[sizeof fuzz_dir + 16];

/* Remove the folder when libFuzzer exits normally. */
static void
fuzz_cleanup(void)
{
	unlink(fuzz_path);
	rmdir(fuzz_dir);
}

/* Write the input to the config file, replacing the last one. */
static void
fuzz_write(const uint8_t *data, size_t size)
{
	FILE	*f;

	if (fuzz_path[0] == '\0') {
		if (mkdtemp(fuzz_dir) == NULL)
			abort();
		snprintf(fuzz_path, sizeof fuzz_path, "%s/pool.ini", fuzz_dir);
		atexit(fuzz_cleanup);
	}
	if ((f = fopen(fuzz_path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
}

/* What the supervisor relies on in a loaded pool. */
static void
check_pool(const struct config *cfg, const struct pool_config *pc)
{
	size_t	i;

	CHECK(pc->name != NULL && config_find_pool(cfg, pc->name) == pc);
	CHECK(!config_pool_process_differs(pc, pc));
	CHECK(pc->min_workers <= pc->workers &&
	    pc->workers <= pc->max_workers && pc->max_workers > 0);
	if (pc->type == POOL_TYPE_STREAM) {
		CHECK(pc->argv != NULL && pc->argc > 0);
		for (i = 0; i < pc->argc; i++)
			CHECK(pc->argv[i] != NULL);
		CHECK(pc->argv[pc->argc] == NULL);
	}
	for (i = 0; i < pc->nenv; i++)
		CHECK(strchr(pc->env[i], '=') != NULL);
	CHECK(pc->cwd == NULL || pc->cwd[0] == '/');
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	size_t			 i, plen;

	fuzz_write(data, size);
	cfg = config_load(fuzz_path, &errs);
	plen = strlen(fuzz_path);
	for (i = 0; i < errs.n; i++)
		CHECK(strncmp(errs.msgs[i], fuzz_path, plen) == 0 &&
		    errs.msgs[i][plen] == ':');
	if (cfg == NULL)
		CHECK(errs.n > 0);
	else {
		CHECK(errs.n == 0);
		CHECK(cfg->npools > 0 && cfg->path != NULL &&
		    cfg->dir != NULL);
		for (i = 0; i < cfg->npools; i++)
			check_pool(cfg, cfg->pools[i]);
		for (i = 0; i < cfg->nlisten; i++)
			CHECK(cfg->listen[i] != NULL);
	}
	config_free(cfg);
	config_errors_free(&errs);
	return 0;
}
