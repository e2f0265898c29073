/*
 * The iSCSI SIM: a CAM host adapter whose one target (id 0) is an iSCSI
 * session.  action() turns XPT_SCSI_IO into SCSI Command tasks,
 * XPT_ABORT / XPT_RESET_DEV / XPT_RESET_BUS into ABORT TASK / LUN RESET /
 * TARGET WARM RESET, and answers path inquiry and transfer settings.
 *
 * While the session is not in the full feature phase the SIM queue stays
 * frozen (one freeze held by the SIM, s->frozen): CCBs wait in the XPT in
 * their order and held ones come back with CAM_REQUEUE_REQ.  When the
 * replacement timeout passes the freeze is lifted and commands end with
 * CAM_SEL_TIMEOUT (the peripheral sees -ENXIO) until the session returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "iscsi/chap.h"
#include "iscsi/ini_int.h"

#define INI_MAXIO (1u << 20)
#define INI_MAX_LUN 16383u
#define INI_DEVQ (INI_NTASKS - 64)

static void ini_action(struct cam_sim *sim, union ccb *ccb);

static const struct cam_sim_ops ini_sim_ops = {
	.name = "iscsi",
	.action = ini_action,
	.poll = NULL,
};

static void ini_repl_timer_cb(struct ev_timer *t, void *arg)
{
	struct iscsi_ini *s = arg;

	(void)t;
	ev_timer_del(s->repl_timer);
	s->repl_timer = NULL;
	if (s->state == INI_S_FULL)
		return;
	log_warn("iscsi-ini %s: down for %u s: failing I/O until it is back",
		 s->cfg.target, s->cfg.replacement_ms / 1000);
	s->failed = true;
	if (s->frozen) {
		s->frozen = false;
		xpt_release_simq(s->sim, true);
	}
}

void ini_sim_down(struct iscsi_ini *s)
{
	if (!s->frozen && !s->failed) {
		xpt_freeze_simq(s->sim, 1);
		s->frozen = true;
	}
	if (!s->repl_timer && !s->failed && s->ever_up && !s->destroying) {
		s->down_since = ev_now_ms();
		s->repl_timer = ev_timer_add(s->loop, s->cfg.replacement_ms
						      ? s->cfg.replacement_ms
						      : 1,
					     false, ini_repl_timer_cb, s);
	}
}

void ini_sim_up(struct iscsi_ini *s)
{
	if (s->repl_timer) {
		ev_timer_del(s->repl_timer);
		s->repl_timer = NULL;
	}
	if (s->ever_up)
		s->st_reconnects++;
	s->ever_up = true;
	s->failed = false;
	if (s->frozen) {
		s->frozen = false;
		xpt_release_simq(s->sim, true);
	}
	ini_set_ready(s, 1, NULL);
}

static void ini_path_inq(struct iscsi_ini *s, union ccb *ccb)
{
	struct ccb_pathinq *cpi = &ccb->cpi;

	cpi->version_num = 1;
	cpi->hba_inquiry = PI_TAG_ABLE;
	cpi->target_sprt = 0;
	cpi->hba_misc = PIM_NOBUSRESET;
	cpi->hba_eng_cnt = 0;
	cpi->max_target = 0;
	cpi->max_lun = INI_MAX_LUN;
	cpi->initiator_id = 1;
	cpi->bus_id = cam_sim_bus(s->sim);
	cpi->unit_number = cam_sim_unit(s->sim);
	cpi->base_transfer_speed = 1000000; /* KB/s: nominal 10 Gb/s */
	snprintf(cpi->sim_vid, SIM_IDLEN, "scsikit");
	snprintf(cpi->hba_vid, HBA_IDLEN, "iSCSI");
	snprintf(cpi->dev_name, DEV_IDLEN, "%s", cam_sim_name(s->sim));
	cpi->maxio = INI_MAXIO;
	cpi->max_sg = 1024;
	ccb->ccb_h.status = CAM_REQ_CMP;
}

static void ini_get_tran(union ccb *ccb)
{
	struct ccb_trans_settings *cts = &ccb->cts;

	/* No parallel-bus width or sync on iSCSI: tags and disconnection
	 * are always on. */
	cts->valid = CCB_TRANS_TQ_VALID | CCB_TRANS_DISC_VALID;
	cts->flags = (cts->flags & (CCB_TRANS_CURRENT_SETTINGS |
				    CCB_TRANS_USER_SETTINGS |
				    CCB_TRANS_GOAL_SETTINGS)) |
		     CCB_TRANS_TAG_ENB | CCB_TRANS_DISC_ENB;
	cts->sync_period = 0;
	cts->sync_offset = 0;
	cts->bus_width = 8;
	ccb->ccb_h.status = CAM_REQ_CMP;
}

