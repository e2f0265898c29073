/*
 * `scsikit cam`: the CAM control tool, after FreeBSD's camcontrol (and
 * sg3_utils for the raw command form).
 *
 *   scsikit cam [--sim URL | --socket PATH] [--json] COMMAND [ARGS]
 *
 * With --sim (a SIM URL such as loop:targets=2,luns=2,size=64M) it builds
 * the stack in this process: an event loop on a thread of its own, the
 * SIM's bus, a scan, then the command.  With --socket (or neither: the
 * default control socket) the command goes to a running `scsikit serve`,
 * whose cam front end (tools/serve_cam.c) runs the same code below,
 * cam_cli_exec(), against the daemon's CAM buses.
 *
 * Devices are named BUS:TARGET:LUN, as camcontrol does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/iscsi_ini.h>
#include <scsikit/log.h>

#include "commands.h"
#include "ctl_client.h"
#include "json_out.h"

/* Shared with serve_cam.c, which has the same prototype. */
int cam_cli_exec(struct ev_loop *loop, struct cam_loop *const *sims,
		 unsigned nsims, int argc, char **argv, FILE *out, FILE *err);

#define CLI_DEFAULT_RETRIES 4
#define CLI_TIMEOUT_MS 30000

struct cli {
	struct ev_loop *loop;
	struct cam_loop *const *sims;
	unsigned nsims;
	FILE *out, *err;
	bool json, verbose;
	int retries;
	uint32_t timeout_ms;
	/* positional arguments left after the options */
	char *pos[8];
	int npos;
	/* options with values */
	const char *opt_c, *opt_in, *opt_out, *opt_T, *opt_D;
	long long opt_lba, opt_count, opt_i, opt_o, opt_N, opt_W, opt_O,
		opt_R, opt_pattern;
	bool opt_user, opt_current;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: scsikit cam [--sim URL | --socket PATH] [--json] "
		"COMMAND [ARGS]\n"
		"commands (DEV is BUS:TARGET:LUN):\n"
		"  devlist [-v]                   list the devices of every bus\n"
		"  inquiry DEV                    standard INQUIRY and serial number\n"
		"  readcap DEV                    READ CAPACITY(16)\n"
		"  tur DEV                        TEST UNIT READY\n"
		"  reset bus BUS | reset dev DEV  bus reset / BUS DEVICE RESET\n"
		"  rescan [BUS|all]               scan for devices\n"
		"  read DEV --lba N --count N [--out FILE]\n"
		"  write DEV --lba N --count N [--in FILE | --pattern BYTE]\n"
		"  cmd DEV -c \"HEX CDB\" [-i LEN [--out FILE]] "
		"[-o LEN [--in FILE]]\n"
		"  tags DEV [-N OPENINGS] [-v]    device openings\n"
		"  negotiate DEV [-c|-u] [-T enable|disable] [-D enable|disable]\n"
		"            [-W WIDTH] [-O OFFSET] [-R PERIOD]\n"
		"  pathinq [BUS]                  the SIM's path inquiry\n"
		"  fault BUS SPEC|clear           loop SIM fault injection\n"
		"options: -C RETRIES (default 4), --timeout MS, --json\n"
		"SIM URL: loop:[targets=N][,luns=N][,size=SIZE][,bs=512|4096]"
		"[,tags=N][,maxio=SIZE][,disk=NAME]...\n"
		"         iscsi://[USER%%SECRET@]HOST[:PORT]/[IQN[/LUN]]"
		"[?header_digest=crc32c&...]  (docs/iscsi-initiator.md)\n");
}

/* ---- small helpers ---- */

static int parse_dev(const char *s, uint32_t *b, uint32_t *t, uint64_t *l)
{
	unsigned long long bb, tt, ll;
	char tail;

	if (sscanf(s, "%llu:%llu:%llu%c", &bb, &tt, &ll, &tail) != 3 ||
	    bb > 0xffff || tt > 0xffff || ll > 0xffff)
		return -1;
	*b = (uint32_t)bb;
	*t = (uint32_t)tt;
	*l = ll;
	return 0;
}

