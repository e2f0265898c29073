/*
 * Unit tests for the CAM transport core against a tiny test SIM defined
 * here: openings and tags, the devq limit, SIM and device queue freeze
 * counting, requeue order, resource shortage with CAM_RELEASE_SIMQ,
 * timeout -> abort -> device reset -> bus reset escalation, autosense
 * success and failure, async callbacks with wildcards, xpt_done from
 * another thread, CAM_DEV_QFRZN release, polled operation, immediate
 * func codes and refused requests.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <scsikit/cam.h>
#include <scsikit/evloop.h>

/* ---- the test SIM ---- */

#define TS_MAX 64

struct tsim {
	struct cam_sim *sim;
	struct cam_devq *devq;
	struct ev_loop *loop;
	uint32_t path;
	union ccb *held[TS_MAX];
	int nheld;
	union ccb *log[256];	/* SCSI_IO arrivals */
	int nlog;
	int n_abort, n_bdr, n_busreset, n_sense;
	bool abort_works, bdr_works;
	int sense_mode;		/* 1: REQUEST SENSE succeeds, 2: fails */
	bool shortage_next;	/* next SCSI_IO: freeze + requeue */
	bool shortage;
	uint32_t seen_func[32];
	int nfunc;
	uint32_t events[32];
	int nevents;
};

static struct tsim T;

static void ts_hold(union ccb *ccb)
{
	ccb->ccb_h.status |= CAM_SIM_QUEUED;
	T.held[T.nheld++] = ccb;
}

static void ts_take(union ccb *ccb)
{
	for (int i = 0; i < T.nheld; i++)
		if (T.held[i] == ccb) {
			memmove(&T.held[i], &T.held[i + 1],
				(size_t)(T.nheld - i - 1) * sizeof(T.held[0]));
			T.nheld--;
			return;
		}
}

static void ts_done(union ccb *ccb, uint32_t status)
{
	ts_take(ccb);
	if (T.shortage) {
		T.shortage = false;
		status |= CAM_RELEASE_SIMQ;
	}
	ccb->ccb_h.status = status | (ccb->ccb_h.status &
				      ~(CAM_STATUS_MASK | CAM_SIM_QUEUED));
	xpt_done(ccb);
}

static void ts_action(struct cam_sim *sim, union ccb *ccb)
{
	T.seen_func[T.nfunc++ % 32] = ccb->ccb_h.func_code;
	switch (ccb->ccb_h.func_code) {
	case XPT_SCSI_IO: {
		const uint8_t *cdb = ccb->csio.cdb_io.cdb_bytes;

		if (T.shortage_next) {
			T.shortage_next = false;
			T.shortage = true;
			xpt_freeze_simq(sim, 1);
			ccb->ccb_h.status = CAM_REQUEUE_REQ;
			xpt_done(ccb);
			return;
		}
		if (cdb[0] == SCSI_REQUEST_SENSE && T.sense_mode) {
			T.n_sense++;
			if (T.sense_mode == 1) {
				size_t n = scsi_sense_build_simple(
					SCSI_SK_MEDIUM_ERROR,
					SCSI_ASC_UNRECOVERED_READ_ERROR, false,
					ccb->csio.data_ptr, ccb->csio.dxfer_len);
				ccb->csio.resid = ccb->csio.dxfer_len - (uint32_t)n;
				ccb->ccb_h.status = CAM_REQ_CMP;
			} else {
				ccb->ccb_h.status = CAM_SEL_TIMEOUT;
			}
			xpt_done(ccb);
			return;
		}
		T.log[T.nlog++] = ccb;
		ts_hold(ccb);
		return;
	}
	case XPT_ABORT:
		T.n_abort++;
		for (int i = 0; i < T.nheld; i++)
			if (T.held[i] == ccb->cab.abort_ccb) {
				if (T.abort_works)
					ts_done(T.held[i], CAM_REQ_ABORTED);
				ccb->ccb_h.status = CAM_REQ_CMP;
				xpt_done(ccb);
				return;
			}
		ccb->ccb_h.status = CAM_PATH_INVALID;
		xpt_done(ccb);
		return;
	case XPT_RESET_DEV:
		T.n_bdr++;
		if (T.bdr_works)
			while (T.nheld)
				ts_done(T.held[0], CAM_BDR_SENT);
		ccb->ccb_h.status = CAM_REQ_CMP;
		xpt_done(ccb);
		return;
	case XPT_RESET_BUS: {
		struct cam_path *p;

		T.n_busreset++;
		while (T.nheld)
			ts_done(T.held[0], CAM_SCSI_BUS_RESET);
		ccb->ccb_h.status = CAM_REQ_CMP;
		xpt_done(ccb);
		xpt_create_path(&p, NULL, T.path, CAM_TARGET_WILDCARD,
				CAM_LUN_WILDCARD);
		xpt_async(AC_BUS_RESET, p, NULL);
		xpt_free_path(p);
		return;
	}
	case XPT_PATH_INQ:
		ccb->cpi.version_num = 1;
		ccb->cpi.max_target = 3;
		ccb->cpi.max_lun = 3;
		ccb->cpi.initiator_id = 7;
		ccb->cpi.hba_inquiry = PI_TAG_ABLE;
		strcpy(ccb->cpi.dev_name, "ts");
		ccb->ccb_h.status = CAM_REQ_CMP;
		xpt_done(ccb);
		return;
	case XPT_GET_TRAN_SETTINGS:
		ccb->cts.valid = CCB_TRANS_TQ_VALID | CCB_TRANS_DISC_VALID;
		ccb->cts.flags |= CCB_TRANS_TAG_ENB | CCB_TRANS_DISC_ENB;
		ccb->ccb_h.status = CAM_REQ_CMP;
		xpt_done(ccb);
		return;
	default:
		ccb->ccb_h.status = CAM_REQ_INVALID;
		xpt_done(ccb);
		return;
	}
}

