/*
 * Test driver: runs the exec worker exactly as "mpsup exec-worker" would,
 * so its integration tests do not depend on the supervisor's main().
 */
#include "config.h"

#include "worker/exec/exec_worker.h"

/* Hand the arguments to the exec worker. */
int
main(int argc, char **argv)
{
	return exec_worker_main(argc, argv);
}
