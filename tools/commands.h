/*
 * The subcommands of `scsikit`.  Each lives in its own tools/cmd_<name>.c
 * and has one entry point; the table in tools/scsikit.c lists them.  Entry
 * points of parts still being built are weak, so the command exists exactly
 * when its file is linked in.
 */
#ifndef SCSIKIT_TOOLS_COMMANDS_H
#define SCSIKIT_TOOLS_COMMANDS_H

/* argv[0] is the subcommand's name; return the process exit status. */
typedef int (*cmd_main_fn)(int argc, char **argv);

int cmd_serve_main(int argc, char **argv);
int cmd_ctl_main(int argc, char **argv);	/* disk/stats/trace/... */
int cmd_cam_main(int argc, char **argv) __attribute__((weak));
int cmd_attach_main(int argc, char **argv) __attribute__((weak));
int cmd_vscsi_target_main(int argc, char **argv) __attribute__((weak));
int cmd_bench_main(int argc, char **argv) __attribute__((weak));
int cmd_config_main(int argc, char **argv) __attribute__((weak));
int cmd_iscsi_main(int argc, char **argv) __attribute__((weak));

#endif