static int ts_polls;
static void ts_poll(struct cam_sim *sim)
{
	(void)sim;
	/* "Interrupt": finish the oldest held command. */
	if (++ts_polls > 3 && T.nheld)
		ts_done(T.held[0], CAM_REQ_CMP);
}

static const struct cam_sim_ops ts_ops = {
	.name = "ts",
	.action = ts_action,
	.poll = ts_poll,
};

static int setup_sim(int devq_size, int tags)
{
	memset(&T, 0, sizeof(T));
	T.loop = ev_loop_create();
	T.devq = cam_simq_alloc((uint32_t)devq_size);
	T.sim = cam_sim_alloc(&ts_ops, "ts", &T, 0, 1, tags, T.devq);
	if (!T.loop || !T.sim)
		return -1;
	if (xpt_bus_register(T.sim, T.loop, 0) != CAM_SUCCESS)
		return -1;
	T.path = cam_sim_path(T.sim);
	/* Run the loop once so this thread owns it. */
	ev_loop_run_once(T.loop, 0);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	return setup_sim(64, 4);
}

static int teardown(void **state)
{
	(void)state;
	while (T.nheld)
		ts_done(T.held[0], CAM_REQ_ABORTED);
	for (int i = 0; i < 5; i++)
		ev_loop_run_once(T.loop, 0);
	xpt_bus_deregister(T.path);
	cam_sim_free(T.sim, true);
	ev_loop_destroy(T.loop);
	return 0;
}

static void spin(int ms)
{
	uint64_t end = ev_now_ms() + (uint64_t)ms;

	while (ev_now_ms() < end)
		ev_loop_run_once(T.loop, 1);
}

static bool spin_until(const int *v, int want, int ms)
{
	uint64_t end = ev_now_ms() + (uint64_t)ms;

	while (*v < want && ev_now_ms() < end)
		ev_loop_run_once(T.loop, 1);
	return *v >= want;
}

/* ---- CCB helpers ---- */

struct req {
	union ccb ccb;
	int done;
	int order;
	uint32_t status;
};

static int done_seq;

static void req_done(union ccb *ccb)
{
	struct req *r = (struct req *)ccb;

	r->done++;
	r->order = ++done_seq;
	r->status = ccb->ccb_h.status;
}

