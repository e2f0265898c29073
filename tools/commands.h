/*
 * The subcommands of `scsikit`.  Each lives in its own tools/cmd_<name>.c
 * and has one entry point and one option table (src/daemon/cli_opt.h); the
 * table in tools/scsikit.c lists them.  Entry points of parts still being
 * built are weak, so the command exists exactly when its file is linked in.
 */
#ifndef SCSIKIT_TOOLS_COMMANDS_H
#define SCSIKIT_TOOLS_COMMANDS_H

#include "cli_opt.h"

/* argv[0] is the subcommand's name; return the process exit status
 * (CLI_EXIT_*). */
typedef int (*cmd_main_fn)(int argc, char **argv);

struct command {
	const char *name;
	cmd_main_fn fn;
	const char *summary;
	const struct cli_opt *opts;	/* its own options */
	const char *words;		/* its verbs, for completion */
};

/* The table (tools/scsikit.c), ended by a NULL name. */
extern const struct command scsikit_commands[];

/* The options every command that talks to the daemon takes: --socket,
 * --json, --help (tools/cmd_ctl.c). */
extern const struct cli_opt cli_client_opts[];

int cmd_serve_main(int argc, char **argv);
extern const struct cli_opt serve_opts[];
int cmd_ctl_main(int argc, char **argv);	/* disk/stats/trace/... */
extern const struct cli_opt ctl_opts[];
int cmd_completion_main(int argc, char **argv);
int cmd_cam_main(int argc, char **argv) __attribute__((weak));
extern const struct cli_opt cam_opts[] __attribute__((weak));
int cmd_attach_main(int argc, char **argv) __attribute__((weak));
extern const struct cli_opt attach_opts[] __attribute__((weak));
int cmd_vscsi_target_main(int argc, char **argv) __attribute__((weak));
extern const struct cli_opt vscsi_target_opts[] __attribute__((weak));
int cmd_bench_main(int argc, char **argv) __attribute__((weak));
int cmd_config_main(int argc, char **argv) __attribute__((weak));
extern const struct cli_opt config_cmd_opts[] __attribute__((weak));
int cmd_iscsi_main(int argc, char **argv) __attribute__((weak));
extern const struct cli_opt iscsi_cmd_opts[] __attribute__((weak));

#endif
