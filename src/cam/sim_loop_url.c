/*
 * Text front ends of the loop SIM: the "loop:" SIM URL that builds a whole
 * in-process stack (mem bdevs -> target-engine LUNs -> loop SIM bus), and
 * the fault-rule syntax used by the tool and the daemon.
 *
 *   loop:[targets=N][,luns=N][,size=SIZE][,bs=512|4096][,tags=N]
 *        [,maxio=SIZE][,name=NAME][,unit=N][,disk=NAME]...
 *
 * Without disk= every target 0..targets-1 gets LUNs 0..luns-1, each on its
 * own mem bdev of size bytes.  With disk= (repeatable) target 0 gets one
 * LUN per named disk of the registry, in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <scsikit/bdev.h>
#include <scsikit/log.h>
#include <scsikit/target.h>

#include "cam/xpt_internal.h"

#define URL_MAX_DISKS 16

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == '\0' || *end != '\0' || v > 0xffffffffUL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int url_add_lun(struct tgt_target **tgts, uint32_t t, uint32_t l,
		       struct bdev *bd, char *err, size_t errlen)
{
	struct tgt_lun *lun = tgt_lun_create(bd, NULL);
	int rc;

	if (!lun) {
		snprintf(err, errlen, "cannot create LUN on %s", bdev_name(bd));
		return -ENOMEM;
	}
	rc = tgt_target_add_lun(tgts[t], l, lun);
	tgt_lun_release(lun);
	if (rc < 0)
		snprintf(err, errlen, "cannot map LUN %u: %s", l, strerror(-rc));
	return rc;
}

int cam_loop_create_url(const char *url, struct ev_loop *loop,
			struct cam_loop **out, char *err, size_t errlen)
{
	struct cam_loop_params p;
	uint32_t targets = 1, luns = 1, bs = 512;
	uint64_t size = 64ull << 20, v64;
	char *copy, *tok, *save = NULL;
	char *disks[URL_MAX_DISKS];
	unsigned ndisks = 0;
	struct tgt_target **tgts = NULL;
	struct cam_loop *lp = NULL;
	char name[DEV_IDLEN] = "loop";
	int rc = -EINVAL;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	if (strncmp(url, "loop:", 5) != 0) {
		snprintf(err, errlen, "not a loop: URL: %s", url);
		return -EINVAL;
	}
	copy = strdup(url + 5);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *val = strchr(tok, '=');

		if (!val) {
			snprintf(err, errlen, "bad option '%s'", tok);
			goto out_free;
		}
		*val++ = '\0';
		if (!strcmp(tok, "targets")) {
			if (parse_u32(val, &targets) || !targets ||
			    targets > 255)
				goto bad;
		} else if (!strcmp(tok, "luns")) {
			if (parse_u32(val, &luns) || !luns ||
			    luns > TGT_MAX_LUNS)
				goto bad;
		} else if (!strcmp(tok, "size")) {
			if (sk_parse_size(val, &size) < 0 || size == 0)
				goto bad;
		} else if (!strcmp(tok, "bs")) {
			if (parse_u32(val, &bs) || (bs != 512 && bs != 4096))
				goto bad;
		} else if (!strcmp(tok, "tags")) {
			if (parse_u32(val, &p.tags) || !p.tags ||
			    p.tags > 1024)
				goto bad;
		} else if (!strcmp(tok, "maxio")) {
			if (sk_parse_size(val, &v64) < 0 || v64 < 512 ||
			    v64 > (64ull << 20))
				goto bad;
			p.maxio = (uint32_t)v64;
		} else if (!strcmp(tok, "name")) {
			snprintf(name, sizeof(name), "%s", val);
		} else if (!strcmp(tok, "unit")) {
			if (parse_u32(val, &p.unit))
				goto bad;
		} else if (!strcmp(tok, "disk")) {
			if (ndisks == URL_MAX_DISKS)
				goto bad;
			disks[ndisks++] = val;
		} else {
			snprintf(err, errlen, "unknown option '%s'", tok);
			goto out_free;
		}
		continue;
bad:
		snprintf(err, errlen, "bad value for %s: '%s'", tok, val);
		goto out_free;
	}
	if (ndisks) {
		targets = 1;
		luns = ndisks;
	}
	p.name = name;
	p.targets = targets < 8 ? 8 : targets;
	p.luns = luns < 8 ? 8 : luns;
	lp = cam_loop_create(&p);
	tgts = calloc(targets, sizeof(*tgts));
	if (!lp || !tgts) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	for (uint32_t t = 0; t < targets; t++) {
		char tn[64];

		snprintf(tn, sizeof(tn), "%s%u:t%u", name, p.unit, t);
		tgts[t] = tgt_target_create(tn);
		if (!tgts[t]) {
			rc = -ENOMEM;
			snprintf(err, errlen, "cannot create target");
			goto out_free;
		}
		for (uint32_t l = 0; l < luns; l++) {
			struct bdev *bd;
			char bn[64];

			if (ndisks) {
				bd = bdev_registry_get(disks[l]);
				if (!bd) {
					rc = -ENOENT;
					snprintf(err, errlen, "no disk '%s'",
						 disks[l]);
					goto out_free;
				}
			} else {
				snprintf(bn, sizeof(bn), "%s%u.t%u.l%u", name,
					 p.unit, t, l);
				bd = bdev_mem_create(bn, size, bs, false);
				if (!bd) {
					rc = -ENOMEM;
					snprintf(err, errlen,
						 "cannot create mem disk");
					goto out_free;
				}
			}
			rc = url_add_lun(tgts, t, l, bd, err, errlen);
			bdev_release(bd);
			if (rc < 0)
				goto out_free;
		}
		rc = cam_loop_attach_target(lp, t, tgts[t]);
		if (rc < 0) {
			snprintf(err, errlen, "cannot attach target %u", t);
			goto out_free;
		}
	}
	rc = cam_loop_register(lp, loop);
	if (rc < 0) {
		snprintf(err, errlen, "cannot register the bus");
		goto out_free;
	}
	for (uint32_t t = 0; t < targets; t++)
		tgt_target_release(tgts[t]);
	free(tgts);
	free(copy);
	*out = lp;
	return rc;

out_free:
	if (tgts)
		for (uint32_t t = 0; t < targets; t++)
			if (tgts[t])
				tgt_target_release(tgts[t]);
	free(tgts);
	if (lp)
		cam_loop_destroy(lp);
	free(copy);
	return rc < 0 ? rc : -EINVAL;
}

/* ---- fault rules ---- */