static void ini_calc_geometry(union ccb *ccb)
{
	struct ccb_calc_geometry *g = &ccb->ccg;
	uint64_t bytes = g->volume_size * (uint64_t)g->block_size;

	g->heads = bytes >= (1ull << 30) ? 255 : 64;
	g->secs_per_track = bytes >= (1ull << 30) ? 63 : 32;
	g->cylinders = (uint32_t)(g->volume_size /
				  ((uint64_t)g->heads * g->secs_per_track));
	ccb->ccb_h.status = CAM_REQ_CMP;
}

static void ini_action(struct cam_sim *sim, union ccb *ccb)
{
	struct iscsi_ini *s = cam_sim_softc(sim);
	uint32_t fc = ccb->ccb_h.func_code;

	switch (fc) {
	case XPT_PATH_INQ:
		ini_path_inq(s, ccb);
		break;
	case XPT_GET_TRAN_SETTINGS:
		ini_get_tran(ccb);
		break;
	case XPT_SET_TRAN_SETTINGS:
		/* Nothing to negotiate below the iSCSI session. */
		ccb->ccb_h.status = CAM_FUNC_NOTAVAIL;
		break;
	case XPT_CALC_GEOMETRY:
		ini_calc_geometry(ccb);
		break;
	case XPT_SCSI_IO:
	case XPT_ABORT:
	case XPT_RESET_DEV:
	case XPT_RESET_BUS:
		if (fc != XPT_RESET_BUS && ccb->ccb_h.target_id != 0) {
			ccb->ccb_h.status = CAM_SEL_TIMEOUT;
			break;
		}
		if (fc == XPT_SCSI_IO &&
		    ccb->ccb_h.target_lun > INI_MAX_LUN) {
			ccb->ccb_h.status = CAM_LUN_INVALID;
			break;
		}
		if (fc == XPT_SCSI_IO && ccb->csio.dxfer_len > INI_MAXIO) {
			ccb->ccb_h.status = CAM_REQ_TOO_BIG;
			break;
		}
		if (s->state != INI_S_FULL) {
			if (fc == XPT_ABORT) {
				/* Nothing is held while down. */
				ccb->ccb_h.status = CAM_PATH_INVALID;
			} else if (fc != XPT_SCSI_IO) {
				ccb->ccb_h.status = CAM_REQ_CMP_ERR;
			} else if (s->failed || s->state == INI_S_DEAD) {
				ccb->ccb_h.status = CAM_SEL_TIMEOUT;
			} else {
				if (!s->frozen) {
					xpt_freeze_simq(s->sim, 1);
					s->frozen = true;
				}
				ccb->ccb_h.status = CAM_REQUEUE_REQ;
			}
			break;
		}
		if (fc == XPT_SCSI_IO)
			ini_cmd_submit(s, ccb);
		else
			ini_tmf_submit(s, ccb,
				       fc == XPT_ABORT ? ISCSI_TMF_ABORT_TASK
				       : fc == XPT_RESET_DEV
					       ? ISCSI_TMF_LUN_RESET
					       : ISCSI_TMF_TARGET_WARM_RESET);
		return;
	default:
		ccb->ccb_h.status = CAM_REQ_INVALID;
		break;
	}
	xpt_done(ccb);
}

/* ---- life ---- */

static unsigned ini_next_unit;

int iscsi_ini_create(const struct iscsi_ini_cfg *cfg, struct ev_loop *loop,
		     struct iscsi_ini **out, char *err, size_t errlen)
{
	struct iscsi_ini *s;
	struct cam_devq *devq;
	uint32_t rc;