static void req_init(struct req *r, uint32_t target, uint64_t lun,
		     uint32_t timeout)
{
	static const uint8_t tur[6] = {0};

	memset(r, 0, sizeof(*r));
	xpt_setup_ccb(&r->ccb.ccb_h, T.path, target, lun, XPT_SCSI_IO);
	cam_fill_csio(&r->ccb.csio, req_done, CAM_DIR_NONE, MSG_SIMPLE_Q_TAG,
		      NULL, 0, SCSI_SENSE_FIXED_LEN, tur, 6, timeout);
}

static struct cam_path *mkpath(uint32_t t, uint64_t l)
{
	struct cam_path *p = NULL;

	assert_int_equal(xpt_create_path(&p, NULL, T.path, t, l), CAM_REQ_CMP);
	return p;
}

/* ---- tests ---- */

static void test_status_names(void **state)
{
	static const uint32_t all[] = {
		CAM_REQ_INPROG, CAM_REQ_CMP, CAM_REQ_ABORTED, CAM_UA_ABORT,
		CAM_REQ_CMP_ERR, CAM_BUSY, CAM_REQ_INVALID, CAM_PATH_INVALID,
		CAM_DEV_NOT_THERE, CAM_UA_TERMIO, CAM_SEL_TIMEOUT,
		CAM_CMD_TIMEOUT, CAM_SCSI_STATUS_ERROR, CAM_MSG_REJECT_REC,
		CAM_SCSI_BUS_RESET, CAM_UNCOR_PARITY, CAM_AUTOSENSE_FAIL,
		CAM_NO_HBA, CAM_DATA_RUN_ERR, CAM_UNEXP_BUSFREE,
		CAM_SEQUENCE_FAIL, CAM_CCB_LEN_ERR, CAM_PROVIDE_FAIL,
		CAM_BDR_SENT, CAM_REQ_TERMIO, CAM_UNREC_HBA_ERROR,
		CAM_REQ_TOO_BIG, CAM_REQUEUE_REQ, CAM_RESRC_UNAVAIL,
		CAM_FUNC_NOTAVAIL, CAM_LUN_INVALID, CAM_TID_INVALID,
	};
	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_true(all[i] <= CAM_STATUS_MASK);
		assert_string_not_equal(cam_status_name(all[i]), "CAM_UNKNOWN");
		/* Flags never change the name. */
		assert_string_equal(cam_status_name(all[i]),
				    cam_status_name(all[i] | CAM_DEV_QFRZN |
						    CAM_AUTOSNS_VALID |
						    CAM_RELEASE_SIMQ |
						    CAM_SIM_QUEUED));
	}
	assert_true((CAM_DEV_QFRZN | CAM_AUTOSNS_VALID | CAM_RELEASE_SIMQ |
		     CAM_SIM_QUEUED) > CAM_STATUS_MASK);
	assert_string_equal(xpt_func_name(XPT_SCSI_IO), "XPT_SCSI_IO");
}

static void test_openings_and_tags(void **state)
{
	static struct req r[10];
	(void)state;

	for (int i = 0; i < 10; i++) {
		req_init(&r[i], 0, 0, CAM_TIME_INFINITY);
		xpt_action(&r[i].ccb);
	}
	/* max_tagged = 4: four reach the SIM, with distinct tags. */
	assert_int_equal(T.nlog, 4);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			assert_int_not_equal(T.log[i]->ccb_h.tag_id,
					     T.log[j]->ccb_h.tag_id);
	struct cam_dev_info di[4];
	/* Not configured by a scan: not listed. */
	assert_int_equal(xpt_dev_list(T.path, di, 4), 0);
	ts_done(T.held[0], CAM_REQ_CMP);
	spin(2);
	assert_int_equal(T.nlog, 5);
	assert_int_equal(r[0].done, 1);
	assert_int_equal(cam_ccb_status(r[0].status), CAM_REQ_CMP);
	/* The freed tag is reused. */
	assert_int_equal(T.log[4]->ccb_h.tag_id, r[0].ccb.ccb_h.tag_id);
	while (T.nheld) {
		ts_done(T.held[0], CAM_REQ_CMP);
		spin(1);
	}
	for (int i = 0; i < 10; i++) {
		assert_int_equal(r[i].done, 1);
		assert_ptr_equal(T.log[i], &r[i].ccb);
	}
	/* Openings set by the user. */
	assert_int_equal(xpt_set_openings(T.path, 0, 0, 2), 0);
	for (int i = 0; i < 4; i++) {
		req_init(&r[i], 0, 0, CAM_TIME_INFINITY);
		xpt_action(&r[i].ccb);
	}
	assert_int_equal(T.nheld, 2);
	assert_int_equal(xpt_set_openings(T.path, 0, 0, 0), 0);
	assert_int_equal(T.nheld, 4);
	assert_int_equal(xpt_set_openings(T.path, 3, 3, 1), -ENODEV);
}