static int parse_ll(const char *s, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 0);

	if (*s == '\0' || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static void hexdump(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		fprintf(f, "%08zx ", off);
		for (size_t i = 0; i < 16; i++) {
			if (off + i < n)
				fprintf(f, " %02x", p[off + i]);
			else
				fputs("   ", f);
		}
		fputs("  |", f);
		for (size_t i = 0; i < 16 && off + i < n; i++) {
			uint8_t c = p[off + i];

			fputc(c >= 0x20 && c < 0x7f ? c : '.', f);
		}
		fputs("|\n", f);
	}
}

static void json_hex(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

static void trimcopy(char *dst, const uint8_t *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] > 0x7e)
			dst[i] = ' ';
	while (n > 0 && dst[n - 1] == ' ')
		dst[--n] = '\0';
}

static const char *devtype_name(uint8_t t)
{
	static const char *const names[] = {
		"Direct Access", "Sequential Access", "Printer", "Processor",
		"WORM", "CD-ROM", "Scanner", "Optical", "Changer",
		"Communication", "", "", "Storage Array", "Enclosure Services",
		"Simplified Direct Access", "Optical Card Reader",
	};

	if (t < sizeof(names) / sizeof(names[0]) && names[t][0])
		return names[t];
	return t == SCSI_TYPE_NO_LUN ? "No Device" : "Unknown";
}

static const char *version_name(uint8_t v)
{
	switch (v) {
	case 3: return "SCSI-3";
	case 4: return "SPC-2";
	case 5: return "SPC-3";
	case 6: return "SPC-4";
	case 7: return "SPC-5";
	default: return "SCSI";
	}
}

/* Run a CDB; prints the error (with sense) unless quiet.  0 or -1. */
static int cli_run(struct cli *c, uint32_t b, uint32_t t, uint64_t l,
		   const uint8_t *cdb, uint8_t cdb_len, uint32_t dir,
		   void *buf, uint32_t len, int retries,
		   struct cam_pass_req *out, bool quiet)
{
	struct cam_pass_req r;
	uint32_t st;

	memset(&r, 0, sizeof(r));
	r.path_id = b;
	r.target = t;
	r.lun = l;
	r.cdb = cdb;
	r.cdb_len = cdb_len;
	r.dir = dir;
	r.data = buf;
	r.dxfer_len = len;
	r.timeout_ms = c->timeout_ms;
	r.retries = retries;
	r.tag_action = MSG_SIMPLE_Q_TAG;
	st = cam_pass_run(c->loop, &r);
	if (out)
		*out = r;
	if (cam_ccb_status(st) == CAM_REQ_CMP)
		return 0;
	if (!quiet) {
		fprintf(c->err, "%u:%u:%llu: %s: %s", b, t,
			(unsigned long long)l, scsi_opcode_name(cdb[0], 0),
			cam_status_name(st));
		if (cam_ccb_status(st) == CAM_SCSI_STATUS_ERROR)
			fprintf(c->err, " (%s)", scsi_status_name(r.scsi_status));
		if (r.sense_len) {
			struct scsi_sense s;
			char txt[160];

			if (scsi_sense_parse(r.sense, r.sense_len, &s) == 0) {
				scsi_sense_format(&s, txt, sizeof(txt));
				fprintf(c->err, ": %s", txt);
			}
		}
		fputc('\n', c->err);
	}
	return -1;
}

static int need_dev(struct cli *c, uint32_t *b, uint32_t *t, uint64_t *l)
{
	if (c->npos < 1 || parse_dev(c->pos[0], b, t, l) < 0) {
		fprintf(c->err, "a device BUS:TARGET:LUN is needed\n");
		return -1;
	}
	return 0;
}

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

static int cmd_devlist(struct cli *c)
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
			trimcopy(v, d->inq + 8, 8);
			trimcopy(p, d->inq + 16, 16);
			trimcopy(r, d->inq + 32, 4);
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
	if (c->json)
		fputs("]}\n", o);
	free(x);
	return 0;
}

/* ---- inquiry, readcap, tur ---- */

