/*
 * cam commands that show devices: devlist, inquiry, readcap, tur, pathinq
 * (see cam_cli.h).
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

/* ---- devlist ---- */

struct devlist_ctx {
	struct cam_dev_info d[256];
	unsigned n;
	uint32_t buses[64];
	unsigned nbuses;
	union ccb cpi[64];
};

static void devlist_fn(void *arg)
{
	struct devlist_ctx *x = arg;

	x->n = xpt_dev_list(CAM_BUS_WILDCARD, x->d, 256);
	if (x->n > 256)
		x->n = 256;
	x->nbuses = xpt_bus_list(x->buses, 64);
	if (x->nbuses > 64)
		x->nbuses = 64;
	for (unsigned i = 0; i < x->nbuses; i++) {
		memset(&x->cpi[i], 0, sizeof(x->cpi[i]));
		xpt_setup_ccb(&x->cpi[i].ccb_h, x->buses[i],
			      CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD,
			      XPT_PATH_INQ);
		xpt_action(&x->cpi[i]);
	}
}

/* The multipath disks over the buses' devices (a daemon's imports). */
static void devlist_mpath(struct cli *c)
{
	struct bdev *mp[16];
	struct cam_mpath_path_info pi[CAM_MPATH_MAX_PATHS];
	unsigned n = cam_mpath_list(mp, 16);
	FILE *o = c->out;

	if (c->json)
		fputs("],\"multipath\":[", o);
	for (unsigned i = 0; i < n && i < 16; i++) {
		unsigned np = cam_mpath_paths(mp[i], pi, CAM_MPATH_MAX_PATHS);

		if (np > CAM_MPATH_MAX_PATHS)
			np = CAM_MPATH_MAX_PATHS;
		if (c->json) {
			fprintf(o, "%s{\"disk\":", i ? "," : "");
			json_put_string(o, bdev_name(mp[i]));
			fputs(",\"paths\":[", o);
		} else {
			fprintf(o, "multipath %s:\n", bdev_name(mp[i]));
		}
		for (unsigned j = 0; j < np; j++) {
			if (c->json) {
				fprintf(o, "%s{\"path\":", j ? "," : "");
				json_put_string(o, pi[j].label);
				fprintf(o, ",\"state\":\"%s\",\"priority\":%d}",
					pi[j].failed ? "failed" : "active",
					pi[j].prio);
			} else {
				fprintf(o, "  %-7s prio %d  %s\n",
					pi[j].failed ? "failed" : "active",
					pi[j].prio, pi[j].label);
			}
		}
		if (c->json)
			fputs("]}", o);
		bdev_release(mp[i]);
	}
}

int cam_cmd_devlist(struct cli *c)
{
	struct devlist_ctx *x = calloc(1, sizeof(*x));
	FILE *o = c->out;

	if (!x)
		return 1;
	cam_sync_call(c->loop, devlist_fn, x);
	bool first = true;

	if (c->json)
		fputs("{\"devices\":[", o);
	for (unsigned bi = 0; bi < x->nbuses; bi++) {
		struct ccb_pathinq *cpi = &x->cpi[bi].cpi;
		unsigned shown = 0;

		if (!c->json && c->verbose)
			fprintf(o, "scbus%u on %s%u bus %u:\n", x->buses[bi],
				cpi->dev_name, cpi->unit_number, cpi->bus_id);
		for (unsigned i = 0; i < x->n; i++) {
			struct cam_dev_info *d = &x->d[i];
			char v[9], p[17], r[5], id[64];

			if (d->path_id != x->buses[bi])
				continue;
			cam_trimcopy(v, d->inq + 8, 8);
			cam_trimcopy(p, d->inq + 16, 16);
			cam_trimcopy(r, d->inq + 32, 4);
			if (c->json) {
				if (!first)
					fputc(',', o);
				first = false;
				fprintf(o, "{\"bus\":%u,\"target\":%u,"
					   "\"lun\":%llu,\"vendor\":",
					d->path_id, d->target,
					(unsigned long long)d->lun);
				json_put_string(o, v);
				fputs(",\"product\":", o);
				json_put_string(o, p);
				fputs(",\"revision\":", o);
				json_put_string(o, r);
				fprintf(o, ",\"type\":%u,\"sim\":", d->inq[0] & 0x1f);
				json_put_string(o, d->sim_name);
				fprintf(o, ",\"unit\":%u,\"tagged\":%s,"
					   "\"openings\":%u}",
					d->sim_unit, d->tagged ? "true" : "false",
					d->openings);
				continue;
			}
			snprintf(id, sizeof(id), "<%s %s %s>", v, p, r);
			fprintf(o, "%-33s at scbus%u target %u lun %llu (%s%u)\n",
				id, d->path_id, d->target,
				(unsigned long long)d->lun, d->sim_name,
				d->sim_unit);
			shown++;
		}
		(void)shown;
	}
	devlist_mpath(c);
	if (c->json)
		fputs("]}\n", o);
	free(x);
	return 0;
}