static void test_devq_limit(void **state)
{
	static struct req r[6];
	(void)state;

	teardown(NULL);
	assert_int_equal(setup_sim(3, 4), 0);
	for (int i = 0; i < 6; i++) {
		req_init(&r[i], (uint32_t)(i % 2), 0, CAM_TIME_INFINITY);
		xpt_action(&r[i].ccb);
	}
	/* Three slots for the whole SIM, across both devices. */
	assert_int_equal(T.nheld, 3);
	ts_done(T.held[1], CAM_REQ_CMP);
	spin(2);
	assert_int_equal(T.nheld, 3);
	assert_int_equal(T.nlog, 4);
}

static void test_simq_freeze_counting(void **state)
{
	static struct req r;
	(void)state;

	xpt_freeze_simq(T.sim, 2);
	assert_int_equal(xpt_simq_frozen(T.sim), 2);
	req_init(&r, 0, 0, CAM_TIME_INFINITY);
	xpt_action(&r.ccb);
	assert_int_equal(T.nlog, 0);
	xpt_release_simq(T.sim, true);
	assert_int_equal(xpt_simq_frozen(T.sim), 1);
	assert_int_equal(T.nlog, 0);
	xpt_release_simq(T.sim, true);
	assert_int_equal(xpt_simq_frozen(T.sim), 0);
	assert_int_equal(T.nlog, 1);
	/* Releasing more than frozen is harmless. */
	xpt_release_simq(T.sim, true);
	assert_int_equal(xpt_simq_frozen(T.sim), 0);
}

static void test_devq_freeze_counting(void **state)
{
	static struct req r[2];
	struct cam_path *p00 = mkpath(0, 0);
	struct cam_path *wild = mkpath(CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD);
	(void)state;

	assert_int_equal(xpt_freeze_devq(p00, 1), 1);
	assert_int_equal(xpt_freeze_devq(p00, 2), 3);
	req_init(&r[0], 0, 0, CAM_TIME_INFINITY);
	req_init(&r[1], 1, 0, CAM_TIME_INFINITY);
	xpt_action(&r[0].ccb);
	xpt_action(&r[1].ccb);
	/* Only the other device runs. */
	assert_int_equal(T.nlog, 1);
	assert_ptr_equal(T.log[0], &r[1].ccb);
	xpt_release_devq(p00, 2, true);
	assert_int_equal(xpt_devq_frozen(p00), 1);
	assert_int_equal(T.nlog, 1);
	xpt_release_devq(p00, 1, true);
	assert_int_equal(xpt_devq_frozen(p00), 0);
	assert_int_equal(T.nlog, 2);
	/* A wildcard path freezes every known device. */
	xpt_freeze_devq(wild, 1);
	struct cam_path *p10 = mkpath(1, 0);
	assert_int_equal(xpt_devq_frozen(p10), 1);
	xpt_release_devq(wild, 1, true);
	assert_int_equal(xpt_devq_frozen(p10), 0);
	xpt_free_path(p00);
	xpt_free_path(p10);
	xpt_free_path(wild);
}

