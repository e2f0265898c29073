/*
 * cam commands that change the transport: reset, rescan, tags, negotiate,
 * fault (see cam_cli.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "cam_cli.h"
#include "json_out.h"

/* ---- reset, rescan ---- */

int cam_cmd_reset(struct cli *c)
{
	union ccb ccb;
	uint32_t b, t = CAM_TARGET_WILDCARD, st;
	uint64_t l = CAM_LUN_WILDCARD;
	bool bus;
	char what[64];

	if (c->npos < 2 || (strcmp(c->pos[0], "bus") && strcmp(c->pos[0], "dev"))) {
		fprintf(c->err, "usage: reset bus BUS | reset dev DEV\n");
		return 2;
	}
	bus = !strcmp(c->pos[0], "bus");
	if (bus) {
		long long v;

		if (cam_parse_ll(c->pos[1], &v) < 0 || v < 0 || v > 63) {
			fprintf(c->err, "bad bus '%s'\n", c->pos[1]);
			return 2;
		}
		b = (uint32_t)v;
		snprintf(what, sizeof(what), "bus %u", b);
	} else {
		if (cam_parse_dev(c->pos[1], &b, &t, &l) < 0) {
			fprintf(c->err, "bad device '%s'\n", c->pos[1]);
			return 2;
		}
		snprintf(what, sizeof(what), "%u:%u:%llu", b, t,
			 (unsigned long long)l);
	}
	memset(&ccb, 0, sizeof(ccb));
	xpt_setup_ccb(&ccb.ccb_h, b, t, l, bus ? XPT_RESET_BUS : XPT_RESET_DEV);
	st = cam_sync_action(c->loop, &ccb);
	if (c->json) {
		fprintf(c->out, "{\"reset\":\"%s\",\"status\":", bus ? "bus" : "dev");
		json_put_string(c->out, cam_status_name(st));
		fputs("}\n", c->out);
	} else if (cam_ccb_status(st) == CAM_REQ_CMP) {
		fprintf(c->out, "Reset of %s was successful\n", what);
	} else {
		fprintf(c->err, "Reset of %s failed: %s\n", what,
			cam_status_name(st));
	}
	return cam_ccb_status(st) == CAM_REQ_CMP ? 0 : 1;
}

int cam_cmd_rescan(struct cli *c)
{
	uint32_t b = CAM_BUS_WILDCARD, st;

	if (c->npos >= 1 && strcmp(c->pos[0], "all")) {
		long long v;

		if (cam_parse_ll(c->pos[0], &v) < 0 || v < 0 || v > 63) {
			fprintf(c->err, "bad bus '%s'\n", c->pos[0]);
			return 2;
		}
		b = (uint32_t)v;
	}
	st = cam_sync_rescan(c->loop, b);
	if (c->json) {
		fputs("{\"status\":", c->out);
		json_put_string(c->out, cam_status_name(st));
		fputs("}\n", c->out);
	} else if (cam_ccb_status(st) == CAM_REQ_CMP) {
		if (b == CAM_BUS_WILDCARD)
			fprintf(c->out, "Re-scan of all buses was successful\n");
		else
			fprintf(c->out, "Re-scan of bus %u was successful\n", b);
	} else {
		fprintf(c->err, "Re-scan failed: %s\n", cam_status_name(st));
	}
	return cam_ccb_status(st) == CAM_REQ_CMP ? 0 : 1;
}

/* ---- tags ---- */

struct tags_ctx {
	uint32_t b, t;
	uint64_t l;
	long long set;
	int rc;
	struct cam_dev_info d;
	bool found;
};

static void tags_fn(void *arg)
{
	struct tags_ctx *x = arg;
	struct cam_dev_info all[256];
	unsigned n;

	if (x->set >= 0)
		x->rc = xpt_set_openings(x->b, x->t, x->l, (uint32_t)x->set);
	n = xpt_dev_list(x->b, all, 256);
	for (unsigned i = 0; i < n && i < 256; i++)
		if (all[i].target == x->t && all[i].lun == x->l) {
			x->d = all[i];
			x->found = true;
		}
}