static int cmd_inquiry(struct cli *c)
{
	uint32_t b, t;
	uint64_t l;
	uint8_t inq[96], vpd[256];
	uint8_t cdb[6] = {SCSI_INQUIRY, 0, 0, 0, sizeof(inq), 0};
	uint8_t vcdb[6] = {SCSI_INQUIRY, 1, 0x80, 0, 252, 0};
	struct cam_pass_req r;
	char v[9], p[17], rev[5], serial[256] = "";
	FILE *o = c->out;

	if (need_dev(c, &b, &t, &l) < 0)
		return 2;
	memset(inq, 0, sizeof(inq));
	if (cli_run(c, b, t, l, cdb, 6, CAM_DIR_IN, inq, sizeof(inq),
		    c->retries, &r, false) < 0)
		return 1;
	trimcopy(v, inq + 8, 8);
	trimcopy(p, inq + 16, 16);
	trimcopy(rev, inq + 32, 4);
	memset(vpd, 0, sizeof(vpd));
	if (cli_run(c, b, t, l, vcdb, 6, CAM_DIR_IN, vpd, 252, c->retries,
		    NULL, true) == 0 &&
	    vpd[1] == 0x80) {
		size_t n = vpd[3];

		if (n > 251)
			n = 251;
		trimcopy(serial, vpd + 4, n);
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
		json_hex(o, inq, 36);
		fputs("}\n", o);
		return 0;
	}
	fprintf(o, "%u:%u:%llu: <%s %s %s> %s %s %s device\n", b, t,
		(unsigned long long)l, v, p, rev,
		(inq[1] & 0x80) ? "Removable" : "Fixed",
		devtype_name(inq[0] & 0x1f), version_name(inq[2]));
	if (serial[0])
		fprintf(o, "%u:%u:%llu: Serial Number %s\n", b, t,
			(unsigned long long)l, serial);
	if (inq[7] & 0x02)
		fprintf(o, "%u:%u:%llu: Command Queueing enabled\n", b, t,
			(unsigned long long)l);
	return 0;
}

struct capacity {
	uint64_t blocks;
	uint32_t bs;
	uint32_t pexp;
	bool lbpme, lbprz;
};

static int get_capacity(struct cli *c, uint32_t b, uint32_t t, uint64_t l,
			struct capacity *cap, bool quiet)
{
	uint8_t buf[32] = {0};
	uint8_t cdb16[16] = {SCSI_SERVICE_ACTION_IN_16,
			     SCSI_SAI_READ_CAPACITY_16};
	uint8_t cdb10[10] = {SCSI_READ_CAPACITY_10};

	memset(cap, 0, sizeof(*cap));
	scsi_put32(&cdb16[10], sizeof(buf));
	if (cli_run(c, b, t, l, cdb16, 16, CAM_DIR_IN, buf, sizeof(buf),
		    c->retries, NULL, true) == 0) {
		cap->blocks = scsi_get64(buf) + 1;
		cap->bs = scsi_get32(buf + 8);
		cap->pexp = buf[13] & 0x0f;
		cap->lbpme = buf[14] & 0x80;
		cap->lbprz = buf[14] & 0x40;
		return 0;
	}
	if (cli_run(c, b, t, l, cdb10, 10, CAM_DIR_IN, buf, 8, c->retries,
		    NULL, quiet) < 0)
		return -1;
	cap->blocks = (uint64_t)scsi_get32(buf) + 1;
	cap->bs = scsi_get32(buf + 4);
	return 0;
}

