/*
 * Text to bdevs: sk_parse_size() for sizes written by people ("64M",
 * "1G") and bdev_create_spec() for the disk specifications the daemon and
 * the tools accept on their command lines and control socket:
 *
 *   mem:SIZE[,bs=512|4096][,ro]
 *   file:PATH[,direct][,size=SIZE][,bs=N][,ro][,engine=uring|pool]
 *        [,inline_write]
 *   null:SIZE[,bs=512|4096][,latency=USEC]   (src/bdev/null.c)
 *   fault:SPEC   (src/bdev/fault_spec.c)
 *   rbd:POOL/IMAGE[@SNAP][,conf=PATH][,id=CLIENT][,ro][,timeout=S]
 *                (src/bdev/rbd_spec.c, rbd.c)
 *
 * and, on mem and file, ",removable" (a drive whose medium can be ejected
 * and swapped, src/bdev/medium.c) or ",cdrom" (a CD/DVD drive: read-only,
 * 2048-byte blocks).
 *
 * and, also on mem, file and rbd, the presentation options (docs/bdev.md):
 *   pbsize=N   physical block size, reported by SCSI exports;
 *   thick      fully provisioned (no discard), thin being the default;
 *   wsnz=0|1   whether a WRITE SAME of 0 blocks is refused (1, default)
 *              or runs to the end of the disk (0).
 *
 * A PATH cannot contain a comma (options are comma separated).  Errors are
 * one line, naming the offending piece.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev_int.h"

/* Binary unit suffixes, and the shift each stands for. */
static const struct {
	char c;
	unsigned shift;
} size_units[] = {
	{ 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 }, { 'P', 50 },
	{ 'E', 60 },
};

/*
 * Digits, then optionally one unit letter (any case) which may be followed
 * by "iB" or "B" ("64K", "64KiB", "64kb"); a bare "B" after the digits
 * means bytes.  No sign, no spaces, no fraction, no overflow.
 */
int sk_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (s == NULL || out == NULL || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return -1;
	}
	if (*p != '\0') {
		bool found = false;

		size_t nunits = sizeof(size_units) / sizeof(size_units[0]);

		for (size_t i = 0; i < nunits; i++) {
			if (toupper((unsigned char)*p) == size_units[i].c) {
				shift = size_units[i].shift;
				found = true;
			}
		}
		if (found) {
			p++;
			if (*p == 'i' && p[1] == 'B')
				p += 2;
			else if (*p == 'B' || *p == 'b')
				p++;
		} else if (*p == 'B' || *p == 'b') {
			p++;
		}
		if (*p != '\0')
			return -1;
	}
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

/* Split "key=value"; returns the value or NULL if there is no '='. */
static char *spec_opt_value(char *opt)
{
	char *eq = strchr(opt, '=');

	if (eq == NULL)
		return NULL;
	*eq = '\0';
	return eq + 1;
}

static int spec_parse_bs(const char *v, uint32_t *bs, char *err,
			 size_t errlen)
{
	uint64_t n;

	if (sk_parse_size(v, &n) != 0 || n < 512 || n > 65536 ||
	    (n & (n - 1)) != 0) {
		snprintf(err, errlen, "bad block size '%s' (a power of two, "
			 "512 to 64K)", v);
		return -1;
	}
	*bs = (uint32_t)n;
	return 0;
}

/* The presentation options both backends take. */
struct spec_pres {
	uint64_t pbsize;	/* 0: not given */
	bool thick;
	int wsnz;		/* -1: not given */
};

/* 1 if opt (with value val) is a presentation option (taken into *x), 0
 * if it is not, -1 on a bad value (err set). */
static int spec_pres_opt(const char *opt, const char *val,
			 struct spec_pres *x, char *err, size_t errlen)
{
	if (strcmp(opt, "thick") == 0 && val == NULL) {
		x->thick = true;
		return 1;
	}
	if (strcmp(opt, "pbsize") == 0 && val != NULL) {
		if (sk_parse_size(val, &x->pbsize) != 0 || x->pbsize < 512 ||
		    (x->pbsize & (x->pbsize - 1)) != 0) {
			snprintf(err, errlen, "bad pbsize '%s' (a power of "
				 "two, at least 512)", val);
			return -1;
		}
		return 1;
	}
	if (strcmp(opt, "wsnz") == 0 && val != NULL) {
		if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0) {
			snprintf(err, errlen, "bad wsnz '%s' (0 or 1)", val);
			return -1;
		}
		x->wsnz = val[0] - '0';
		return 1;
	}
	return 0;
}