int cam_cmd_tags(struct cli *c)
{
	struct tags_ctx x;
	FILE *o = c->out;
	char id[64];

	memset(&x, 0, sizeof(x));
	if (cam_need_dev(c, &x.b, &x.t, &x.l) < 0)
		return 2;
	x.set = c->opt_N;
	cam_sync_call(c->loop, tags_fn, &x);
	if (x.rc < 0 || !x.found) {
		fprintf(c->err, "%s: no such device\n", c->pos[0]);
		return 1;
	}
	snprintf(id, sizeof(id), "(%s%u:%u:%u:%llu)", x.d.sim_name,
		 x.d.sim_unit, x.b, x.t, (unsigned long long)x.l);
	if (c->json) {
		fprintf(o, "{\"openings\":%u,\"tagged\":%s,\"active\":%u,"
			   "\"queued\":%u,\"frozen\":%u,\"commands\":%llu,"
			   "\"errors\":%llu,\"retries\":%llu,\"timeouts\":%llu}\n",
			x.d.openings, x.d.tagged ? "true" : "false", x.d.active,
			x.d.queued, x.d.frozen, (unsigned long long)x.d.cmds,
			(unsigned long long)x.d.errors,
			(unsigned long long)x.d.retries,
			(unsigned long long)x.d.timeouts);
		return 0;
	}
	fprintf(o, "%s: device openings: %u\n", id, x.d.openings);
	if (c->verbose) {
		fprintf(o, "%s: tagged queueing: %s\n", id,
			x.d.tagged ? "enabled" : "disabled");
		fprintf(o, "%s: dev_active      %u\n", id, x.d.active);
		fprintf(o, "%s: devq_queued     %u\n", id, x.d.queued);
		fprintf(o, "%s: held            %u\n", id, x.d.frozen);
		fprintf(o, "%s: commands        %llu\n", id,
			(unsigned long long)x.d.cmds);
		fprintf(o, "%s: errors          %llu\n", id,
			(unsigned long long)x.d.errors);
		fprintf(o, "%s: retries         %llu\n", id,
			(unsigned long long)x.d.retries);
		fprintf(o, "%s: timeouts        %llu\n", id,
			(unsigned long long)x.d.timeouts);
	}
	return 0;
}

/* ---- negotiate ---- */

static int onoff(const char *s, bool *v)
{
	if (!strcmp(s, "enable") || !strcmp(s, "on") || !strcmp(s, "1"))
		*v = true;
	else if (!strcmp(s, "disable") || !strcmp(s, "off") || !strcmp(s, "0"))
		*v = false;
	else
		return -1;
	return 0;
}

static void print_settings(struct cli *c, const char *title,
			   const struct ccb_trans_settings *cts, bool last)
{
	FILE *o = c->out;

	if (c->json) {
		fprintf(o, "\"%s\":{\"bus_width\":%u,\"sync_period\":%u,"
			   "\"sync_offset\":%u,\"disconnect\":%s,\"tagged\":%s}%s",
			title, cts->bus_width, cts->sync_period,
			cts->sync_offset,
			(cts->flags & CCB_TRANS_DISC_ENB) ? "true" : "false",
			(cts->flags & CCB_TRANS_TAG_ENB) ? "true" : "false",
			last ? "" : ",");
		return;
	}
	fprintf(o, "%c%s Parameters:\n", title[0] - 'a' + 'A', title + 1);
	fprintf(o, "  sync parameter: %u\n", cts->sync_period);
	fprintf(o, "  offset: %u\n", cts->sync_offset);
	fprintf(o, "  bus width: %u bits\n", cts->bus_width);
	fprintf(o, "  disconnection is %s\n",
		(cts->flags & CCB_TRANS_DISC_ENB) ? "enabled" : "disabled");
	fprintf(o, "  tagged queueing: %s\n",
		(cts->flags & CCB_TRANS_TAG_ENB) ? "enabled" : "disabled");
}