/* ---- inquiry, readcap, tur ---- */

int cam_cmd_inquiry(struct cli *c)
{
	uint32_t b, t;
	uint64_t l;
	uint8_t inq[96], vpd[256];
	uint8_t cdb[6] = {SCSI_INQUIRY, 0, 0, 0, sizeof(inq), 0};
	uint8_t vcdb[6] = {SCSI_INQUIRY, 1, 0x80, 0, 252, 0};
	struct cam_pass_req r;
	char v[9], p[17], rev[5], serial[256] = "";
	FILE *o = c->out;

	if (cam_need_dev(c, &b, &t, &l) < 0)
		return 2;
	memset(inq, 0, sizeof(inq));
	if (cam_run(c, b, t, l, cdb, 6, CAM_DIR_IN, inq, sizeof(inq),
		    c->retries, &r, false) < 0)
		return 1;
	cam_trimcopy(v, inq + 8, 8);
	cam_trimcopy(p, inq + 16, 16);
	cam_trimcopy(rev, inq + 32, 4);
	memset(vpd, 0, sizeof(vpd));
	if (cam_run(c, b, t, l, vcdb, 6, CAM_DIR_IN, vpd, 252, c->retries,
		    NULL, true) == 0 &&
	    vpd[1] == 0x80) {
		size_t n = vpd[3];

		if (n > 251)
			n = 251;
		cam_trimcopy(serial, vpd + 4, n);
	}
	if (c->json) {
		fputs("{\"vendor\":", o);
		json_put_string(o, v);
		fputs(",\"product\":", o);
		json_put_string(o, p);
		fputs(",\"revision\":", o);
		json_put_string(o, rev);
		fprintf(o, ",\"type\":%u,\"qualifier\":%u,\"version\":%u,"
			   "\"cmdque\":%s,\"serial\":",
			inq[0] & 0x1f, inq[0] >> 5, inq[2],
			(inq[7] & 0x02) ? "true" : "false");
		json_put_string(o, serial);
		fputs(",\"raw\":", o);
		cam_json_hex(o, inq, 36);
		fputs("}\n", o);
		return 0;
	}
	fprintf(o, "%u:%u:%llu: <%s %s %s> %s %s %s device\n", b, t,
		(unsigned long long)l, v, p, rev,
		(inq[1] & 0x80) ? "Removable" : "Fixed",
		cam_devtype_name(inq[0] & 0x1f), cam_version_name(inq[2]));
	if (serial[0])
		fprintf(o, "%u:%u:%llu: Serial Number %s\n", b, t,
			(unsigned long long)l, serial);
	if (inq[7] & 0x02)
		fprintf(o, "%u:%u:%llu: Command Queueing enabled\n", b, t,
			(unsigned long long)l);
	return 0;
}