/* Apply x to a new bdev; the bdev is released and NULL returned when the
 * combination is impossible. */
static struct bdev *spec_pres_apply(struct bdev *bd,
				    const struct spec_pres *x, char *err,
				    size_t errlen)
{
	struct bdev_geometry *g;

	if (bd == NULL)
		return NULL;
	g = &bd->geo;
	if (x->pbsize != 0) {
		/* READ CAPACITY(16) carries log2(pbsize / lbsize) in 4 bits. */
		if (x->pbsize < g->lbsize || x->pbsize / g->lbsize > 32768) {
			snprintf(err, errlen, "pbsize %llu must be 1 to 32768 "
				 "logical blocks of %u bytes",
				 (unsigned long long)x->pbsize, g->lbsize);
			bdev_release(bd);
			return NULL;
		}
		g->pbsize = (uint32_t)x->pbsize;
		g->report_pbsize = true;
	}
	if (x->thick) {
		g->thick = true;
		g->can_discard = false;
		g->discard_zeroes = false;
	}
	g->ws_to_end = x->wsnz == 0;
	return bd;
}

/*
 * The options of a disk made from a size alone (mem, null):
 * SIZE[,bs=512|4096][,ro], the presentation options, and what the
 * caller's extra() takes (1 taken, 0 unknown, -1 refused with err set;
 * extra may be NULL).  0, or -1 with err set.
 */
struct spec_sized {
	uint64_t size;
	uint32_t bs;
	bool ro;
	struct spec_pres x;
};

static int spec_sized_parse(const char *kind, char *args,
			    struct spec_sized *s,
			    int (*extra)(void *arg, const char *opt,
					 const char *val, char *err,
					 size_t errlen),
			    void *arg, char *err, size_t errlen)
{
	char *save = NULL, *opt;
	char *sz = strtok_r(args, ",", &save);
	int r;

	*s = (struct spec_sized){ .bs = 512, .x = { .wsnz = -1 } };
	if (sz == NULL || sk_parse_size(sz, &s->size) != 0 || s->size == 0) {
		snprintf(err, errlen, "%s: bad or missing size '%s'", kind,
			 sz ? sz : "");
		return -1;
	}
	while ((opt = strtok_r(NULL, ",", &save)) != NULL) {
		char *val = spec_opt_value(opt);

		r = spec_pres_opt(opt, val, &s->x, err, errlen);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (strcmp(opt, "ro") == 0 && val == NULL) {
			s->ro = true;
			continue;
		}
		if (strcmp(opt, "bs") == 0 && val != NULL) {
			if (spec_parse_bs(val, &s->bs, err, errlen) != 0)
				return -1;
			if (s->bs != 512 && s->bs != 4096) {
				snprintf(err, errlen, "%s: bs must be 512 or "
					 "4096", kind);
				return -1;
			}
			continue;
		}
		r = extra ? extra(arg, opt, val, err, errlen) : 0;
		if (r < 0)
			return -1;
		if (r == 0) {
			snprintf(err, errlen, "%s: unknown option '%s'", kind,
				 opt);
			return -1;
		}
	}
	if (s->size % s->bs != 0) {
		snprintf(err, errlen, "%s: size %llu is not a multiple of the "
			 "block size %u", kind, (unsigned long long)s->size,
			 s->bs);
		return -1;
	}
	return 0;
}

static struct bdev *spec_mem(const char *name, char *args, char *err,
			     size_t errlen)
{
	struct spec_sized s;
	struct bdev *bd;

	if (spec_sized_parse("mem", args, &s, NULL, NULL, err, errlen) != 0)
		return NULL;
	bd = bdev_mem_create(name, s.size, s.bs, s.ro);
	if (bd == NULL)
		snprintf(err, errlen, "mem: cannot create a %llu-byte disk: %s",
			 (unsigned long long)s.size,
			 errno == EINVAL ? "too large (limit 256T)"
					 : strerror(errno));
	return spec_pres_apply(bd, &s.x, err, errlen);
}

