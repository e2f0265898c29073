/*
 * A userland target for a vscsi SIM that serves target-engine LUNs: each
 * vscsi target id maps to one tgt_target with one I_T nexus; each command
 * handed over by I2T becomes a tgt_task.  This is what `scsikit
 * vscsi-target` runs, written against the public client library only (the
 * way any other userland target would be).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/scsi.h>
#include <scsikit/target.h>
#include <scsikit/vscsi.h>

struct tsrv_task {
	struct tgt_task task;
	struct vscsi_tgtsrv *srv;
	struct iovec iov;	/* the library's buffer (zero copy) */
	uint32_t tag;
};

struct vscsi_tgtsrv {
	struct vscsi_client *c;
	struct ev_loop *loop;
	struct ev_io *io;
	struct tgt_target *targets[VSCSI_TARGETS];
	struct tgt_nexus *nexus[VSCSI_TARGETS];
	unsigned inflight;
	bool flush_deferred;	/* a flush of the corked T2Is is due */
	bool gone;		/* the SIM went away (or we are closing) */
	bool destroying;	/* free when the last task is back */
	void (*on_gone)(void *arg);
	void *gone_arg;
};

static void tsrv_free(struct vscsi_tgtsrv *s)
{
	for (unsigned i = 0; i < VSCSI_TARGETS; i++) {
		if (s->nexus[i])
			tgt_nexus_destroy(s->nexus[i]);
		if (s->targets[i])
			tgt_target_release(s->targets[i]);
	}
	vscsi_client_close(s->c);
	free(s);
}

static void tsrv_gone(struct vscsi_tgtsrv *s, int err)
{
	if (s->gone)
		return;
	s->gone = true;
	if (s->io) {
		ev_io_del(s->io);
		s->io = NULL;
	}
	log_info("vscsi-target: connection to the SIM ended: %s",
		 strerror(-err));
	if (s->on_gone)
		s->on_gone(s->gone_arg);
}

/* Completions of one loop iteration leave in one send. */
static void tsrv_flush(void *arg)
{
	struct vscsi_tgtsrv *s = arg;
	int err;

	s->flush_deferred = false;
	if (s->gone) {
		if (s->destroying && s->inflight == 0)
			tsrv_free(s);
		return;
	}
	err = vscsi_client_flush(s->c);
	if (err)
		tsrv_gone(s, err);
}

static void tsrv_t2i(struct vscsi_tgtsrv *s, uint32_t tag,
		     enum vscsi_stat st, uint8_t scsi_status,
		     const uint8_t *sense, uint8_t sense_len)
{
	struct vscsi_t2i t;
	int err;

	memset(&t, 0, sizeof(t));
	t.tag = tag;
	t.status = st;
	t.scsi_status = scsi_status;
	if (sense_len) {
		t.sense_len = sense_len;
		memcpy(t.sense, sense, sense_len);
	}
	err = vscsi_t2i(s->c, &t);
	if (!err && !s->flush_deferred) {
		if (ev_loop_defer(s->loop, tsrv_flush, s) == 0)
			s->flush_deferred = true;
		else
			err = vscsi_client_flush(s->c);
	}
	if (err && err != -EFAULT)
		tsrv_gone(s, err);
	else if (err)
		log_warn("vscsi-target: T2I tag 0x%x: %s", tag, strerror(-err));
}

