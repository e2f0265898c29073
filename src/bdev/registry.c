/*
 * The disk registry: the daemon's named bdevs, in the order they were
 * added, which every export front end publishes, plus the listeners that
 * hear of changes (the iSCSI target makes a target per disk, the xdisk
 * server a span).
 *
 * Two locks.  reg_mu guards the disk list and the listener table and is
 * never held while foreign code runs, except in bdev_registry_foreach as
 * the contract says.  reg_notify_mu (recursive) serialises the listener
 * calls themselves, so every listener sees events in one global order, and
 * bdev_registry_unlisten() can promise that once it returns the listener
 * is not running and will not run again.  Being recursive, it lets a
 * listener add or remove disks, or unlisten, from inside its callback.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/log.h>

#include "bdev/bdev_int.h"

struct reg_listener {
	int handle;		/* 0: free slot */
	bdev_registry_cb cb;
	void *arg;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reg_notify_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct bdev **reg_disks;		/* insertion order */
static unsigned reg_ndisks, reg_cap;
static struct reg_listener *reg_listeners;
static unsigned reg_nlisteners;		/* slots in use or free */
static int reg_next_handle = 1;

/* Index of name in reg_disks, or -1.  Called with reg_mu held. */
static int reg_find(const char *name)
{
	for (unsigned i = 0; i < reg_ndisks; i++) {
		if (strcmp(reg_disks[i]->name, name) == 0)
			return (int)i;
	}
	return -1;
}

/*
 * Tell every listener.  The table is copied under reg_mu and then walked
 * without it, so listeners may call back into the registry; a listener
 * removed while the walk runs is skipped by checking its handle again.
 */
static void reg_notify(enum bdev_registry_event ev, struct bdev *bd)
{
	struct reg_listener *snap;
	unsigned n;

	pthread_mutex_lock(&reg_notify_mu);
	pthread_mutex_lock(&reg_mu);
	n = reg_nlisteners;
	snap = n > 0 ? malloc(n * sizeof(*snap)) : NULL;
	if (snap != NULL)
		memcpy(snap, reg_listeners, n * sizeof(*snap));
	else if (n > 0)
		log_err("registry: out of memory notifying listeners");
	pthread_mutex_unlock(&reg_mu);

	for (unsigned i = 0; snap != NULL && i < n; i++) {
		bool live = false;

		if (snap[i].handle == 0)
			continue;
		pthread_mutex_lock(&reg_mu);
		for (unsigned j = 0; j < reg_nlisteners; j++) {
			if (reg_listeners[j].handle == snap[i].handle)
				live = true;
		}
		pthread_mutex_unlock(&reg_mu);
		if (live)
			snap[i].cb(ev, bd, snap[i].arg);
	}
	free(snap);
	pthread_mutex_unlock(&reg_notify_mu);
}

int bdev_registry_add(struct bdev *bd)
{
	if (bd == NULL || bd->name[0] == '\0')
		return -EINVAL;
	pthread_mutex_lock(&reg_mu);
	if (reg_find(bd->name) >= 0) {
		pthread_mutex_unlock(&reg_mu);
		return -EEXIST;
	}
	if (reg_ndisks == reg_cap) {
		unsigned ncap = reg_cap ? reg_cap * 2 : 8;
		struct bdev **nd = realloc(reg_disks, ncap * sizeof(*nd));

		if (nd == NULL) {
			pthread_mutex_unlock(&reg_mu);
			return -ENOMEM;
		}
		reg_disks = nd;
		reg_cap = ncap;
	}
	reg_disks[reg_ndisks++] = bdev_hold(bd);
	/* Listeners may drop the disk again before we are back; keep it
	 * alive through the notification. */
	bdev_hold(bd);
	pthread_mutex_unlock(&reg_mu);

	log_info("registry: added disk %s", bd->name);
	reg_notify(BDEV_REGISTRY_ADDED, bd);
	bdev_release(bd);
	return 0;
}

