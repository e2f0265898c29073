/*
 * The daemon's configuration written back out: the answer to the control
 * request "config save" (`scsikit config save [FILE]`), a config file that
 * `scsikit serve --config FILE` restores.
 *
 * What it holds:
 *   - the daemon's own settings as they are now (reactors, log level,
 *     trace categories);
 *   - every disk made from a SPEC (by --disk at start or "disk add" since)
 *     that still exists, in the registry's order; disks that importers
 *     made are not listed, their import options are;
 *   - for a front end that can print its own settings (a save hook: the
 *     iSCSI target, whose ACLs, CHAP and LUN maps change at run time), what
 *     it prints; for the others, their options as the daemon was given
 *     them, in order.
 * It is the same text for two daemons configured alike, so a test can
 * compare them.  It may hold CHAP secrets: the CLI writes it mode 0600.
 *
 * Everything here runs on the daemon's main thread (start-up and control
 * requests), so nothing is locked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/api.h>
#include <scsikit/bdev.h>
#include <scsikit/log.h>

#include "serve_internal.h"

struct save_note {
	struct save_note *next;
	char *key, *value;
};

static struct save_note *notes, **notes_tail = &notes;
static struct save_note *disks;	/* name = key, spec = value */
static struct save_note *kept;	/* strings kept for the daemon's life */

static struct save_note *note_new(const char *key, const char *value)
{
	struct save_note *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->key = strdup(key);
	n->value = strdup(value);
	if (n->key == NULL || n->value == NULL) {
		free(n->key);
		free(n->value);
		free(n);
		return NULL;
	}
	return n;
}

static void note_free_list(struct save_note *n)
{
	while (n != NULL) {
		struct save_note *next = n->next;

		free(n->key);
		free(n->value);
		free(n);
		n = next;
	}
}

/* Keys that are not saved as given: the daemon's own (printed from their
 * current value), disks (printed from the registry), and what concerns one
 * run only. */
static bool key_not_replayed(const char *key)
{
	static const char *const skip[] = {
		"disk", "config", "ctl", "socket", "reactors", "log-level",
		"trace", "no-default-disk", "help",
	};

	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strcmp(key, skip[i]) == 0)
			return true;
	return false;
}

int serve_save_note_option(const char *key, const char *value)
{
	struct save_note *n;

	if (key_not_replayed(key))
		return 0;
	n = note_new(key, value);
	if (n == NULL)
		return -1;
	*notes_tail = n;
	notes_tail = &n->next;
	return 0;
}

int serve_save_note_disk(const char *name, const char *spec)
{
	struct save_note *n = note_new(name, spec), **pp;

	if (n == NULL)
		return -1;
	/* A disk removed and added again has its newest spec. */
	for (pp = &disks; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->key, name) == 0) {
			struct save_note *old = *pp;

			n->next = old->next;
			old->next = NULL;
			note_free_list(old);
			*pp = n;
			return 0;
		}
	*pp = n;
	return 0;
}

char *serve_save_keep(char *s)
{
	struct save_note *n;

	if (s == NULL || (n = calloc(1, sizeof(*n))) == NULL) {
		free(s);
		return NULL;
	}
	n->key = s;
	n->next = kept;
	kept = n;
	return s;
}

struct disk_out {
	FILE *out;
};

static void save_disk(struct bdev *bd, void *arg)
{
	struct disk_out *o = arg;

	for (struct save_note *n = disks; n != NULL; n = n->next)
		if (strcmp(n->key, bdev_name(bd)) == 0) {
			fprintf(o->out, "disk %s=%s\n", n->key, n->value);
			return;
		}
}

static const struct serve_frontend *frontend_of_key(const char *key)
{
	for (unsigned i = 0; i < serve_nfrontends; i++) {
		const char *name = serve_frontend_names[i];
		size_t len = strlen(name);

		if (strncmp(key, name, len) == 0 &&
		    (key[len] == '\0' || key[len] == '-'))
			return serve_frontends[i];
	}
	return NULL;
}

int serve_save_write(struct serve_daemon *d, FILE *out)
{
	static const char *const levels[] = { "error", "warning", "info",
					      "debug" };
	struct disk_out o = { out };
	char trace[128];

	log_trace_format(sk_trace_mask, trace, sizeof(trace));
	fprintf(out, "# scsikit %s: written by 'scsikit config save'; "
		     "'scsikit serve --config FILE' restores it\n",
		SCSIKIT_VERSION_STRING);
	fprintf(out, "reactors %u\n", d->ctx.nloops);
	fprintf(out, "log-level %s\n", levels[log_get_level() & 3]);
	fprintf(out, "trace %s\n", trace);
	fprintf(out, "no-default-disk yes\n");
	bdev_registry_foreach(save_disk, &o);
	for (struct save_note *n = notes; n != NULL; n = n->next) {
		const struct serve_frontend *fe = frontend_of_key(n->key);

		if (fe != NULL && fe->save != NULL)
			continue;
		fprintf(out, "%s %s\n", n->key, n->value);
	}
	for (unsigned i = 0; i < serve_nfrontends; i++) {
		const struct serve_frontend *fe = serve_frontends[i];

		if (fe == NULL || fe->save == NULL || d->fe_state[i] == NULL)
			continue;
		if (fe->save(d->fe_state[i], out) < 0)
			return -1;
	}
	return 0;
}

void serve_save_free(void)
{
	note_free_list(notes);
	note_free_list(disks);
	note_free_list(kept);
	notes = disks = kept = NULL;
	notes_tail = &notes;
}