static struct bdev *spec_file(const char *name, char *args, char *err,
			      size_t errlen)
{
	char *save = NULL, *opt;
	char *path = strtok_r(args, ",", &save);
	struct bdev_file_opts o = { 0 };
	struct spec_pres x = { .wsnz = -1 };
	int r;

	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "file: missing path");
		return NULL;
	}
	while ((opt = strtok_r(NULL, ",", &save)) != NULL) {
		char *val = spec_opt_value(opt);

		r = spec_pres_opt(opt, val, &x, err, errlen);
		if (r < 0)
			return NULL;
		if (r > 0)
			continue;
		if (strcmp(opt, "ro") == 0 && val == NULL) {
			o.read_only = true;
		} else if (strcmp(opt, "direct") == 0 && val == NULL) {
			o.direct = true;
		} else if (strcmp(opt, "inline_write") == 0 && val == NULL) {
			o.inline_write = true;
		} else if (strcmp(opt, "size") == 0 && val != NULL) {
			if (sk_parse_size(val, &o.size) != 0 || o.size == 0) {
				snprintf(err, errlen, "file: bad size '%s'",
					 val);
				return NULL;
			}
		} else if (strcmp(opt, "bs") == 0 && val != NULL) {
			if (spec_parse_bs(val, &o.lbsize, err, errlen) != 0)
				return NULL;
		} else if (strcmp(opt, "engine") == 0 && val != NULL) {
			if (strcmp(val, "uring") == 0) {
				o.engine = BDEV_FILE_ENGINE_URING;
			} else if (strcmp(val, "pool") == 0) {
				o.engine = BDEV_FILE_ENGINE_POOL;
			} else {
				snprintf(err, errlen, "file: bad engine '%s' "
					 "(uring or pool)", val);
				return NULL;
			}
		} else {
			snprintf(err, errlen, "file: unknown option '%s'", opt);
			return NULL;
		}
	}
	o.thick = x.thick;
	return spec_pres_apply(bdev_file_create(name, path, &o, err, errlen),
			       &x, err, errlen);
}

/* null's own option: latency=USEC, 0 to 1000000. */
static int spec_null_opt(void *arg, const char *opt, const char *val,
			 char *err, size_t errlen)
{
	uint64_t *lat = arg;
	char *end;

	if (strcmp(opt, "latency") != 0 || val == NULL)
		return 0;
	errno = 0;
	*lat = strtoull(val, &end, 10);
	if (errno != 0 || end == val || *end != '\0' || *lat > 1000000) {
		snprintf(err, errlen, "null: bad latency '%s' "
			 "(microseconds, 0 to 1000000)", val);
		return -1;
	}
	return 1;
}

/* null:SIZE[,bs=512|4096][,latency=USEC][,ro] and the presentation
 * options: the benchmark disk (src/bdev/null.c). */
static struct bdev *spec_null(const char *name, char *args, char *err,
			      size_t errlen)
{
	struct spec_sized s;
	uint64_t lat = 0;
	struct bdev *bd;

	if (spec_sized_parse("null", args, &s, spec_null_opt, &lat, err,
			     errlen) != 0)
		return NULL;
	bd = bdev_null_create(name, s.size, s.bs, (uint32_t)lat);
	if (bd == NULL) {
		snprintf(err, errlen, "null: cannot create it: %s",
			 strerror(errno));
		return NULL;
	}
	bd->geo.read_only = s.ro;
	return spec_pres_apply(bd, &s.x, err, errlen);
}

static struct bdev *spec_rbd(const char *name, char *args, char *err,
			     size_t errlen)
{
	char *save = NULL, *opt;
	char *image = strtok_r(args, ",", &save);
	struct bdev_rbd_opts o = { 0 };
	struct spec_pres x = { .wsnz = -1 };
	int r;

	if (rbd_spec_name(image, &o, err, errlen) < 0)
		return NULL;
	while ((opt = strtok_r(NULL, ",", &save)) != NULL) {
		char *val = spec_opt_value(opt);

		r = spec_pres_opt(opt, val, &x, err, errlen);
		if (r == 0)
			r = rbd_spec_opt(&o, opt, val, err, errlen);
		if (r < 0)
			return NULL;
		if (r == 0) {
			snprintf(err, errlen, "rbd: unknown option '%s'", opt);
			return NULL;
		}
	}
	if (!bdev_rbd_available()) {
		snprintf(err, errlen, "rbd: scsikit was built without librbd");
		return NULL;
	}
	return spec_pres_apply(bdev_rbd_create(name, &o, err, errlen), &x,
			       err, errlen);
}

