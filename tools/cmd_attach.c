/*
 * `scsikit attach`: ask a running daemon to import network disks.
 *
 *   scsikit attach [--socket PATH] xdisk://HOST:PORT[,HOST:PORT...][,failfast]
 *   scsikit attach [--socket PATH] --detach [ID]
 *   scsikit attach [--socket PATH] --list
 *
 * The daemon's xdisk client does the work ("xdisk attach URL" on the
 * control socket); the xaN disks it creates are then exported by every
 * front end of that daemon.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ctl_client.h"

static void attach_usage(FILE *out)
{
	fprintf(out,
		"usage: scsikit attach [--socket PATH] "
		"xdisk://HOST:PORT[,HOST:PORT...][,failfast]\n"
		"       scsikit attach [--socket PATH] --detach [ID]\n"
		"       scsikit attach [--socket PATH] --list\n"
		"Every server listed is a path to the disks it exports; spans "
		"with one label\nmake one xaN disk.  failfast: I/O fails when "
		"no path is left instead of waiting.\n");
}

int cmd_attach_main(int argc, char **argv)
{
	const char *sock = ctl_default_socket();
	char *req[3];
	int i = 1, n, rc;

	if (i < argc && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
		attach_usage(stdout);
		return 0;
	}
	if (i + 1 < argc && !strcmp(argv[i], "--socket")) {
		sock = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		attach_usage(stderr);
		return 2;
	}
	req[0] = "xdisk";
	if (!strcmp(argv[i], "--detach")) {
		req[1] = "detach";
		n = 2;
		if (i + 1 < argc)
			req[n++] = argv[i + 1];
	} else if (!strcmp(argv[i], "--list")) {
		req[1] = "list";
		n = 2;
	} else if (!strncmp(argv[i], "xdisk://", 8) && i + 1 == argc) {
		req[1] = "attach";
		req[2] = argv[i];
		n = 3;
	} else {
		fprintf(stderr, "scsikit attach: expected an xdisk:// URL, "
				"got '%s'\n", argv[i]);
		return 2;
	}
	rc = ctl_call(sock, n, req, stdout);
	return rc == 0 ? 0 : 1;
}
