/*
 * scsikit: the one command.  Dispatches to a subcommand from a table; each
 * subcommand parses its own options.  Commands whose module is not linked
 * in (weak entry points, see commands.h) are simply absent.
 */
#include <stdio.h>
#include <string.h>

#include <scsikit/api.h>
#include <scsikit/log.h>

#include "commands.h"

struct command {
	const char *name;
	cmd_main_fn fn;
	const char *summary;
};

static const struct command commands[] = {
	{ "serve", cmd_serve_main,
	  "run the daemon: disks, exports, CAM buses, control socket" },
	{ "disk", cmd_ctl_main,
	  "list, add or remove a running daemon's disks" },
	{ "stats", cmd_ctl_main, "show a running daemon's I/O statistics" },
	{ "trace", cmd_ctl_main,
	  "show or set a running daemon's trace categories" },
	{ "shutdown", cmd_ctl_main, "stop a running daemon" },
	{ "alua", cmd_ctl_main,
	  "list or set a running daemon's ALUA target port groups" },
	{ "ctl", cmd_ctl_main,
	  "send a raw control-socket request to a running daemon" },
	{ "cam", cmd_cam_main, "CAM devices: devlist, inquiry, readcap, ..." },
	{ "attach", cmd_attach_main,
	  "attach a network disk (xdisk://...) to a running daemon" },
	{ "vscsi-target", cmd_vscsi_target_main,
	  "serve LUNs to a vscsi host adapter as a userland target" },
	{ "bench", cmd_bench_main, "built-in benchmarks" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"usage: scsikit [--version] [--help] <command> [<args>]\n"
		"\n"
		"scsikit is a userspace SCSI storage stack: it exports block\n"
		"storage over iSCSI, NBD and DMSG, and imports remote SCSI\n"
		"devices and network disks through a CAM transport layer.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (!commands[i].fn)
			continue;
		fprintf(out, "  %-13s %s\n", commands[i].name,
			commands[i].summary);
	}
	fprintf(out, "\n'scsikit <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("scsikit %s\n", SCSIKIT_VERSION_STRING);
		return 0;
	}
	log_init("scsikit", SK_LOG_WARN, 0);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (commands[i].fn && strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr,
		"scsikit: '%s' is not a command; 'scsikit --help' lists them\n",
		argv[1]);
	return 2;
}