	*out = NULL;
	if (!cfg->host[0]) {
		snprintf(err, errlen, "no host");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->cfg = *cfg;
	s->loop = loop;
	s->fd = -1;
	s->backoff_cur = cfg->backoff_ms ? cfg->backoff_ms : 200;
	if (!s->cfg.backoff_max_ms || s->cfg.backoff_max_ms < s->backoff_cur)
		s->cfg.backoff_max_ms = s->backoff_cur;
	s->discovering = !cfg->target[0];
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->tasks = calloc(INI_NTASKS, sizeof(*s->tasks));
	s->rx_cap = 2 * (INI_RX_SLACK + cfg->max_recv_dsl + 8);
	s->rx = malloc(s->rx_cap);
	if (!s->tasks || !s->rx)
		goto free_s;
	for (uint32_t i = INI_NTASKS; i-- > 0;) {
		s->tasks[i].idx = i;
		s->tasks[i].next = s->free_head;
		s->free_head = &s->tasks[i];
	}
	/* ISID of the random format (RFC 7143 10.12.5: T = 10b). */
	if (iscsi_chap_random(s->isid, sizeof(s->isid)) < 0)
		goto free_s;
	s->isid[0] = (uint8_t)(0x80 | (s->isid[0] & 0x3f));
	s->cmdsn = 1;
	s->login_itt = (uint32_t)time(NULL) & 0xffff;
	devq = cam_simq_alloc(INI_DEVQ);
	if (!devq)
		goto free_s;
	s->sim = cam_sim_alloc(&ini_sim_ops, "iscsi", s, ini_next_unit++, 1,
			       (int)cfg->queue_depth, devq);
	if (!s->sim) {
		cam_simq_free(devq);
		goto free_s;
	}
	/* Frozen until the first login succeeds. */
	xpt_freeze_simq(s->sim, 1);
	s->frozen = true;
	rc = xpt_bus_register(s->sim, loop, 0);
	if (rc != CAM_SUCCESS) {
		snprintf(err, errlen, "cannot register the CAM bus");
		cam_sim_free(s->sim, true);
		s->sim = NULL;
		goto free_s_quiet;
	}
	s->registered = true;
	s->path_id = cam_sim_path(s->sim);
	ini_conn_start(s);
	*out = s;
	return (int)s->path_id;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
free_s:
	snprintf(err, errlen, "out of memory");
free_s_quiet:
	free(s->tasks);
	free(s->rx);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	return -ENOMEM;
}

int cam_iscsi_create_url(const char *url, struct ev_loop *loop,
			 struct iscsi_ini **out, char *err, size_t errlen)
{
	struct iscsi_ini_cfg cfg;
	int rc;

	*out = NULL;
	iscsi_ini_cfg_init(&cfg);
	rc = iscsi_ini_parse_url(url, &cfg, err, errlen);
	if (rc < 0)
		return rc;
	return iscsi_ini_create(&cfg, loop, out, err, errlen);
}

int iscsi_ini_wait_ready(struct iscsi_ini *s, uint32_t timeout_ms, char *err,
			 size_t errlen)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (s->ready == 0 && rc == 0)
		rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	if (s->ready > 0) {
		rc = 0;
	} else if (s->ready < 0) {
		rc = s->ready;
		snprintf(err, errlen, "%s", s->ready_err);
	} else {
		rc = -ETIMEDOUT;
		snprintf(err, errlen, "login did not finish in %u ms",
			 timeout_ms);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void iscsi_ini_destroy(struct iscsi_ini *s)
{
	if (!s)
		return;
	s->destroying = true;
	if (s->state == INI_S_FULL)
		ini_logout_send(s); /* best effort: not waited for */
	if (s->conn_timer)
		ev_timer_del(s->conn_timer);
	if (s->nop_timer)
		ev_timer_del(s->nop_timer);
	if (s->repl_timer)
		ev_timer_del(s->repl_timer);
	s->conn_timer = s->nop_timer = s->repl_timer = NULL;
	if (s->io)
		ev_io_del(s->io);
	s->io = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->state = INI_S_DEAD;
	ini_cmd_fail_all(s, CAM_NO_HBA);
	for (struct ini_txbuf *b = s->txq, *n; b; b = n) {
		n = b->next;
		free(b);
	}
	if (s->frozen) {
		s->frozen = false;
		xpt_release_simq(s->sim, false);
	}
	ini_set_ready(s, -ESHUTDOWN, "session destroyed");
	if (s->registered)
		xpt_bus_deregister(s->path_id);
	cam_sim_free(s->sim, true);
	free(s->tasks);
	free(s->rx);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

uint32_t iscsi_ini_path_id(const struct iscsi_ini *s)
{
	return s->path_id;
}

const struct iscsi_ini_cfg *iscsi_ini_config(const struct iscsi_ini *s)
{
	return &s->cfg;
}

void iscsi_ini_get_stats(const struct iscsi_ini *s, struct iscsi_ini_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->state = ini_state_name(s->state);
	snprintf(st->target, sizeof(st->target), "%s", s->cfg.target);
	st->path_id = s->path_id;
	st->tsih = s->tsih;
	st->cmds = s->st_cmds;
	st->reconnects = s->st_reconnects;
	st->errors = s->st_errors;
	st->aborts = s->st_aborts;
	st->resets = s->st_resets;
	st->nops = s->st_nops;
	st->outstanding = s->active.n + s->pending.n;
	st->failed = s->failed;
	st->hdigest = s->neg.header_digest == ISCSI_DIGEST_CRC32C;
	st->ddigest = s->neg.data_digest == ISCSI_DIGEST_CRC32C;
	st->max_xmit_dsl = s->neg.max_xmit_dsl;
	st->max_burst = s->neg.max_burst;
	st->first_burst = s->neg.first_burst;
	st->immediate_data = s->neg.immediate_data;
	st->initial_r2t = s->neg.initial_r2t;
}

void iscsi_ini_kick(struct iscsi_ini *s)
{
	if (s->state != INI_S_DOWN && s->state != INI_S_DEAD)
		ini_conn_drop(s, "dropped on request");
}