int cam_get_capacity(struct cli *c, uint32_t b, uint32_t t, uint64_t l,
			struct capacity *cap, bool quiet)
{
	uint8_t buf[32] = {0};
	uint8_t cdb16[16] = {SCSI_SERVICE_ACTION_IN_16,
			     SCSI_SAI_READ_CAPACITY_16};
	uint8_t cdb10[10] = {SCSI_READ_CAPACITY_10};

	memset(cap, 0, sizeof(*cap));
	scsi_put32(&cdb16[10], sizeof(buf));
	if (cam_run(c, b, t, l, cdb16, 16, CAM_DIR_IN, buf, sizeof(buf),
		    c->retries, NULL, true) == 0) {
		cap->blocks = scsi_get64(buf) + 1;
		cap->bs = scsi_get32(buf + 8);
		cap->pexp = buf[13] & 0x0f;
		cap->lbpme = buf[14] & 0x80;
		cap->lbprz = buf[14] & 0x40;
		return 0;
	}
	if (cam_run(c, b, t, l, cdb10, 10, CAM_DIR_IN, buf, 8, c->retries,
		    NULL, quiet) < 0)
		return -1;
	cap->blocks = (uint64_t)scsi_get32(buf) + 1;
	cap->bs = scsi_get32(buf + 4);
	return 0;
}

int cam_cmd_readcap(struct cli *c)
{
	uint32_t b, t;
	uint64_t l;
	struct capacity cap;
	FILE *o = c->out;

	if (cam_need_dev(c, &b, &t, &l) < 0)
		return 2;
	if (cam_get_capacity(c, b, t, l, &cap, false) < 0)
		return 1;
	if (c->json) {
		fprintf(o, "{\"last_lba\":%llu,\"block_length\":%u,"
			   "\"blocks\":%llu,\"bytes\":%llu,"
			   "\"physical_block_exponent\":%u,\"lbpme\":%s,"
			   "\"lbprz\":%s}\n",
			(unsigned long long)(cap.blocks - 1), cap.bs,
			(unsigned long long)cap.blocks,
			(unsigned long long)(cap.blocks * cap.bs), cap.pexp,
			cap.lbpme ? "true" : "false",
			cap.lbprz ? "true" : "false");
		return 0;
	}
	fprintf(o, "Last Block: %llu, Block Length: %u bytes\n",
		(unsigned long long)(cap.blocks - 1), cap.bs);
	fprintf(o, "Capacity: %llu blocks, %llu bytes (%.2f MiB)%s\n",
		(unsigned long long)cap.blocks,
		(unsigned long long)(cap.blocks * cap.bs),
		(double)(cap.blocks * cap.bs) / (1024.0 * 1024.0),
		cap.lbpme ? ", thin provisioned" : "");
	return 0;
}

int cam_cmd_tur(struct cli *c)
{
	uint32_t b, t;
	uint64_t l;
	uint8_t cdb[6] = {SCSI_TEST_UNIT_READY};
	int rc;

	if (cam_need_dev(c, &b, &t, &l) < 0)
		return 2;
	rc = cam_run(c, b, t, l, cdb, 6, CAM_DIR_NONE, NULL, 0, c->retries,
		     NULL, c->json);
	if (c->json)
		fprintf(c->out, "{\"ready\":%s}\n", rc == 0 ? "true" : "false");
	else
		fprintf(c->out, "Unit is %sready\n", rc == 0 ? "" : "not ");
	return rc == 0 ? 0 : 1;
}

/* ---- pathinq ---- */

