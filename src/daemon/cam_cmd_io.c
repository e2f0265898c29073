/*
 * cam commands that move data: read, write and raw CDBs (cmd)
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

int cam_cmd_rw(struct cli *c, bool rd)
{
	uint32_t b, t, maxio, per;
	uint64_t l, bytes;
	struct capacity cap;
	uint8_t *buf;
	FILE *f = NULL;
	int rc = 1;

	if (cam_need_dev(c, &b, &t, &l) < 0)
		return 2;
	if (c->opt_lba < 0 || c->opt_count <= 0) {
		fprintf(c->err, "--lba N and --count N (blocks) are needed\n");
		return 2;
	}
	if (cam_get_capacity(c, b, t, l, &cap, false) < 0)
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
		if (cam_run(c, b, t, l, cdb, cl, rd ? CAM_DIR_IN : CAM_DIR_OUT,
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
			cam_json_hex(c->out, buf, bytes);
		}
		fputs("}\n", c->out);
	} else if (rd && !c->opt_out) {
		cam_hexdump(c->out, buf, bytes);
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

int cam_cmd_cmd(struct cli *c)
{
	uint32_t b, t, dir = CAM_DIR_NONE, len = 0;
	uint64_t l;
	uint8_t cdb[CAM_CDB_LEN_MAX], cl;
	uint8_t *buf = NULL;
	struct cam_pass_req r;
	FILE *f;
	FILE *o = c->out;
	int rc = 1;

	if (cam_need_dev(c, &b, &t, &l) < 0)
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
			cam_json_hex(o, r.sense, r.sense_len);
			fputs(",\"sense_text\":", o);
			json_put_string(o, txt);
		}
		if (dir == CAM_DIR_IN && !c->opt_out) {
			fputs(",\"data\":", o);
			cam_json_hex(o, buf, got);
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
			cam_hexdump(o, buf, got);
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