static int cmd_readcap(struct cli *c)
{
	uint32_t b, t;
	uint64_t l;
	struct capacity cap;
	FILE *o = c->out;

	if (need_dev(c, &b, &t, &l) < 0)
		return 2;
	if (get_capacity(c, b, t, l, &cap, false) < 0)
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

static int cmd_tur(struct cli *c)
{
	uint32_t b, t;
	uint64_t l;
	uint8_t cdb[6] = {SCSI_TEST_UNIT_READY};
	int rc;

	if (need_dev(c, &b, &t, &l) < 0)
		return 2;
	rc = cli_run(c, b, t, l, cdb, 6, CAM_DIR_NONE, NULL, 0, c->retries,
		     NULL, c->json);
	if (c->json)
		fprintf(c->out, "{\"ready\":%s}\n", rc == 0 ? "true" : "false");
	else
		fprintf(c->out, "Unit is %sready\n", rc == 0 ? "" : "not ");
	return rc == 0 ? 0 : 1;
}

/* ---- reset, rescan ---- */

static int cmd_reset(struct cli *c)
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

		if (parse_ll(c->pos[1], &v) < 0 || v < 0 || v > 63) {
			fprintf(c->err, "bad bus '%s'\n", c->pos[1]);
			return 2;
		}
		b = (uint32_t)v;
		snprintf(what, sizeof(what), "bus %u", b);
	} else {
		if (parse_dev(c->pos[1], &b, &t, &l) < 0) {
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

static int cmd_rescan(struct cli *c)
{
	uint32_t b = CAM_BUS_WILDCARD, st;

	if (c->npos >= 1 && strcmp(c->pos[0], "all")) {
		long long v;

		if (parse_ll(c->pos[0], &v) < 0 || v < 0 || v > 63) {
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

/* ---- read, write ---- */

static uint32_t bus_maxio(struct cli *c, uint32_t b)
{
	union ccb ccb;

	memset(&ccb, 0, sizeof(ccb));
	xpt_setup_ccb(&ccb.ccb_h, b, CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD,
		      XPT_PATH_INQ);
	if (cam_ccb_status(cam_sync_action(c->loop, &ccb)) != CAM_REQ_CMP ||
	    !ccb.cpi.maxio)
		return 64 * 1024;
	return ccb.cpi.maxio;
}

#define CLI_RW_MAX (256ull << 20)

static int cmd_rw(struct cli *c, bool rd)
{
	uint32_t b, t, maxio, per;
	uint64_t l, bytes;
	struct capacity cap;
	uint8_t *buf;
	FILE *f = NULL;
	int rc = 1;

	if (need_dev(c, &b, &t, &l) < 0)
		return 2;
	if (c->opt_lba < 0 || c->opt_count <= 0) {
		fprintf(c->err, "--lba N and --count N (blocks) are needed\n");
		return 2;
	}
	if (get_capacity(c, b, t, l, &cap, false) < 0)
		return 1;
	bytes = (uint64_t)c->opt_count * cap.bs;
	if (bytes > CLI_RW_MAX || cap.bs == 0) {
		fprintf(c->err, "transfer too large (max %llu bytes)\n",
			CLI_RW_MAX);
		return 2;
	}
	buf = calloc(1, bytes);
	if (!buf)
		return 1;
	if (!rd) {
		if (c->opt_in) {
			f = fopen(c->opt_in, "rb");
			if (!f || fread(buf, 1, bytes, f) != bytes) {
				fprintf(c->err, "%s: cannot read %llu bytes\n",
					c->opt_in, (unsigned long long)bytes);
				goto out;
			}
			fclose(f);
			f = NULL;
		} else {
			memset(buf, (int)(c->opt_pattern & 0xff), bytes);
		}
	}
	maxio = bus_maxio(c, b);
	per = maxio / cap.bs;
	if (per == 0)
		per = 1;
	for (uint64_t done = 0; done < (uint64_t)c->opt_count;) {
		uint64_t left = (uint64_t)c->opt_count - done;
		uint32_t n = left > per ? per : (uint32_t)left;
		uint8_t cdb[16], cl;

		cl = scsi_cdb_rw(cdb, rd, (uint64_t)c->opt_lba + done, n, false);
		if (cli_run(c, b, t, l, cdb, cl, rd ? CAM_DIR_IN : CAM_DIR_OUT,
			    buf + done * cap.bs, n * cap.bs, c->retries, NULL,
			    false) < 0)
			goto out;
		done += n;
	}
	if (rd && c->opt_out) {
		f = fopen(c->opt_out, "wb");
		if (!f || fwrite(buf, 1, bytes, f) != bytes) {
			fprintf(c->err, "%s: cannot write\n", c->opt_out);
			goto out;
		}
	}
	if (c->json) {
		fprintf(c->out, "{\"%s\":%llu,\"lba\":%lld,\"blocks\":%lld",
			rd ? "read" : "written", (unsigned long long)bytes,
			c->opt_lba, c->opt_count);
		if (rd && !c->opt_out && bytes <= 65536) {
			fputs(",\"data\":", c->out);
			json_hex(c->out, buf, bytes);
		}
		fputs("}\n", c->out);
	} else if (rd && !c->opt_out) {
		hexdump(c->out, buf, bytes);
	} else {
		fprintf(c->out, "%llu bytes %s\n", (unsigned long long)bytes,
			rd ? "read" : "written");
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	free(buf);
	return rc;
}

/* ---- cmd ---- */

static int parse_hex_cdb(const char *s, uint8_t *cdb, uint8_t *len)
{
	unsigned n = 0;
	int nib = -1;

	for (; *s; s++) {
		int v;

		if (*s == ' ' || *s == ':' || *s == ',' || *s == '\t') {
			if (nib >= 0) {
				if (n == CAM_CDB_LEN_MAX)
					return -1;
				cdb[n++] = (uint8_t)nib;
				nib = -1;
			}
			continue;
		}
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return -1;
		if (nib < 0) {
			nib = v;
		} else {
			if (n == CAM_CDB_LEN_MAX)
				return -1;
			cdb[n++] = (uint8_t)(nib << 4 | v);
			nib = -1;
		}
	}
	if (nib >= 0) {
		if (n == CAM_CDB_LEN_MAX)
			return -1;
		cdb[n++] = (uint8_t)nib;
	}
	if (n == 0)
		return -1;
	*len = (uint8_t)n;
	return 0;
}

static int cmd_cmd(struct cli *c)
{
	uint32_t b, t, dir = CAM_DIR_NONE, len = 0;
	uint64_t l;
	uint8_t cdb[CAM_CDB_LEN_MAX], cl;
	uint8_t *buf = NULL;
	struct cam_pass_req r;
	FILE *f;
	FILE *o = c->out;
	int rc = 1;

	if (need_dev(c, &b, &t, &l) < 0)
		return 2;
	if (!c->opt_c || parse_hex_cdb(c->opt_c, cdb, &cl) < 0) {
		fprintf(c->err, "-c \"HEX BYTES\" (1 to 32 bytes) is needed\n");
		return 2;
	}
	if (c->opt_i >= 0 && c->opt_o >= 0) {
		fprintf(c->err, "-i and -o exclude each other\n");
		return 2;
	}
	if (c->opt_i > (long long)(16 << 20) || c->opt_o > (long long)(16 << 20)) {
		fprintf(c->err, "data length too large\n");
		return 2;
	}
	if (c->opt_i >= 0) {
		dir = CAM_DIR_IN;
		len = (uint32_t)c->opt_i;
	} else if (c->opt_o >= 0) {
		dir = CAM_DIR_OUT;
		len = (uint32_t)c->opt_o;
	}
	if (len == 0)
		dir = CAM_DIR_NONE;
	buf = calloc(1, len ? len : 1);
	if (!buf)
		return 1;
	if (dir == CAM_DIR_OUT && c->opt_in) {
		f = fopen(c->opt_in, "rb");
		if (!f || fread(buf, 1, len, f) != len) {
			fprintf(c->err, "%s: cannot read %u bytes\n", c->opt_in,
				len);
			if (f)
				fclose(f);
			goto out;
		}
		fclose(f);
	}
	memset(&r, 0, sizeof(r));
	r.path_id = b;
	r.target = t;
	r.lun = l;
	r.cdb = cdb;
	r.cdb_len = cl;
	r.dir = dir;
	r.data = buf;
	r.dxfer_len = len;
	r.timeout_ms = c->timeout_ms;
	r.retries = c->retries;
	r.tag_action = MSG_SIMPLE_Q_TAG;
	uint32_t st = cam_pass_run(c->loop, &r);
	uint32_t got = len > r.resid ? len - r.resid : 0;
	struct scsi_sense s;
	char txt[160] = "";

	if (r.sense_len && scsi_sense_parse(r.sense, r.sense_len, &s) == 0)
		scsi_sense_format(&s, txt, sizeof(txt));
	if (c->json) {
		fputs("{\"cam_status\":", o);
		json_put_string(o, cam_status_name(st));
		fprintf(o, ",\"scsi_status\":%u,\"resid\":%u", r.scsi_status,
			r.resid);
		if (r.sense_len) {
			fputs(",\"sense\":", o);
			json_hex(o, r.sense, r.sense_len);
			fputs(",\"sense_text\":", o);
			json_put_string(o, txt);
		}
		if (dir == CAM_DIR_IN && !c->opt_out) {
			fputs(",\"data\":", o);
			json_hex(o, buf, got);
		}
		fputs("}\n", o);
	} else {
		if (cam_ccb_status(st) != CAM_REQ_CMP) {
			fprintf(o, "%s", cam_status_name(st));
			if (cam_ccb_status(st) == CAM_SCSI_STATUS_ERROR)
				fprintf(o, ", SCSI status: %s",
					scsi_status_name(r.scsi_status));
			fputc('\n', o);
			if (txt[0])
				fprintf(o, "Sense: %s\n", txt);
		}
		if (dir == CAM_DIR_IN && !c->opt_out)
			hexdump(o, buf, got);
	}
	if (dir == CAM_DIR_IN && c->opt_out) {
		f = fopen(c->opt_out, "wb");
		if (!f || fwrite(buf, 1, got, f) != got) {
			fprintf(c->err, "%s: cannot write\n", c->opt_out);
			if (f)
				fclose(f);
			goto out;
		}
		fclose(f);
	}
	rc = cam_ccb_status(st) == CAM_REQ_CMP ? 0 : 1;
out:
	free(buf);
	return rc;
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

static int cmd_tags(struct cli *c)
{
	struct tags_ctx x;
	FILE *o = c->out;
	char id[64];

	memset(&x, 0, sizeof(x));
	if (need_dev(c, &x.b, &x.t, &x.l) < 0)
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

static int cmd_negotiate(struct cli *c)
{
	uint32_t b, t;
	uint64_t l;
	union ccb ccb;
	bool on;
	uint32_t st;

	if (need_dev(c, &b, &t, &l) < 0)
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

/* ---- pathinq ---- */

static int cmd_pathinq(struct cli *c)
{
	union ccb ccb;
	long long v = 0;
	uint32_t st;
	FILE *o = c->out;
	struct ccb_pathinq *p = &ccb.cpi;

	if (c->npos >= 1 && (parse_ll(c->pos[0], &v) < 0 || v < 0 || v > 63)) {
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

static int cmd_fault(struct cli *c)
{
	struct fault_ctx x;
	long long v;

	memset(&x, 0, sizeof(x));
	if (c->npos < 2 || parse_ll(c->pos[0], &v) < 0) {
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

/* ---- option parsing and dispatch ---- */

static int cli_parse(struct cli *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long long *num = NULL;
		const char **str = NULL;

		if (!strcmp(a, "--json")) {
			c->json = true;
			continue;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			c->verbose = true;
			continue;
		}
		if (!strcmp(a, "-u")) {
			c->opt_user = true;
			continue;
		}
		if (!strcmp(a, "-c") && !strcmp(argv[0], "negotiate")) {
			c->opt_current = true;
			continue;
		}
		if (!strcmp(a, "--lba"))
			num = &c->opt_lba;
		else if (!strcmp(a, "--count"))
			num = &c->opt_count;
		else if (!strcmp(a, "-i"))
			num = &c->opt_i;
		else if (!strcmp(a, "-o"))
			num = &c->opt_o;
		else if (!strcmp(a, "-N"))
			num = &c->opt_N;
		else if (!strcmp(a, "-W"))
			num = &c->opt_W;
		else if (!strcmp(a, "-O"))
			num = &c->opt_O;
		else if (!strcmp(a, "-R"))
			num = &c->opt_R;
		else if (!strcmp(a, "--pattern"))
			num = &c->opt_pattern;
		else if (!strcmp(a, "-c"))
			str = &c->opt_c;
		else if (!strcmp(a, "--in"))
			str = &c->opt_in;
		else if (!strcmp(a, "--out"))
			str = &c->opt_out;
		else if (!strcmp(a, "-T"))
			str = &c->opt_T;
		else if (!strcmp(a, "-D"))
			str = &c->opt_D;
		if (num || str) {
			if (!v) {
				fprintf(c->err, "%s needs a value\n", a);
				return -1;
			}
			if (num && (parse_ll(v, num) < 0 || *num < 0)) {
				fprintf(c->err, "bad value for %s: %s\n", a, v);
				return -1;
			}
			if (str)
				*str = v;
			i++;
			continue;
		}
		if (!strcmp(a, "-C") || !strcmp(a, "--timeout")) {
			long long n;

			if (!v || parse_ll(v, &n) < 0 || n < 0 || n > 1000000000) {
				fprintf(c->err, "bad value for %s\n", a);
				return -1;
			}
			if (a[1] == 'C')
				c->retries = (int)(n > 100 ? 100 : n);
			else
				c->timeout_ms = (uint32_t)n;
			i++;
			continue;
		}
		if (a[0] == '-' && a[1] != '\0') {
			fprintf(c->err, "unknown option %s\n", a);
			return -1;
		}
		if (c->npos == (int)(sizeof(c->pos) / sizeof(c->pos[0]))) {
			fprintf(c->err, "too many arguments\n");
			return -1;
		}
		c->pos[c->npos++] = argv[i];
	}
	return 0;
}

int cam_cli_exec(struct ev_loop *loop, struct cam_loop *const *sims,
		 unsigned nsims, int argc, char **argv, FILE *out, FILE *err)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *c);
	} cmds[] = {
		{"devlist", cmd_devlist}, {"inquiry", cmd_inquiry},
		{"readcap", cmd_readcap}, {"tur", cmd_tur},
		{"reset", cmd_reset},	  {"rescan", cmd_rescan},
		{"cmd", cmd_cmd},	  {"tags", cmd_tags},
		{"negotiate", cmd_negotiate}, {"pathinq", cmd_pathinq},
		{"fault", cmd_fault},
	};
	struct cli c;

	if (argc < 1)
		return 2;
	memset(&c, 0, sizeof(c));
	c.loop = loop;
	c.sims = sims;
	c.nsims = nsims;
	c.out = out;
	c.err = err;
	c.retries = CLI_DEFAULT_RETRIES;
	c.timeout_ms = CLI_TIMEOUT_MS;
	c.opt_lba = c.opt_count = c.opt_i = c.opt_o = c.opt_N = c.opt_W =
		c.opt_O = c.opt_R = -1;
	c.opt_pattern = 0;
	if (cli_parse(&c, argc, argv) < 0)
		return 2;
	if (!strcmp(argv[0], "read"))
		return cmd_rw(&c, true);
	if (!strcmp(argv[0], "write"))
		return cmd_rw(&c, false);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[0], cmds[i].name))
			return cmds[i].fn(&c);
	fprintf(err, "unknown cam command '%s'\n", argv[0]);
	return 2;
}

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
		rc = 2;
		goto out;
	}
	/* A session must have logged in before its bus can be scanned. */
	if (s.isess && iscsi_ini_wait_ready(s.isess, 30000, s.err,
					    sizeof(s.err)) < 0) {
		fprintf(stderr, "scsikit cam: %s: %s\n", url, s.err);
		cam_sync_call(s.loop, local_destroy, &s);
		rc = 2;
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
	const char *sim = NULL, *sock = NULL;
	char *args[64];
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--sim") || !strcmp(argv[i], "--socket")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "scsikit cam: %s needs a value\n",
					argv[i]);
				return 2;
			}
			if (argv[i][2] == 's' && argv[i][3] == 'i')
				sim = argv[++i];
			else
				sock = argv[++i];
			continue;
		}
		if (n == (int)(sizeof(args) / sizeof(args[0])) - 1) {
			fprintf(stderr, "scsikit cam: too many arguments\n");
			return 2;
		}
		args[n++] = argv[i];
	}
	if (n == 0) {
		usage(stderr);
		return 2;
	}
	if (sim && sock) {
		fprintf(stderr, "scsikit cam: --sim and --socket exclude each "
				"other\n");
		return 2;
	}
	if (sim)
		return run_local(sim, n, args);
	/* Through the daemon: "cam COMMAND ARGS...". */
	char *req[65];

	req[0] = "cam";
	for (int i = 0; i < n; i++)
		req[i + 1] = args[i];
	switch (ctl_call(sock ? sock : ctl_default_socket(), n + 1, req,
			 stdout)) {
	case 0:
		return 0;
	case 1:
		return 1;
	default:
		return 2;
	}
}
