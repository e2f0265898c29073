/*
 * Subcommands that only relay to a running daemon: disk, stats, trace,
 * shutdown and the raw "ctl".  Each takes --socket PATH (default: the
 * daemon's default control socket) and --json where the daemon offers it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ctl_client.h"

static void ctl_usage(const char *cmd, FILE *out)
{
	if (strcmp(cmd, "disk") == 0)
		fprintf(out,
			"usage: scsikit disk [--socket PATH] list [--json]\n"
			"       scsikit disk [--socket PATH] add NAME SPEC\n"
			"       scsikit disk [--socket PATH] remove NAME\n"
			"       scsikit disk [--socket PATH] eject NAME\n"
			"       scsikit disk [--socket PATH] load NAME "
			"[FILE|SPEC]\n"
			"SPEC as for 'scsikit serve --disk': mem:SIZE or "
			"file:PATH[,direct][,size=SIZE], ,ro for read-only,\n"
			",removable or ,cdrom for a drive whose medium eject "
			"and load swap.\n"
			"Every front end of the daemon exports a disk as soon "
			"as it is added.\n");
	else if (strcmp(cmd, "stats") == 0)
		fprintf(out, "usage: scsikit stats [--socket PATH] [DISK] "
			     "[--json]\n");
	else if (strcmp(cmd, "trace") == 0)
		fprintf(out,
			"usage: scsikit trace [--socket PATH] [CATEGORIES]\n"
			"CATEGORIES: comma list of pdu,cdb,xpt,probe,dmsg,nbd,"
			"bdev,vscsi,ctl, or all, or none\n");
	else if (strcmp(cmd, "shutdown") == 0)
		fprintf(out, "usage: scsikit shutdown [--socket PATH]\n");
	else
		fprintf(out,
			"usage: scsikit ctl [--socket PATH] REQUEST...\n"
			"Sends REQUEST to the daemon's control socket as is "
			"(see docs/control-socket.md).\n");
}

int cmd_ctl_main(int argc, char **argv)
{
	const char *cmd = argv[0];
	const char *sock = ctl_default_socket();
	char *args[64], *abs = NULL;
	int n = 0, rc;

	if (strcmp(cmd, "ctl") != 0)
		args[n++] = argv[0];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			ctl_usage(cmd, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--socket") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "scsikit %s: --socket needs a "
						"path\n", cmd);
				return 2;
			}
			sock = argv[++i];
			continue;
		}
		if (n == (int)(sizeof(args) / sizeof(args[0]))) {
			fprintf(stderr, "scsikit %s: too many arguments\n",
				cmd);
			return 2;
		}
		args[n++] = argv[i];
	}
	if (n == 0 || (strcmp(cmd, "disk") == 0 && n == 1)) {
		ctl_usage(cmd, stderr);
		return 2;
	}
	/* `disk load NAME FILE`: the daemon has its own working directory,
	 * so a bare file path goes to it absolute. */
	if (strcmp(cmd, "disk") == 0 && n == 4 &&
	    strcmp(args[1], "load") == 0 && args[3][0] != '/' &&
	    strncmp(args[3], "mem:", 4) != 0 &&
	    strncmp(args[3], "file:", 5) != 0) {
		abs = realpath(args[3], NULL);
		if (abs == NULL) {
			fprintf(stderr, "scsikit disk: %s: %s\n", args[3],
				strerror(errno));
			return 2;
		}
		args[3] = abs;
	}
	rc = ctl_call(sock, n, args, stdout);
	free(abs);
	return rc == 0 ? 0 : rc == 1 ? 1 : 3;
}