static void test_requeue_order(void **state)
{
	static struct req r[5];
	struct cam_path *p = mkpath(0, 0);
	(void)state;

	for (int i = 0; i < 4; i++) {
		req_init(&r[i], 0, 0, CAM_TIME_INFINITY);
		xpt_action(&r[i].ccb);
	}
	assert_int_equal(T.nlog, 4);
	/* A later one arrives while the SIM hands back 1..3. */
	req_init(&r[4], 0, 0, CAM_TIME_INFINITY);
	xpt_action(&r[4].ccb);
	/* The SIM hits an error on 0: freeze, requeue the others in
	 * reverse order (the XPT must restore the original order). */
	xpt_freeze_devq(p, 1);
	ts_done(&r[3].ccb, CAM_REQUEUE_REQ);
	ts_done(&r[2].ccb, CAM_REQUEUE_REQ);
	ts_done(&r[1].ccb, CAM_REQUEUE_REQ);
	ts_done(&r[0].ccb, CAM_SEL_TIMEOUT | CAM_DEV_QFRZN);
	spin(2);
	/* 0 finished with its error; the XPT released the freeze after
	 * the completion and the rest went back in order. */
	assert_int_equal(r[0].done, 1);
	assert_int_equal(cam_ccb_status(r[0].status), CAM_SEL_TIMEOUT);
	assert_true(r[0].status & CAM_DEV_QFRZN);
	assert_int_equal(xpt_devq_frozen(p), 0);
	assert_int_equal(r[1].done, 0);
	assert_int_equal(T.nlog, 4 + 4);
	assert_ptr_equal(T.log[4], &r[1].ccb);
	assert_ptr_equal(T.log[5], &r[2].ccb);
	assert_ptr_equal(T.log[6], &r[3].ccb);
	assert_ptr_equal(T.log[7], &r[4].ccb);
	xpt_free_path(p);
}

static void test_resource_shortage(void **state)
{
	static struct req r[3];
	(void)state;

	req_init(&r[0], 0, 0, CAM_TIME_INFINITY);
	xpt_action(&r[0].ccb);
	assert_int_equal(T.nheld, 1);
	T.shortage_next = true;
	req_init(&r[1], 0, 0, CAM_TIME_INFINITY);
	req_init(&r[2], 0, 0, CAM_TIME_INFINITY);
	xpt_action(&r[1].ccb);
	xpt_action(&r[2].ccb);
	spin(2);
	/* The SIM is frozen; r1 went back to the queue ahead of r2. */
	assert_int_equal(xpt_simq_frozen(T.sim), 1);
	assert_int_equal(T.nheld, 1);
	assert_int_equal(r[1].done, 0);
	/* r0 comes back carrying CAM_RELEASE_SIMQ: the queue restarts. */
	ts_done(&r[0].ccb, CAM_REQ_CMP);
	spin(2);
	assert_int_equal(xpt_simq_frozen(T.sim), 0);
	assert_int_equal(r[0].done, 1);
	assert_int_equal(T.nheld, 2);
	assert_ptr_equal(T.held[0], &r[1].ccb);
	assert_ptr_equal(T.held[1], &r[2].ccb);
}

static void test_timeout_abort(void **state)
{
	static struct req r;
	(void)state;

	T.abort_works = true;
	req_init(&r, 0, 0, 20);
	xpt_action(&r.ccb);
	assert_true(spin_until(&r.done, 1, 2000));
	assert_int_equal(cam_ccb_status(r.status), CAM_CMD_TIMEOUT);
	assert_int_equal(T.n_abort, 1);
	assert_int_equal(T.n_bdr, 0);
	assert_int_equal(T.n_busreset, 0);
}

static void test_timeout_escalation(void **state)
{
	static struct req r;
	(void)state;

	xpt_bus_set_timeouts(T.path, 20, 20, 0);
	T.abort_works = false;
	T.bdr_works = false;
	req_init(&r, 0, 0, 20);
	xpt_action(&r.ccb);
	assert_true(spin_until(&r.done, 1, 3000));
	/* Abort did nothing, the device reset did nothing, the bus reset
	 * returned it: still reported as a timeout. */
	assert_int_equal(T.n_abort, 1);
	assert_int_equal(T.n_bdr, 1);
	assert_int_equal(T.n_busreset, 1);
	assert_int_equal(cam_ccb_status(r.status), CAM_CMD_TIMEOUT);

	/* With a working device reset it stops there. */
	T.n_abort = T.n_bdr = T.n_busreset = 0;
	T.bdr_works = true;
	req_init(&r, 0, 0, 20);
	xpt_action(&r.ccb);
	assert_true(spin_until(&r.done, 1, 3000));
	assert_int_equal(T.n_bdr, 1);
	assert_int_equal(T.n_busreset, 0);
	assert_int_equal(cam_ccb_status(r.status), CAM_CMD_TIMEOUT);
}