/*
 * The drive options ",removable" and ",cdrom" (any backend): take them out
 * of spec (in place) and say which drive the medium goes in.  A CD-ROM's
 * medium is read-only with 2048-byte blocks unless bs= says otherwise.
 * Returns the rewritten spec, malloc'ed, or NULL when out of memory.
 */
static char *spec_take_drive(const char *spec, enum bdev_medium_kind *kind)
{
	size_t n = strlen(spec);
	char *out = malloc(n + sizeof(",bs=2048,ro"));
	char *tmp = strdup(spec), *save = NULL, *tok;
	bool bs = false, ro = false, first = true;

	*kind = BDEV_MEDIUM_FIXED;
	if (out == NULL || tmp == NULL) {
		free(out);
		free(tmp);
		return NULL;
	}
	out[0] = '\0';
	for (tok = strtok_r(tmp, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!first && strcmp(tok, "removable") == 0) {
			if (*kind == BDEV_MEDIUM_FIXED)
				*kind = BDEV_MEDIUM_REMOVABLE;
			continue;
		}
		if (!first && strcmp(tok, "cdrom") == 0) {
			*kind = BDEV_MEDIUM_OPTICAL;
			continue;
		}
		if (!first && strncmp(tok, "bs=", 3) == 0)
			bs = true;
		if (!first && strcmp(tok, "ro") == 0)
			ro = true;
		if (!first)
			strcat(out, ",");
		strcat(out, tok);
		first = false;
	}
	if (*kind == BDEV_MEDIUM_OPTICAL) {
		if (!bs)
			strcat(out, ",bs=2048");
		if (!ro)
			strcat(out, ",ro");
	}
	free(tmp);
	return out;
}

static struct bdev *spec_create_fixed(const char *name, const char *spec,
				      char *err, size_t errlen);

struct bdev *bdev_create_spec(const char *name, const char *spec, char *err,
			      size_t errlen)
{
	enum bdev_medium_kind kind;
	struct bdev *medium, *drive;
	char dummy[2];
	char *inner;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (spec == NULL || strncmp(spec, "fault:", 6) == 0)
		return spec_create_fixed(name, spec, err, errlen);
	inner = spec_take_drive(spec, &kind);
	if (inner == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	medium = spec_create_fixed(name, inner, err, errlen);
	free(inner);
	if (medium == NULL || kind == BDEV_MEDIUM_FIXED)
		return medium;
	drive = bdev_medium_create(name, medium, kind);
	bdev_release(medium);
	if (drive == NULL)
		snprintf(err, errlen, "cannot create the drive: %s",
			 strerror(errno));
	return drive;
}

static struct bdev *spec_create_fixed(const char *name, const char *spec,
				      char *err, size_t errlen)
{
	char dummy[2];
	char *copy, *colon;
	struct bdev *bd = NULL;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (spec == NULL || (colon = strchr(spec, ':')) == NULL) {
		snprintf(err, errlen, "bad disk spec '%s' (want mem:SIZE or "
			 "file:PATH)", spec ? spec : "");
		return NULL;
	}
	/* fault: wraps whatever spec follows, options and all. */
	if (strncmp(spec, "fault:", 6) == 0)
		return bdev_fault_create_spec(name, spec + 6, err, errlen);
	copy = strdup(spec);
	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	colon = copy + (colon - spec);
	*colon = '\0';
	if (strcmp(copy, "mem") == 0)
		bd = spec_mem(name, colon + 1, err, errlen);
	else if (strcmp(copy, "file") == 0)
		bd = spec_file(name, colon + 1, err, errlen);
	else if (strcmp(copy, "null") == 0)
		bd = spec_null(name, colon + 1, err, errlen);
	else if (strcmp(copy, "rbd") == 0)
		bd = spec_rbd(name, colon + 1, err, errlen);
	else
		snprintf(err, errlen, "unknown disk type '%s' (want mem, "
			 "file, null or rbd)", copy);
	free(copy);
	return bd;
}