int cam_cmd_pathinq(struct cli *c)
{
	union ccb ccb;
	long long v = 0;
	uint32_t st;
	FILE *o = c->out;
	struct ccb_pathinq *p = &ccb.cpi;

	if (c->npos >= 1 && (cam_parse_ll(c->pos[0], &v) < 0 || v < 0 || v > 63)) {
		fprintf(c->err, "bad bus '%s'\n", c->pos[0]);
		return 2;
	}
	memset(&ccb, 0, sizeof(ccb));
	xpt_setup_ccb(&ccb.ccb_h, (uint32_t)v, CAM_TARGET_WILDCARD,
		      CAM_LUN_WILDCARD, XPT_PATH_INQ);
	st = cam_sync_action(c->loop, &ccb);
	if (cam_ccb_status(st) != CAM_REQ_CMP) {
		fprintf(c->err, "XPT_PATH_INQ: %s\n", cam_status_name(st));
		return 1;
	}
	if (c->json) {
		fprintf(o, "{\"version_num\":%u,\"hba_inquiry\":%u,"
			   "\"target_sprt\":%u,\"hba_misc\":%u,"
			   "\"hba_eng_cnt\":%u,\"max_target\":%u,"
			   "\"max_lun\":%llu,\"async_flags\":%u,\"hpath_id\":%u,"
			   "\"unit_number\":%u,\"bus_id\":%u,"
			   "\"initiator_id\":%u,\"base_transfer_speed\":%u,"
			   "\"maxio\":%u,\"sim_vid\":",
			p->version_num, p->hba_inquiry, p->target_sprt,
			p->hba_misc, p->hba_eng_cnt, p->max_target,
			(unsigned long long)p->max_lun, p->async_flags,
			p->hpath_id, p->unit_number, p->bus_id,
			p->initiator_id, p->base_transfer_speed, p->maxio);
		json_put_string(o, p->sim_vid);
		fputs(",\"hba_vid\":", o);
		json_put_string(o, p->hba_vid);
		fputs(",\"dev_name\":", o);
		json_put_string(o, p->dev_name);
		fputs("}\n", o);
		return 0;
	}
	fprintf(o, "%s%u: bus %u, path id %lld\n", p->dev_name, p->unit_number,
		p->bus_id, v);
	fprintf(o, "  version number: %u\n", p->version_num);
	fprintf(o, "  HBA capabilities:%s%s%s%s%s%s%s\n",
		(p->hba_inquiry & PI_MDP_ABLE) ? " MDP" : "",
		(p->hba_inquiry & PI_WIDE_32) ? " 32bit" : "",
		(p->hba_inquiry & PI_WIDE_16) ? " 16bit" : "",
		(p->hba_inquiry & PI_SDTR_ABLE) ? " SDTR" : "",
		(p->hba_inquiry & PI_LINKED_CDB) ? " linked-CDB" : "",
		(p->hba_inquiry & PI_TAG_ABLE) ? " tagged-queueing" : "",
		(p->hba_inquiry & PI_SOFT_RST) ? " soft-reset" : "");
	fprintf(o, "  target mode support: %s\n",
		p->target_sprt ? "yes" : "none");
	fprintf(o, "  HBA misc flags:%s%s%s%s\n",
		(p->hba_misc & PIM_SCANHILO) ? " scan-high-to-low" : "",
		(p->hba_misc & PIM_NOREMOVE) ? " no-removable" : "",
		(p->hba_misc & PIM_NOINITIATOR) ? " no-initiator" : "",
		(p->hba_misc & PIM_NOBUSRESET) ? " no-initial-bus-reset" : "");
	fprintf(o, "  HBA engine count: %u\n", p->hba_eng_cnt);
	fprintf(o, "  maximum target: %u\n", p->max_target);
	fprintf(o, "  maximum LUN: %llu\n", (unsigned long long)p->max_lun);
	fprintf(o, "  highest path id: %u\n", p->hpath_id);
	fprintf(o, "  initiator id: %u\n", p->initiator_id);
	fprintf(o, "  SIM vendor: %s\n", p->sim_vid);
	fprintf(o, "  HBA vendor: %s\n", p->hba_vid);
	fprintf(o, "  base transfer speed: %u.%03uMB/sec\n",
		p->base_transfer_speed / 1000, p->base_transfer_speed % 1000);
	fprintf(o, "  maximum transfer: %u bytes\n", p->maxio);
	return 0;
}