static void test_autosense(void **state)
{
	static struct req r;
	struct scsi_sense s;
	(void)state;

	T.sense_mode = 1;
	req_init(&r, 0, 0, CAM_TIME_INFINITY);
	xpt_action(&r.ccb);
	r.ccb.csio.scsi_status = SCSI_STATUS_CHECK_CONDITION;
	ts_done(&r.ccb, CAM_SCSI_STATUS_ERROR);
	spin(3);
	assert_int_equal(T.n_sense, 1);
	assert_int_equal(r.done, 1);
	assert_int_equal(cam_ccb_status(r.status), CAM_SCSI_STATUS_ERROR);
	assert_true(r.status & CAM_AUTOSNS_VALID);
	assert_int_equal(scsi_sense_parse(r.ccb.csio.sense_data,
					  r.ccb.csio.sense_len -
						  r.ccb.csio.sense_resid,
					  &s),
			 0);
	assert_int_equal(s.key, SCSI_SK_MEDIUM_ERROR);
	assert_int_equal(cam_periph_error(&r.ccb), -EIO);

	/* REQUEST SENSE fails: CAM_AUTOSENSE_FAIL. */
	T.sense_mode = 2;
	req_init(&r, 0, 0, CAM_TIME_INFINITY);
	xpt_action(&r.ccb);
	r.ccb.csio.scsi_status = SCSI_STATUS_CHECK_CONDITION;
	ts_done(&r.ccb, CAM_SCSI_STATUS_ERROR);
	spin(3);
	assert_int_equal(r.done, 1);
	assert_int_equal(cam_ccb_status(r.status), CAM_AUTOSENSE_FAIL);
	assert_false(r.status & CAM_AUTOSNS_VALID);

	/* Autosense disabled: no REQUEST SENSE at all. */
	T.n_sense = 0;
	req_init(&r, 0, 0, CAM_TIME_INFINITY);
	r.ccb.ccb_h.flags |= CAM_DIS_AUTOSENSE;
	xpt_action(&r.ccb);
	r.ccb.csio.scsi_status = SCSI_STATUS_CHECK_CONDITION;
	ts_done(&r.ccb, CAM_SCSI_STATUS_ERROR);
	spin(3);
	assert_int_equal(T.n_sense, 0);
	assert_int_equal(cam_ccb_status(r.status), CAM_SCSI_STATUS_ERROR);
	assert_false(r.status & CAM_AUTOSNS_VALID);
	/* The device queue is not left frozen. */
	struct cam_path *p = mkpath(0, 0);
	assert_int_equal(xpt_devq_frozen(p), 0);
	xpt_free_path(p);
}

static void ac_cb(void *arg, uint32_t code, struct cam_path *path, void *a)
{
	int *count = arg;

	(void)a;
	count[0]++;
	T.events[T.nevents++ % 32] = code;
	count[1] = (int)xpt_path_target_id(path);
}

