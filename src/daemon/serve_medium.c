/*
 * The control socket's `disk eject NAME` and `disk load NAME [SPEC]`: the
 * operator's hand on a removable or CD-ROM drive (a disk made with
 * ,removable or ,cdrom).  Eject opens the tray of every LUN on the drive
 * -- refused while an initiator prevents medium removal -- and load
 * closes it, first swapping in a new medium when SPEC is given (a disk
 * spec, or just a file path).  The new medium gets the drive's block size
 * and, for a read-only drive, ,ro, unless SPEC says otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/log.h>
#include <scsikit/target.h>

#include "serve_internal.h"

static const char *medium_err(int rc)
{
	switch (rc) {
	case -EBUSY:
		return "medium removal is prevented by an initiator";
	case -EINVAL:
		return "not a removable drive, or another block size";
	case -EROFS:
		return "a read-only medium in a read-write drive";
	case -ENOMEDIUM:
		return "no medium in the drive: give one";
	default:
		return strerror(-rc);
	}
}

/* SPEC for the new medium of drive: a bare path becomes file:PATH, and
 * the drive's block size and read-only flag are added when missing. */
static char *medium_spec(struct bdev *drive, const char *arg)
{
	const struct bdev_geometry *geo = bdev_geometry(drive);
	bool spec = strncmp(arg, "mem:", 4) == 0 ||
		    strncmp(arg, "file:", 5) == 0;
	char *out = NULL;

	if (asprintf(&out, "%s%s%s%.0u%s", spec ? "" : "file:", arg,
		     strstr(arg, ",bs=") ? "" : ",bs=",
		     strstr(arg, ",bs=") ? 0u : geo->lbsize,
		     geo->read_only && !strstr(arg, ",ro") ? ",ro" : "") < 0)
		return NULL;
	return out;
}

int ctl_disk_medium(int argc, char **argv, FILE *out)
{
	struct bdev *drive, *medium = NULL;
	char err[256];
	int rc;

	drive = bdev_registry_get(argv[2]);
	if (drive == NULL) {
		fprintf(out, "no disk '%s'", argv[2]);
		return -1;
	}
	if (strcmp(argv[1], "eject") == 0) {
		rc = tgt_medium_eject(drive);
	} else {
		if (argc == 4) {
			char *spec = medium_spec(drive, argv[3]);

			medium = spec != NULL ? bdev_create_spec(
							bdev_name(drive), spec,
							err, sizeof(err)) :
						NULL;
			free(spec);
			if (medium == NULL) {
				bdev_release(drive);
				fprintf(out, "%s", spec ? err : "out of memory");
				return -1;
			}
		}
		rc = tgt_medium_load(drive, medium);
		if (medium != NULL)
			bdev_release(medium);
	}
	if (rc < 0) {
		fprintf(out, "%s: %s", argv[2], medium_err(rc));
		bdev_release(drive);
		return -1;
	}
	log_info("disk %s: medium %s%s%s", argv[2],
		 strcmp(argv[1], "eject") == 0 ? "ejected" : "loaded",
		 argc == 4 ? " " : "", argc == 4 ? argv[3] : "");
	bdev_release(drive);
	return 0;
}