int bdev_registry_remove(const char *name)
{
	struct bdev *bd;
	int i;

	if (name == NULL)
		return -EINVAL;
	pthread_mutex_lock(&reg_mu);
	i = reg_find(name);
	if (i < 0) {
		pthread_mutex_unlock(&reg_mu);
		return -ENOENT;
	}
	bd = reg_disks[i];
	memmove(&reg_disks[i], &reg_disks[i + 1],
		(reg_ndisks - (unsigned)i - 1) * sizeof(*reg_disks));
	reg_ndisks--;
	pthread_mutex_unlock(&reg_mu);

	log_info("registry: removed disk %s", bd->name);
	/* The registry's reference is dropped only after listeners have
	 * heard, so they may still look at the disk. */
	reg_notify(BDEV_REGISTRY_REMOVED, bd);
	bdev_release(bd);
	return 0;
}

struct bdev *bdev_registry_get(const char *name)
{
	struct bdev *bd = NULL;
	int i;

	if (name == NULL)
		return NULL;
	pthread_mutex_lock(&reg_mu);
	i = reg_find(name);
	if (i >= 0)
		bd = bdev_hold(reg_disks[i]);
	pthread_mutex_unlock(&reg_mu);
	return bd;
}

void bdev_registry_foreach(void (*fn)(struct bdev *bd, void *arg), void *arg)
{
	pthread_mutex_lock(&reg_mu);
	for (unsigned i = 0; i < reg_ndisks; i++)
		fn(reg_disks[i], arg);
	pthread_mutex_unlock(&reg_mu);
}

unsigned bdev_registry_count(void)
{
	unsigned n;

	pthread_mutex_lock(&reg_mu);
	n = reg_ndisks;
	pthread_mutex_unlock(&reg_mu);
	return n;
}

int bdev_registry_listen(bdev_registry_cb cb, void *arg)
{
	int h;

	if (cb == NULL)
		return -EINVAL;
	pthread_mutex_lock(&reg_mu);
	/* Reuse a free slot before growing the table. */
	for (unsigned i = 0; i < reg_nlisteners; i++) {
		if (reg_listeners[i].handle == 0) {
			h = reg_next_handle++;
			reg_listeners[i] = (struct reg_listener){ h, cb, arg };
			pthread_mutex_unlock(&reg_mu);
			return h;
		}
	}
	{
		struct reg_listener *nl = realloc(reg_listeners,
			(reg_nlisteners + 1) * sizeof(*nl));

		if (nl == NULL) {
			pthread_mutex_unlock(&reg_mu);
			return -ENOMEM;
		}
		reg_listeners = nl;
	}
	h = reg_next_handle++;
	reg_listeners[reg_nlisteners++] = (struct reg_listener){ h, cb, arg };
	pthread_mutex_unlock(&reg_mu);
	return h;
}

void bdev_registry_unlisten(int handle)
{
	bool any = false;

	if (handle <= 0)
		return;
	/* Taking the notify lock waits out a notification in progress on
	 * another thread. */
	pthread_mutex_lock(&reg_notify_mu);
	pthread_mutex_lock(&reg_mu);
	for (unsigned i = 0; i < reg_nlisteners; i++) {
		if (reg_listeners[i].handle == handle)
			reg_listeners[i].handle = 0;
		if (reg_listeners[i].handle != 0)
			any = true;
	}
	if (!any) {
		free(reg_listeners);
		reg_listeners = NULL;
		reg_nlisteners = 0;
	}
	pthread_mutex_unlock(&reg_mu);
	pthread_mutex_unlock(&reg_notify_mu);
}

void bdev_registry_clear(void)
{
	for (;;) {
		char *name;

		pthread_mutex_lock(&reg_mu);
		if (reg_ndisks == 0) {
			/* Nothing left: give the memory back too, so a test
			 * that clears at the end leaks nothing. */
			free(reg_disks);
			reg_disks = NULL;
			reg_cap = 0;
			pthread_mutex_unlock(&reg_mu);
			break;
		}
		name = strdup(reg_disks[reg_ndisks - 1]->name);
		pthread_mutex_unlock(&reg_mu);
		if (name == NULL)
			break;
		/* Newest first, the reverse of setting up. */
		bdev_registry_remove(name);
		free(name);
	}
}