static void test_async(void **state)
{
	int all[2] = {0}, t1[2] = {0}, lost[2] = {0};
	struct cam_path *p1 = mkpath(1, CAM_LUN_WILDCARD);
	struct cam_path *p2 = mkpath(2, 0);
	struct cam_path *wild = mkpath(CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD);
	(void)state;

	assert_int_equal(xpt_register_async(AC_BUS_RESET | AC_SENT_BDR, ac_cb,
					    all, CAM_BUS_WILDCARD,
					    CAM_TARGET_WILDCARD,
					    CAM_LUN_WILDCARD),
			 0);
	assert_int_equal(xpt_register_async(AC_SENT_BDR, ac_cb, t1, T.path, 1,
					    CAM_LUN_WILDCARD),
			 0);
	assert_int_equal(xpt_register_async(AC_LOST_DEVICE, ac_cb, lost,
					    T.path, 2, 0),
			 0);
	xpt_async(AC_SENT_BDR, p1, NULL);
	assert_int_equal(all[0], 1);
	assert_int_equal(t1[0], 1);
	assert_int_equal(t1[1], 1);
	xpt_async(AC_SENT_BDR, p2, NULL);
	assert_int_equal(all[0], 2);
	assert_int_equal(t1[0], 1);	/* other target */
	xpt_async(AC_LOST_DEVICE, wild, NULL);
	assert_int_equal(lost[0], 1);	/* wildcard event reaches it */
	assert_int_equal(all[0], 2);	/* not registered for it */
	/* A bus reset through the SIM posts AC_BUS_RESET. */
	union ccb rb;
	memset(&rb, 0, sizeof(rb));
	xpt_setup_ccb(&rb.ccb_h, T.path, CAM_TARGET_WILDCARD,
		      CAM_LUN_WILDCARD, XPT_RESET_BUS);
	xpt_action(&rb);
	assert_int_equal(cam_ccb_status(rb.ccb_h.status), CAM_REQ_CMP);
	assert_int_equal(all[0], 3);
	/* event_enable 0 removes a registration. */
	assert_int_equal(xpt_register_async(0, ac_cb, all, CAM_BUS_WILDCARD,
					    CAM_TARGET_WILDCARD,
					    CAM_LUN_WILDCARD),
			 0);
	xpt_async(AC_BUS_RESET, wild, NULL);
	assert_int_equal(all[0], 3);
	xpt_register_async(0, ac_cb, t1, T.path, 1, CAM_LUN_WILDCARD);
	xpt_register_async(0, ac_cb, lost, T.path, 2, 0);
	xpt_free_path(p1);
	xpt_free_path(p2);
	xpt_free_path(wild);
}

static void *thread_complete(void *arg)
{
	union ccb *ccb = arg;

	usleep(2000);
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
	return NULL;
}

static void test_done_other_thread(void **state)
{
	static struct req r;
	pthread_t th;
	(void)state;

	req_init(&r, 0, 0, CAM_TIME_INFINITY);
	xpt_action(&r.ccb);
	assert_int_equal(T.nheld, 1);
	ts_take(&r.ccb);
	assert_int_equal(pthread_create(&th, NULL, thread_complete, &r.ccb), 0);
	assert_true(spin_until(&r.done, 1, 2000));
	pthread_join(th, NULL);
	assert_int_equal(cam_ccb_status(r.status), CAM_REQ_CMP);
}

static void test_polled(void **state)
{
	static struct req r;
	(void)state;

	ts_polls = 0;
	req_init(&r, 0, 0, CAM_TIME_INFINITY);
	assert_int_equal(cam_ccb_status(xpt_polled_action(&r.ccb, 1000)),
			 CAM_REQ_CMP);
	assert_true(ts_polls > 3);
	assert_int_equal(r.done, 0);	/* polled: no completion call */
}

static void test_immediate_and_refused(void **state)
{
	union ccb c;
	static struct req r;
	(void)state;

	memset(&c, 0, sizeof(c));
	xpt_setup_ccb(&c.ccb_h, T.path, 0, 0, XPT_PATH_INQ);
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
	assert_int_equal(c.cpi.max_target, 3);
	/* The test SIM knows no geometry. */
	xpt_setup_ccb(&c.ccb_h, T.path, 0, 0, XPT_CALC_GEOMETRY);
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_INVALID);
	/* No such bus. */
	req_init(&r, 0, 0, CAM_TIME_INFINITY);
	r.ccb.ccb_h.path_id = 63;
	xpt_action(&r.ccb);
	assert_int_equal(r.done, 1);
	assert_int_equal(cam_ccb_status(r.status), CAM_PATH_INVALID);
	/* Physical addresses are never supported. */
	req_init(&r, 0, 0, CAM_TIME_INFINITY);
	r.ccb.ccb_h.flags |= CAM_DATA_PHYS;
	xpt_action(&r.ccb);
	spin(1);
	assert_int_equal(cam_ccb_status(r.status), CAM_REQ_INVALID);
	/* NOOP. */
	xpt_setup_ccb(&c.ccb_h, T.path, 0, 0, XPT_NOOP);
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_names),
		cmocka_unit_test_setup_teardown(test_openings_and_tags, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_devq_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_simq_freeze_counting,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_devq_freeze_counting,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_requeue_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resource_shortage, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timeout_abort, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timeout_escalation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_autosense, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_async, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_other_thread, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_polled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_immediate_and_refused,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