static void tsrv_task_done(struct tgt_task *task, void *arg)
{
	struct tsrv_task *tt = arg;
	struct vscsi_tgtsrv *s = tt->srv;

	(void)task;
	s->inflight--;
	if (s->gone)
		goto out;
	if (tt->task.aborted) {
		tsrv_t2i(s, tt->tag, VSCSI_STAT_RESET, 0, NULL, 0);
		goto out;
	}
	if (tt->task.dir == TGT_DIR_READ && tt->task.xfer_done) {
		uint32_t n = tt->task.xfer_done;

		if (n > tt->task.data_len)
			n = tt->task.data_len;
		/* The engine read straight into the library's buffer. */
		if (vscsi_data_commit(s->c, tt->tag, n) < 0)
			log_warn("vscsi-target: DATA_READ tag 0x%x refused",
				 tt->tag);
	}
	if (tt->task.status == SCSI_STATUS_CHECK_CONDITION)
		tsrv_t2i(s, tt->tag, VSCSI_STAT_SENSE, 0, tt->task.sense,
			 tt->task.sense_len);
	else
		tsrv_t2i(s, tt->tag, VSCSI_STAT_DONE, tt->task.status, NULL, 0);
out:
	free(tt);
	if (s->destroying && s->inflight == 0 && !s->flush_deferred)
		tsrv_free(s);
}

static enum tgt_task_attr tsrv_attr(uint8_t tag_action)
{
	switch (tag_action) {
	case 0x21:
		return TGT_TASK_HEAD_OF_QUEUE;
	case 0x22:
		return TGT_TASK_ORDERED;
	default:
		return TGT_TASK_SIMPLE;
	}
}

static void tsrv_command(struct vscsi_client *c, const struct vscsi_i2t *cmd,
			 void *arg)
{
	struct vscsi_tgtsrv *s = arg;
	struct tsrv_task *tt;

	(void)c;
	if (s->gone)
		return;
	if (cmd->target >= VSCSI_TARGETS || !s->targets[cmd->target]) {
		/* Nobody at this id: what a scan should see. */
		tsrv_t2i(s, cmd->tag, VSCSI_STAT_SELTIMEOUT, 0, NULL, 0);
		return;
	}
	tt = calloc(1, sizeof(*tt));
	if (!tt) {
		tsrv_t2i(s, cmd->tag, VSCSI_STAT_DONE, SCSI_STATUS_BUSY, NULL,
			 0);
		return;
	}
	tt->srv = s;
	tt->tag = cmd->tag;
	if (cmd->dir != VSCSI_DIR_NONE && cmd->data_len) {
		/* The engine works on the library's buffer: a WRITE's data
		 * as it arrived, or room for a READ's. */
		tt->iov.iov_base = vscsi_data_buffer(s->c, cmd->tag);
		if (!tt->iov.iov_base ||
		    (cmd->dir == VSCSI_DIR_WRITE &&
		     vscsi_data_commit(s->c, cmd->tag, cmd->data_len) < 0)) {
			free(tt);
			tsrv_t2i(s, cmd->tag, errno == ENOMEM
						      ? VSCSI_STAT_DONE
						      : VSCSI_STAT_ERR,
				 errno == ENOMEM ? SCSI_STATUS_BUSY : 0, NULL,
				 0);
			return;
		}
	}
	tt->iov.iov_len = cmd->data_len;
	memcpy(tt->task.cdb, cmd->cdb, sizeof(tt->task.cdb));
	tt->task.cdb_len = cmd->cdb_len;
	tt->task.lun = cmd->lun;
	tt->task.tag = cmd->tag;
	tt->task.attr = tsrv_attr(cmd->tag_action);
	tt->task.dir = cmd->dir == VSCSI_DIR_READ    ? TGT_DIR_READ
		       : cmd->dir == VSCSI_DIR_WRITE ? TGT_DIR_WRITE
						     : TGT_DIR_NONE;
	tt->task.data_len = cmd->data_len;
	tt->task.iov = &tt->iov;
	tt->task.iovcnt = 1;
	tt->task.loop = s->loop;
	tt->task.done = tsrv_task_done;
	tt->task.done_arg = tt;
	s->inflight++;
	if (tgt_task_submit(s->nexus[cmd->target], &tt->task) < 0) {
		s->inflight--;
		free(tt);
		tsrv_t2i(s, cmd->tag, VSCSI_STAT_ERR, 0, NULL, 0);
	}
}

