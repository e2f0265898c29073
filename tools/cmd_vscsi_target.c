/*
 * `scsikit vscsi-target`: a userland target for a vscsi SIM of a running
 * `scsikit serve`.  It serves target-engine LUNs on block devices through
 * the vscsi client library (vscsi_tgtsrv), one tgt_target per target id.
 *
 *   scsikit vscsi-target --connect PATH --lun T:L=SPEC [--lun ...]
 *                        [--wait SECONDS] [--no-probe]
 *
 * SPEC is a bdev spec as for `scsikit serve --disk` (mem:64M,
 * file:/path/img[,direct]...).  At start it REQPROBEs every target it
 * serves; the SIM's bus scan then finds the LUNs.  A SIM that is busy (its
 * previous userland end is still being torn down) is retried for --wait
 * seconds (default 10).  Exit status: 0 after SIGINT/SIGTERM, 1 on a
 * start-up error, 2 on a usage error, 3 when the SIM could not be reached
 * or closed the connection.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/target.h>
#include <scsikit/vscsi.h>

#include "commands.h"

#define VT_MAX_LUNS 64

struct vt_lun {
	uint32_t target;
	uint32_t lun;
	const char *spec;
	struct bdev *bd;
	struct tgt_lun *lu;
};

static struct ev_loop *vt_loop;
static volatile sig_atomic_t vt_signalled;
static bool vt_lost;

static void vt_on_signal(int sig)
{
	(void)sig;
	vt_signalled = 1;
	if (vt_loop)
		ev_loop_stop(vt_loop);
}

static void vt_on_gone(void *arg)
{
	(void)arg;
	vt_lost = true;
	ev_loop_stop(vt_loop);
}

enum { VT_CONNECT, VT_LUN, VT_WAIT, VT_NO_PROBE, VT_HELP };

const struct cli_opt vscsi_target_opts[] = {
	{ "connect", 'c', CLI_STR, VT_CONNECT, "PATH", 0, 0,
	  "the vscsi SIM's socket (scsikit serve --vscsi PATH)" },
	{ "lun", 'l', CLI_STR, VT_LUN, "T:L=SPEC", 0, 0,
	  "serve SPEC as LUN L of target T (repeatable)" },
	{ "wait", 'w', CLI_NUM, VT_WAIT, "SECONDS", 0, 3600,
	  "retry a busy or absent SIM this long (10)" },
	{ "no-probe", 'n', CLI_FLAG, VT_NO_PROBE, NULL, 0, 0,
	  "do not ask the SIM to scan the targets at start" },
	{ "help", 'h', CLI_FLAG, VT_HELP, NULL, 0, 0, "this text" },
	{ NULL },
};

static void vt_usage(FILE *f)
{
	fprintf(f,
		"usage: scsikit vscsi-target --connect PATH --lun T:L=SPEC "
		"[--lun T:L=SPEC]...\n"
		"                            [--wait SECONDS] [--no-probe]\n"
		"Serves target-engine LUNs to the vscsi SIM listening at PATH "
		"(scsikit serve --vscsi PATH).\n"
		"SPEC: mem:SIZE[,bs=512|4096] or file:PATH[,direct][,size=SIZE]"
		", with ,ro for read-only.\n");
}

static int vt_parse_lun(const char *arg, struct vt_lun *l)
{
	unsigned long t, n;
	char *end;

	t = strtoul(arg, &end, 10);
	if (end == arg || *end != ':' || t >= VSCSI_TARGETS)
		return -1;
	arg = end + 1;
	n = strtoul(arg, &end, 10);
	if (end == arg || *end != '=' || n >= VSCSI_LUNS || n >= TGT_MAX_LUNS)
		return -1;
	l->target = (uint32_t)t;
	l->lun = (uint32_t)n;
	l->spec = end + 1;
	return *l->spec ? 0 : -1;
}

static int vt_connect(const char *path, unsigned wait_s,
		      struct vscsi_client **c)
{
	uint64_t end = ev_now_ms() + (uint64_t)wait_s * 1000;
	int rc;

	for (;;) {
		rc = vscsi_client_open(path, c);
		if (rc == 0)
			return 0;
		if ((rc != -EBUSY && rc != -ENOENT && rc != -ECONNREFUSED) ||
		    ev_now_ms() >= end || vt_signalled)
			return rc;
		struct timespec ts = {0, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
}

int cmd_vscsi_target_main(int argc, char **argv)
{
	struct vt_lun luns[VT_MAX_LUNS];
	struct tgt_target *targets[VSCSI_TARGETS];
	struct vscsi_client *c = NULL;
	struct vscsi_tgtsrv *srv = NULL;
	const char *path = NULL;
	unsigned nluns = 0, wait_s = 10;
	bool probe = true;
	static const char prog[] = "scsikit vscsi-target";
	struct cli_parser p;
	struct cli_val v;
	struct sigaction sa;
	int opt, rc = 1;

	memset(targets, 0, sizeof(targets));
	cli_init(&p, prog, argc, argv, 1, NULL, 0);
	cli_add_table(&p, vscsi_target_opts);
	while ((opt = cli_next(&p, &v)) != CLI_END) {
		switch (opt) {
		case CLI_ERROR:
			return cli_usage_error(prog, "%s", p.err);
		case VT_CONNECT:
			path = v.str;
			break;
		case VT_LUN:
			if (nluns == VT_MAX_LUNS)
				return cli_usage_error(prog, "too many LUNs");
			memset(&luns[nluns], 0, sizeof(luns[nluns]));
			if (vt_parse_lun(v.str, &luns[nluns]) < 0)
				return cli_usage_error(
					prog, "bad --lun '%s' (T:L=SPEC, "
					      "T < 256, L < 256)", v.str);
			nluns++;
			break;
		case VT_WAIT:
			wait_s = (unsigned)v.num;
			break;
		case VT_NO_PROBE:
			probe = false;
			break;
		case VT_HELP:
			vt_usage(stdout);
			return CLI_EXIT_OK;
		}
	}
	if (!path || nluns == 0) {
		vt_usage(stderr);
		return CLI_EXIT_USAGE;
	}

	/* The LUNs and their targets. */
	for (unsigned i = 0; i < nluns; i++) {
		struct vt_lun *l = &luns[i];
		char name[64], err[256];

		snprintf(name, sizeof(name), "vt%ul%u", l->target, l->lun);
		l->bd = bdev_create_spec(name, l->spec, err, sizeof(err));
		if (!l->bd) {
			fprintf(stderr, "vscsi-target: --lun %u:%u=%s: %s\n",
				l->target, l->lun, l->spec, err);
			goto out;
		}
		l->lu = tgt_lun_create(l->bd, NULL);
		if (!l->lu) {
			fprintf(stderr, "vscsi-target: cannot create LUN %u:%u\n",
				l->target, l->lun);
			goto out;
		}
		if (!targets[l->target]) {
			snprintf(name, sizeof(name), "vscsi-target-%u",
				 l->target);
			targets[l->target] = tgt_target_create(name);
			if (!targets[l->target])
				goto out;
		}
		if (tgt_target_add_lun(targets[l->target], l->lun, l->lu) < 0) {
			fprintf(stderr, "vscsi-target: LUN %u:%u given twice\n",
				l->target, l->lun);
			goto out;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vt_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = vt_connect(path, wait_s, &c);
	if (rc < 0) {
		fprintf(stderr, "vscsi-target: %s: %s\n", path, strerror(-rc));
		rc = CLI_EXIT_UNREACHABLE;
		goto out;
	}
	vt_loop = ev_loop_create();
	if (!vt_loop) {
		vscsi_client_close(c);
		rc = 1;
		goto out;
	}
	srv = vscsi_tgtsrv_create(c, vt_loop);
	if (!srv) {
		vscsi_client_close(c);
		rc = 1;
		goto out_loop;
	}
	for (unsigned t = 0; t < VSCSI_TARGETS; t++)
		if (targets[t])
			vscsi_tgtsrv_add(srv, t, targets[t]);
	rc = vscsi_tgtsrv_start(srv, probe, vt_on_gone, NULL);
	if (rc < 0) {
		fprintf(stderr, "vscsi-target: start: %s\n", strerror(-rc));
		rc = 1;
		goto out_srv;
	}
	log_info("vscsi-target: serving %u LUN%s to %s at %s", nluns,
		 nluns == 1 ? "" : "s", vscsi_client_info(c)->name, path);
	if (!vt_signalled)
		ev_loop_run(vt_loop);
	rc = vt_lost && !vt_signalled ? CLI_EXIT_UNREACHABLE : 0;

out_srv:
	/* Tasks still in the engine finish first (bounded). */
	for (int i = 0; i < 100 && vscsi_tgtsrv_inflight(srv) > 0; i++)
		ev_loop_run_once(vt_loop, 50);
	vscsi_tgtsrv_destroy(srv);
out_loop:
	ev_loop_destroy(vt_loop);
	vt_loop = NULL;
out:
	for (unsigned t = 0; t < VSCSI_TARGETS; t++)
		if (targets[t])
			tgt_target_release(targets[t]);
	for (unsigned i = 0; i < nluns; i++) {
		if (luns[i].lu)
			tgt_lun_release(luns[i].lu);
		if (luns[i].bd)
			bdev_release(luns[i].bd);
	}
	bdev_pool_shutdown();
	return rc;
}
