/*
 * mpsup's own worker for exec pools, run as "mpsup exec-worker": it reads
 * jobs ({"args":[...]} or {"shell":"..."}) on fd 3, runs each in a fresh
 * process group, forwards or captures its output, and writes one result
 * line per job on fd 4.
 */
#ifndef MPSUP_EXEC_WORKER_H
#define MPSUP_EXEC_WORKER_H

/*
 * Run the exec worker until its job input ends. argv[0] is the command
 * name (as for main); options: --output log|capture|both, --capture-max
 * BYTES (K, M, G suffixes). Returns the process exit status.
 */
int	exec_worker_main(int argc, char **argv);

#endif