static void tsrv_event(struct vscsi_client *c, enum vscsi_event ev,
		       uint32_t target, uint64_t lun, void *arg)
{
	struct vscsi_tgtsrv *s = arg;

	(void)c;
	sk_trace(SK_TRACE_VSCSI, "vscsi-target: event %d %u:%llu", (int)ev,
		 target, (unsigned long long)lun);
	if (ev != VSCSI_EV_RESET)
		return;
	/* The initiator reset a target (or the bus): give the LUNs the
	 * unit attentions SAM asks for. */
	for (unsigned i = 0; i < VSCSI_TARGETS; i++)
		if (s->targets[i] && (target == VSCSI_TARGETS || target == i))
			tgt_tmf(s->targets[i], NULL, TGT_TMF_TARGET_WARM_RESET,
				0);
}

static const struct vscsi_handler tsrv_handler = {
	.command = tsrv_command,
	.event = tsrv_event,
};

static void tsrv_io_cb(struct ev_io *io, int fd, uint32_t events, void *arg)
{
	struct vscsi_tgtsrv *s = arg;
	int err;

	(void)io;
	(void)fd;
	(void)events;
	err = vscsi_client_dispatch(s->c);
	if (err)
		tsrv_gone(s, err);
}

struct vscsi_tgtsrv *vscsi_tgtsrv_create(struct vscsi_client *c,
					 struct ev_loop *loop)
{
	struct vscsi_tgtsrv *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->c = c;
	s->loop = loop;
	vscsi_client_set_handler(c, &tsrv_handler, s);
	vscsi_client_cork(c, true);
	return s;
}

int vscsi_tgtsrv_add(struct vscsi_tgtsrv *s, uint32_t id,
		     struct tgt_target *t)
{
	char port[64];

	if (id >= VSCSI_TARGETS)
		return -ERANGE;
	if (s->targets[id])
		return -EEXIST;
	snprintf(port, sizeof(port), "vscsi:%s",
		 vscsi_client_info(s->c)->name);
	s->nexus[id] = tgt_nexus_create(t, port);
	if (!s->nexus[id])
		return -ENOMEM;
	/* Block Limits tells initiators the host's per-command limit. */
	tgt_target_set_max_xfer(t, vscsi_client_info(s->c)->max_xfer);
	s->targets[id] = tgt_target_hold(t);
	return 0;
}

int vscsi_tgtsrv_start(struct vscsi_tgtsrv *s, bool probe,
		       void (*on_gone)(void *arg), void *arg)
{
	s->on_gone = on_gone;
	s->gone_arg = arg;
	s->io = ev_io_add(s->loop, vscsi_client_fd(s->c), EV_READ, tsrv_io_cb,
			  s);
	if (!s->io)
		return -errno;
	if (!probe)
		return 0;
	for (unsigned i = 0; i < VSCSI_TARGETS; i++) {
		int err;

		if (!s->targets[i])
			continue;
		err = vscsi_reqprobe(s->c, i, 0);
		if (err) {
			log_warn("vscsi-target: REQPROBE %u: %s", i,
				 strerror(-err));
			return err;
		}
	}
	/* REQPROBE may have buffered commands while it waited. */
	if (vscsi_client_pending(s->c) && vscsi_client_dispatch(s->c) < 0)
		return -ECONNRESET;
	return 0;
}

unsigned vscsi_tgtsrv_inflight(const struct vscsi_tgtsrv *s)
{
	return s->inflight;
}

void vscsi_tgtsrv_destroy(struct vscsi_tgtsrv *s)
{
	if (!s)
		return;
	s->on_gone = NULL;
	if (!s->gone) {
		s->gone = true;
		if (s->io) {
			ev_io_del(s->io);
			s->io = NULL;
		}
	}
	if (s->inflight || s->flush_deferred) {
		/* The last task, or the deferred flush, frees. */
		s->destroying = true;
		return;
	}
	tsrv_free(s);
}