static int parse_sense(const char *s, struct cam_loop_fault *f)
{
	unsigned key, asc, ascq = 0;

	if (sscanf(s, "%x/%x/%x", &key, &asc, &ascq) < 2 || key > 0xf ||
	    asc > 0xff || ascq > 0xff)
		return -1;
	f->sense_key = (uint8_t)key;
	f->asc_ascq = SCSI_ASC(asc, ascq);
	return 0;
}

static int parse_status_name(const char *s, uint32_t *st)
{
	for (uint32_t v = 0; v <= CAM_STATUS_MASK; v++) {
		const char *n = cam_status_name(v);

		if (!strcmp(n, "CAM_UNKNOWN"))
			continue;
		if (!strcasecmp(s, n) || !strcasecmp(s, n + 4)) {
			*st = v;
			return 0;
		}
	}
	return -1;
}

int cam_loop_fault_parse(const char *spec, struct cam_loop_fault *f)
{
	char *copy = strdup(spec), *tok, *save = NULL;
	int rc = -EINVAL;
	bool first = true;

	if (!copy)
		return -ENOMEM;
	memset(f, 0, sizeof(*f));
	f->target = -1;
	f->lun = -1;
	f->opcode = -1;
	f->count = -1;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save), first = false) {
		char *val = strchr(tok, '=');
		uint32_t v;

		if (val)
			*val++ = '\0';
		if (first) {
			if (!strcmp(tok, "drop"))
				f->kind = CAM_LOOP_FAULT_DROP;
			else if (!strcmp(tok, "delay") && val &&
				 !parse_u32(val, &f->delay_ms))
				f->kind = CAM_LOOP_FAULT_DELAY;
			else if (!strcmp(tok, "busy"))
				f->kind = CAM_LOOP_FAULT_BUSY;
			else if (!strcmp(tok, "qfull"))
				f->kind = CAM_LOOP_FAULT_TASK_SET_FULL;
			else if (!strcmp(tok, "check") && val &&
				 !parse_sense(val, f))
				f->kind = CAM_LOOP_FAULT_CHECK;
			else if (!strcmp(tok, "nosense") && val &&
				 !parse_sense(val, f))
				f->kind = CAM_LOOP_FAULT_NOSENSE;
			else if (!strcmp(tok, "seltimeout"))
				f->kind = CAM_LOOP_FAULT_SEL_TIMEOUT;
			else if (!strcmp(tok, "busfree"))
				f->kind = CAM_LOOP_FAULT_BUSFREE;
			else if (!strcmp(tok, "busreset"))
				f->kind = CAM_LOOP_FAULT_BUS_RESET;
			else if (!strcmp(tok, "hbaerror"))
				f->kind = CAM_LOOP_FAULT_HBA_ERROR;
			else if (!strcmp(tok, "shortage"))
				f->kind = CAM_LOOP_FAULT_SHORTAGE;
			else if (!strcmp(tok, "status") && val &&
				 !parse_status_name(val, &f->status))
				f->kind = CAM_LOOP_FAULT_STATUS;
			else
				goto out;
			continue;
		}
		if (!strcmp(tok, "target") && val && !parse_u32(val, &v))
			f->target = (int32_t)v;
		else if (!strcmp(tok, "lun") && val && !parse_u32(val, &v))
			f->lun = v;
		else if (!strcmp(tok, "op") && val && !parse_u32(val, &v) &&
			 v <= 0xff)
			f->opcode = (int16_t)v;
		else if (!strcmp(tok, "count") && val && !parse_u32(val, &v))
			f->count = (int32_t)v;
		else if (!strcmp(tok, "noabort"))
			f->options |= CAM_LOOP_F_IGNORE_ABORT;
		else if (!strcmp(tok, "nobdr"))
			f->options |= CAM_LOOP_F_IGNORE_BDR;
		else if (!strcmp(tok, "qfrzn"))
			f->options |= CAM_LOOP_F_QFRZN;
		else
			goto out;
	}
	rc = first ? -EINVAL : 0;
out:
	free(copy);
	return rc;
}
