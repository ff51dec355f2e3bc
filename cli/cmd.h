/*
 * Subcommands of the mpsup binary, one file each (cli/cmd_*.c).
 * Each takes its own argv (argv[0] is the subcommand's name) and returns
 * the process exit status: 0 success, 1 failed, 2 usage or config error,
 * 3 cannot connect or authenticate.
 */
#ifndef MPSUP_CMD_H
#define MPSUP_CMD_H

int	cmd_check(int argc, char **argv);
int	cmd_ctl(int argc, char **argv);
int	cmd_jobs(int argc, char **argv);
int	cmd_dead(int argc, char **argv);
int	cmd_keygen(int argc, char **argv);
int	cmd_logs(int argc, char **argv);
int	cmd_result(int argc, char **argv);
int	cmd_retry(int argc, char **argv);
int	cmd_status(int argc, char **argv);
int	cmd_submit(int argc, char **argv);

#endif
