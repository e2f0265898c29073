/*
 * scsikit: the one command.  Dispatches to a subcommand from a table; each
 * subcommand parses its options with the shared parser (cli_opt.h) and its
 * own option table, which the table below also names for the bash
 * completion.  Commands whose module is not linked in (weak entry points,
 * see commands.h) are simply absent.
 */
#include <stdio.h>
#include <string.h>

#include <scsikit/api.h>
#include <scsikit/log.h>

#include "commands.h"

const struct command scsikit_commands[] = {
	{ "serve", cmd_serve_main,
	  "run the daemon: disks, exports, CAM buses, control socket",
	  serve_opts, NULL },
	{ "disk", cmd_ctl_main,
	  "list, add or remove a running daemon's disks", ctl_opts,
	  "list add remove fault eject load" },
	{ "stats", cmd_ctl_main, "show a running daemon's I/O statistics",
	  ctl_opts, NULL },
	{ "trace", cmd_ctl_main,
	  "show or set a running daemon's trace categories", ctl_opts,
	  "pdu cdb xpt probe dmsg nbd bdev vscsi ctl all none" },
	{ "status", cmd_ctl_main, "show a running daemon's state", ctl_opts,
	  NULL },
	{ "shutdown", cmd_ctl_main, "stop a running daemon", ctl_opts, NULL },
	{ "fault", cmd_ctl_main,
	  "add, list or clear a running daemon's link faults", ctl_opts,
	  "link" },
	{ "alua", cmd_ctl_main,
	  "list or set a running daemon's ALUA target port groups", ctl_opts,
	  "list set add-group add-peer" },
	{ "ctl", cmd_ctl_main,
	  "send a raw control-socket request to a running daemon", ctl_opts,
	  "version status disk stats trace log-level shutdown iscsi nbd "
	  "xdisk cam vscsi import" },
	{ "cam", cmd_cam_main, "CAM devices: devlist, inquiry, readcap, ...",
	  cam_opts,
	  "devlist inquiry readcap tur reset rescan read write cmd tags "
	  "negotiate pathinq fault" },
	{ "attach", cmd_attach_main,
	  "attach a network disk (xdisk://...) to a running daemon",
	  attach_opts, NULL },
	{ "vscsi-target", cmd_vscsi_target_main,
	  "serve LUNs to a vscsi host adapter as a userland target",
	  vscsi_target_opts, NULL },
	{ "bench", cmd_bench_main, "built-in benchmarks", NULL, NULL },
	{ "config", cmd_config_main,
	  "save a running daemon's configuration as a config file",
	  config_cmd_opts, "save" },
	{ "iscsi", cmd_iscsi_main,
	  "change a running iSCSI target: ACLs, CHAP, LUN maps, portals",
	  iscsi_cmd_opts,
	  "acl chap mutual-chap lun portal sessions targets portals config" },
	{ "completion", cmd_completion_main,
	  "print the bash completion script", NULL, "bash" },
	{ NULL },
};

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
	for (const struct command *c = scsikit_commands; c->name; c++) {
		if (!c->fn)
			continue;
		fprintf(out, "  %-13s %s\n", c->name, c->summary);
	}
	fprintf(out,
		"\n'scsikit <command> --help' describes a command; options may "
		"come in any\norder, as --name VALUE or --name=VALUE.\n"
		"\n"
		"exit status:\n"
		"  0  success\n"
		"  1  the operation failed (the daemon or device answered an "
		"error)\n"
		"  2  usage: unknown command or option, bad or missing value\n"
		"  3  the daemon (or the peer the command needs) could not be "
		"reached\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("scsikit %s\n", SCSIKIT_VERSION_STRING);
		return CLI_EXIT_OK;
	}
	log_init("scsikit", SK_LOG_WARN, 0);
	for (const struct command *c = scsikit_commands; c->name; c++) {
		if (c->fn && strcmp(argv[1], c->name) == 0)
			return c->fn(argc - 1, argv + 1);
	}
	return cli_usage_error("scsikit",
			       "'%s' is not a command; 'scsikit --help' lists "
			       "them",
			       argv[1]);
}
