/*
 * `scsikit cam`: the CAM control tool.  The commands themselves are in
 * src/daemon/cam_cli*.c (the daemon runs them too); this file checks the
 * command line, then either builds the stack in this process (--sim URL)
 * or sends the command to a running daemon.
 */
#include <stdio.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/iscsi_ini.h>

#include "cam_cli.h"
#include "commands.h"
#include "ctl_client.h"

/* ---- the in-process stack ---- */

struct local_stack {
	struct ev_thread *thread;
	struct ev_loop *loop;
	const char *url;
	struct cam_loop *lp;
	struct iscsi_ini *isess; /* for iscsi:// URLs */
	int rc;
	char err[256];
};

static void local_create(void *arg)
{
	struct local_stack *s = arg;

	/* iscsi:// is a session to a target, made by the initiator SIM. */
	if (!strncmp(s->url, "iscsi://", 8)) {
		s->rc = cam_iscsi_create_url(s->url, s->loop, &s->isess,
					     s->err, sizeof(s->err));
		return;
	}
	s->rc = cam_loop_create_url(s->url, s->loop, &s->lp, s->err,
				    sizeof(s->err));
}

static void local_destroy(void *arg)
{
	struct local_stack *s = arg;

	iscsi_ini_destroy(s->isess);
	s->isess = NULL;
	cam_loop_destroy(s->lp);
	s->lp = NULL;
}

static int run_local(const char *url, int argc, char **argv)
{
	struct local_stack s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.url = url;
	/* The stack runs on a loop thread of its own, so that this thread
	 * may wait for it with the cam_sync_* helpers. */
	s.thread = ev_thread_start();
	if (!s.thread) {
		fprintf(stderr, "scsikit cam: cannot start an event loop\n");
		return 1;
	}
	s.loop = ev_thread_loop(s.thread);
	cam_sync_call(s.loop, local_create, &s);
	if (s.rc < 0) {
		fprintf(stderr, "scsikit cam: %s: %s\n", url, s.err);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	/* A session must have logged in before its bus can be scanned. */
	if (s.isess && iscsi_ini_wait_ready(s.isess, 30000, s.err,
					    sizeof(s.err)) < 0) {
		fprintf(stderr, "scsikit cam: %s: %s\n", url, s.err);
		cam_sync_call(s.loop, local_destroy, &s);
		rc = CLI_EXIT_UNREACHABLE;
		goto out;
	}
	cam_sync_rescan(s.loop, (uint32_t)s.rc);
	rc = cam_cli_exec(s.loop, &s.lp, 1, argc, argv, stdout, stderr);
	cam_sync_call(s.loop, local_destroy, &s);
out:
	ev_thread_stop(s.thread);
	bdev_registry_clear();
	return rc;
}

int cmd_cam_main(int argc, char **argv)
{
	char *req[64];
	struct cam_args a;
	struct cli c;
	int rc;

	/* Check the whole command line here, so that a usage error is one
	 * line and exit 2 whichever stack runs the command. */
	cam_cli_defaults(&c);
	memset(&a, 0, sizeof(a));
	req[0] = "cam";
	a.req = req;
	a.nreq = 1;
	if (argc < 2) {
		cam_cli_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	rc = cam_cli_parse(&c, &a, argc - 1, argv + 1, stderr);
	if (rc)
		return rc;
	if (a.help) {
		cam_cli_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (a.sim && a.sock)
		return cli_usage_error("scsikit cam", "--sim and --socket "
						      "exclude each other");
	if (a.sim)
		return run_local(a.sim, a.nreq - 1, req + 1);
	/* Through the daemon: "cam COMMAND ARGS...". */
	return ctl_call_exit(a.sock ? a.sock : ctl_default_socket(), a.nreq,
			     req);
}