int cam_cmd_negotiate(struct cli *c)
{
	uint32_t b, t;
	uint64_t l;
	union ccb ccb;
	bool on;
	uint32_t st;

	if (cam_need_dev(c, &b, &t, &l) < 0)
		return 2;
	memset(&ccb, 0, sizeof(ccb));
	xpt_setup_ccb(&ccb.ccb_h, b, t, l, XPT_SET_TRAN_SETTINGS);
	ccb.cts.flags = c->opt_user ? CCB_TRANS_USER_SETTINGS
				    : CCB_TRANS_CURRENT_SETTINGS;
	if (c->opt_T) {
		if (onoff(c->opt_T, &on) < 0)
			goto bad;
		ccb.cts.valid |= CCB_TRANS_TQ_VALID;
		if (on)
			ccb.cts.flags |= CCB_TRANS_TAG_ENB;
	}
	if (c->opt_D) {
		if (onoff(c->opt_D, &on) < 0)
			goto bad;
		ccb.cts.valid |= CCB_TRANS_DISC_VALID;
		if (on)
			ccb.cts.flags |= CCB_TRANS_DISC_ENB;
	}
	if (c->opt_W >= 0) {
		ccb.cts.valid |= CCB_TRANS_BUS_WIDTH_VALID;
		ccb.cts.bus_width = (uint32_t)c->opt_W;
	}
	if (c->opt_O >= 0) {
		ccb.cts.valid |= CCB_TRANS_SYNC_OFFSET_VALID;
		ccb.cts.sync_offset = (uint32_t)c->opt_O;
	}
	if (c->opt_R >= 0) {
		ccb.cts.valid |= CCB_TRANS_SYNC_RATE_VALID;
		ccb.cts.sync_period = (uint32_t)c->opt_R;
	}
	if (ccb.cts.valid) {
		st = cam_sync_action(c->loop, &ccb);
		if (cam_ccb_status(st) != CAM_REQ_CMP) {
			fprintf(c->err, "XPT_SET_TRAN_SETTINGS: %s\n",
				cam_status_name(st));
			return 1;
		}
	}
	static const struct {
		uint32_t flag;
		const char *name;
	} sets[] = {
		{CCB_TRANS_CURRENT_SETTINGS, "current"},
		{CCB_TRANS_GOAL_SETTINGS, "goal"},
		{CCB_TRANS_USER_SETTINGS, "user"},
	};
	if (c->json)
		fputc('{', c->out);
	for (unsigned i = 0; i < 3; i++) {
		if (c->opt_user && sets[i].flag != CCB_TRANS_USER_SETTINGS &&
		    !c->opt_current)
			continue;
		if (c->opt_current && !c->opt_user &&
		    sets[i].flag == CCB_TRANS_USER_SETTINGS)
			continue;
		memset(&ccb, 0, sizeof(ccb));
		xpt_setup_ccb(&ccb.ccb_h, b, t, l, XPT_GET_TRAN_SETTINGS);
		ccb.cts.flags = sets[i].flag;
		st = cam_sync_action(c->loop, &ccb);
		if (cam_ccb_status(st) != CAM_REQ_CMP) {
			fprintf(c->err, "XPT_GET_TRAN_SETTINGS: %s\n",
				cam_status_name(st));
			if (c->json)
				fputs("}\n", c->out);
			return 1;
		}
		bool last = i == 2 || (c->opt_current && !c->opt_user && i == 1);

		print_settings(c, sets[i].name, &ccb.cts, last);
	}
	if (c->json)
		fputs("}\n", c->out);
	return 0;
bad:
	fprintf(c->err, "-T and -D take enable or disable\n");
	return 2;
}

/* ---- fault ---- */

struct fault_ctx {
	struct cam_loop *lp;
	struct cam_loop_fault f;
	bool clear;
	int rc;
	uint64_t hits;
};

static void fault_fn(void *arg)
{
	struct fault_ctx *x = arg;

	if (x->clear)
		cam_loop_fault_clear(x->lp);
	else
		x->rc = cam_loop_fault_add(x->lp, &x->f);
	x->hits = cam_loop_fault_hits(x->lp);
}

int cam_cmd_fault(struct cli *c)
{
	struct fault_ctx x;
	long long v;

	memset(&x, 0, sizeof(x));
	if (c->npos < 2 || cam_parse_ll(c->pos[0], &v) < 0) {
		fprintf(c->err, "usage: fault BUS SPEC|clear\n");
		return 2;
	}
	for (unsigned i = 0; i < c->nsims; i++)
		if (c->sims[i] &&
		    cam_sim_path(cam_loop_sim(c->sims[i])) == (uint32_t)v)
			x.lp = c->sims[i];
	if (!x.lp) {
		fprintf(c->err, "bus %lld is not a loop SIM\n", v);
		return 1;
	}
	if (!strcmp(c->pos[1], "clear")) {
		x.clear = true;
	} else if (cam_loop_fault_parse(c->pos[1], &x.f) < 0) {
		fprintf(c->err, "bad fault spec '%s'\n", c->pos[1]);
		return 2;
	}
	cam_sync_call(c->loop, fault_fn, &x);
	if (x.rc < 0) {
		fprintf(c->err, "fault table full\n");
		return 1;
	}
	if (c->json)
		fprintf(c->out, "{\"hits\":%llu}\n", (unsigned long long)x.hits);
	else
		fprintf(c->out, "bus %lld: %s (hits so far: %llu)\n", v,
			x.clear ? "faults cleared" : "fault added",
			(unsigned long long)x.hits);
	return 0;
}

