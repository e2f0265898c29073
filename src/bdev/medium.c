/*
 * The medium bdev: a drive whose medium can be taken out and replaced at
 * run time -- a removable disk, or a CD/DVD drive holding an ISO image.
 * The drive is the bdev everybody holds (the registry, the target
 * engine's LUNs); the medium is another bdev inside it, swapped by
 * bdev_medium_change().
 *
 * Each I/O takes a reference on the medium it was started on and goes to
 * it as a child I/O, so a medium taken out while I/O is in flight lives
 * until that I/O completes.  With no medium every I/O fails -ENOMEDIUM.
 * The drive's geometry is the first medium's; a new medium must have the
 * same logical block size, and the drive's size follows the medium
 * (bdev_resize), zero when empty.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev_int.h"

struct medium {
	pthread_mutex_t lock;		/* guards cur and gen */
	struct bdev *cur;		/* the medium, or NULL */
	uint64_t gen;			/* bumped by every change */
	enum bdev_medium_kind kind;	/* const */
};

/* A child I/O on the medium for one I/O on the drive. */
struct medium_io {
	struct bdev_io io;
	struct bdev_io *parent;
	struct bdev *bd;		/* the medium, held */
};

static void medium_io_done(struct bdev_io *io, int status, void *arg)
{
	struct medium_io *m = arg;
	struct bdev_io *parent = m->parent;

	(void)io;
	bdev_release(m->bd);
	free(m);
	bdev_io_complete(parent, status);
}

static struct bdev *medium_get(struct bdev *bd)
{
	struct medium *md = bdev_priv(bd);
	struct bdev *cur;

	pthread_mutex_lock(&md->lock);
	cur = md->cur != NULL ? bdev_hold(md->cur) : NULL;
	pthread_mutex_unlock(&md->lock);
	return cur;
}

static int medium_submit(struct bdev *bd, struct bdev_io *io)
{
	struct bdev *cur = medium_get(bd);
	struct medium_io *m;
	int rc;

	if (cur == NULL)
		return -ENOMEDIUM;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		bdev_release(cur);
		return -ENOMEM;
	}
	m->parent = io;
	m->bd = cur;
	m->io.type = io->type;
	m->io.flags = io->flags;
	m->io.offset = io->offset;
	m->io.length = io->length;
	m->io.iov = io->iov;
	m->io.iovcnt = io->iovcnt;
	m->io.loop = io->loop;
	m->io.cb = medium_io_done;
	m->io.cb_arg = m;
	rc = bdev_submit(cur, &m->io);
	if (rc < 0) {
		bdev_release(cur);
		free(m);
	}
	return rc;
}

static void medium_destroy(struct bdev *bd)
{
	struct medium *md = bdev_priv(bd);

	if (md->cur != NULL)
		bdev_release(md->cur);
	pthread_mutex_destroy(&md->lock);
	free(md);
}

static int medium_block_status(struct bdev *bd, uint64_t offset,
			       uint64_t length, enum bdev_alloc_state *state,
			       uint64_t *run)
{
	struct bdev *cur = medium_get(bd);
	int rc;

	if (cur == NULL)
		return -ENOMEDIUM;
	rc = bdev_block_status(cur, offset, length, state, run);
	bdev_release(cur);
	return rc;
}

static void medium_describe(struct bdev *bd, char *buf, size_t len)
{
	struct medium *md = bdev_priv(bd);
	struct bdev *cur = medium_get(bd);
	char inner[192] = "";

	if (cur != NULL) {
		bdev_describe(cur, inner, sizeof(inner));
		bdev_release(cur);
	}
	snprintf(buf, len, "%s drive, %s%s",
		 md->kind == BDEV_MEDIUM_OPTICAL ? "CD/DVD" : "removable",
		 cur != NULL ? "medium: " : "no medium", inner);
}

static const struct bdev_ops medium_ops = {
	.name = "medium",
	.submit = medium_submit,
	.destroy = medium_destroy,
	.block_status = medium_block_status,
	.describe = medium_describe,
};

struct bdev *bdev_medium_create(const char *name, struct bdev *medium,
				enum bdev_medium_kind kind)
{
	struct bdev_geometry geo;
	struct medium *md;
	struct bdev *bd;

	if (medium == NULL || kind == BDEV_MEDIUM_FIXED) {
		errno = EINVAL;
		return NULL;
	}
	md = calloc(1, sizeof(*md));
	if (md == NULL)
		return NULL;
	pthread_mutex_init(&md->lock, NULL);
	md->kind = kind;
	geo = *bdev_geometry(medium);
	geo.size = bdev_size_now(medium);
	/* Another medium may not offer compare-and-write: the engine does
	 * it. */
	geo.max_compare_write = 0;
	/* An optical disc is read-only whatever the image file allows. */
	if (kind == BDEV_MEDIUM_OPTICAL)
		geo.read_only = true;
	bd = bdev_alloc(&medium_ops, name, &geo, md);
	if (bd == NULL) {
		pthread_mutex_destroy(&md->lock);
		free(md);
		return NULL;
	}
	md->cur = bdev_hold(medium);
	md->gen = 1;
	return bd;
}

enum bdev_medium_kind bdev_medium_kind(const struct bdev *bd)
{
	if (bd == NULL || bd->ops != &medium_ops)
		return BDEV_MEDIUM_FIXED;
	return ((const struct medium *)bd->priv)->kind;
}

int bdev_medium_change(struct bdev *bd, struct bdev *medium)
{
	struct medium *md;
	struct bdev *old;

	if (bd == NULL || bd->ops != &medium_ops)
		return -EINVAL;
	if (medium != NULL &&
	    bdev_geometry(medium)->lbsize != bd->geo.lbsize)
		return -EINVAL;
	if (medium != NULL && !bd->geo.read_only &&
	    bdev_geometry(medium)->read_only)
		return -EROFS;
	md = bd->priv;
	pthread_mutex_lock(&md->lock);
	old = md->cur;
	md->cur = medium != NULL ? bdev_hold(medium) : NULL;
	md->gen++;
	bdev_resize(bd, medium != NULL ? bdev_size_now(medium) : 0);
	pthread_mutex_unlock(&md->lock);
	if (old != NULL)
		bdev_release(old);
	return 0;
}

bool bdev_medium_present(struct bdev *bd, uint64_t *gen)
{
	struct medium *md;
	bool present;

	if (bd == NULL || bd->ops != &medium_ops) {
		if (gen != NULL)
			*gen = 0;
		return true;
	}
	md = bd->priv;
	pthread_mutex_lock(&md->lock);
	present = md->cur != NULL;
	if (gen != NULL)
		*gen = md->gen;
	pthread_mutex_unlock(&md->lock);
	return present;
}
