/*
 * Internals of the iSCSI initiator (include/scsikit/iscsi_ini.h).
 *
 *   ini_url.c    URL and defaults
 *   ini_login.c  the initiator side of login: a pure state machine that
 *                turns each Login Response into the next Login Request
 *                (security with CHAP one-way/mutual, operational keys)
 *   ini_conn.c   socket, PDU framing and digests, session states,
 *                reconnect with back-off, pings, discovery
 *   ini_cmd.c    tasks: SCSI commands with immediate/unsolicited/R2T data,
 *                Data-In, responses, task management, NOP, async messages
 *   ini_sim.c    the CAM SIM: action(), freezing, requeue, path inquiry
 *
 * Session states (enum ini_state):
 *   INI_S_DOWN       no connection; a back-off timer leads to CONNECTING
 *   INI_S_CONNECTING non-blocking connect() in progress
 *   INI_S_LOGIN      login exchange running (normal or discovery session)
 *   INI_S_DISCOVER   discovery session: SendTargets text exchange
 *   INI_S_FULL       full feature phase: commands flow
 *   INI_S_LOGOUT     logout sent (async logout request, destroy)
 *   INI_S_DEAD       destroyed, or the first login failed for good
 * Every connection loss goes FULL/LOGIN/... -> DOWN: held CCBs go back to
 * the XPT with CAM_REQUEUE_REQ while the SIM queue is frozen, so they run
 * again, in order, on the next connection.  The freeze is lifted when the
 * session is back, or when the replacement timeout passes (then CCBs end
 * with CAM_SEL_TIMEOUT until the session returns).
 */
#ifndef SCSIKIT_ISCSI_INI_INT_H
#define SCSIKIT_ISCSI_INI_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <scsikit/cam.h>
#include <scsikit/iscsi_ini.h>

#include "iscsi/params.h"
#include "iscsi/pdu.h"
#include "iscsi/text.h"

struct ev_io;
struct ev_timer;

/* ---- login (pure) ---- */

enum ini_login_state {
	IL_START = 0,	/* nothing sent yet */
	IL_SEC,		/* security stage, AuthMethod offered */
	IL_CHAP_A,	/* CHAP_A offered, waiting for the challenge */
	IL_CHAP_R,	/* response sent, waiting for the verdict */
	IL_OPER,	/* operational stage */
	IL_DONE,	/* full feature phase reached */
	IL_FAILED,
};

struct ini_login {
	enum ini_login_state st;
	const struct iscsi_ini_cfg *cfg;
	bool discovery;
	uint8_t csg;		/* stage of the last request */
	struct iscsi_params pref, cur;
	bool offered;		/* operational offers sent */
	char offered_keys[ISCSI_TEXT_MAX_PAIRS][ISCSI_KEY_MAX + 1];
	unsigned noffered;
	int chap_alg;
	uint8_t my_id;
	uint8_t my_challenge[16];
	unsigned rounds;
	uint16_t status;	/* login status of a failed response */
	char err[160];
};

void ini_login_init(struct ini_login *l, const struct iscsi_ini_cfg *cfg,
		    bool discovery);
/* Build the first Login Request: bhs gets opcode/flags/version (the
 * caller fills ISID, TSIH, CID, ITT, CmdSN, ExpStatSN) and out the keys. */
void ini_login_start(struct ini_login *l, uint8_t *bhs,
		     struct iscsi_text_out *out);
/*
 * Take a Login Response (rsp + dlen bytes of text) and build the next
 * request in bhs/out.  Returns 1 (send it), 0 (full feature phase reached:
 * nothing to send) or a negative errno with l->err set (-EACCES for an
 * authentication failure, -ENOENT target not found, -EPROTO bad answer).
 */
int ini_login_step(struct ini_login *l, const uint8_t *rsp, const char *data,
		   uint32_t dlen, uint8_t *bhs, struct iscsi_text_out *out);

/* ---- tasks ---- */

enum ini_task_kind {
	T_FREE = 0,
	T_CMD,		/* SCSI command for a CCB */
	T_TMF,		/* task management for an XPT_ABORT / RESET CCB */
	T_NOP,		/* our ping */
	T_TEXT,		/* SendTargets */
	T_LOGOUT,
};

struct ini_task {
	struct ini_task *next, *prev;	/* pending or active list */
	enum ini_task_kind kind;
	uint32_t idx;
	uint16_t gen;
	uint32_t itt;
	union ccb *ccb;
	uint32_t cmdsn;
	uint32_t lun;
	bool queued;		/* on s->pending: waiting for the window */
	/* SCSI command */
	bool rd, wr;
	uint32_t len;		/* dxfer_len */
	uint32_t in_got;	/* Data-In bytes received */
	uint32_t exp_datasn;
	uint32_t r2tsn;
	/* TMF */
	uint8_t tmf_func;
	uint32_t ref_itt, ref_cmdsn;
	struct ini_task *victim;
};

struct ini_task_list {
	struct ini_task *head, *tail;
	uint32_t n;
};

/* ---- transmit queue ---- */

struct ini_txbuf {
	struct ini_txbuf *next;
	uint32_t len;
	uint8_t data[];
};

enum ini_state {
	INI_S_DOWN = 0,
	INI_S_CONNECTING,
	INI_S_LOGIN,
	INI_S_DISCOVER,
	INI_S_FULL,
	INI_S_LOGOUT,
	INI_S_DEAD,
};

#define INI_NTASKS 512u		/* ITT table size (index in low bits) */
/* New commands wait while this much is queued for the socket: a target
 * that stops reading cannot make us buffer every command's data. */
#define INI_TX_CAP (8u << 20)
#define INI_RX_SLACK (ISCSI_BHS_LEN + ISCSI_MAX_AHS_LEN + 8)

struct iscsi_ini {
	struct iscsi_ini_cfg cfg;
	struct ev_loop *loop;
	struct cam_sim *sim;
	uint32_t path_id;
	bool registered;
	enum ini_state state;
	bool discovering;	/* the current login is a discovery one */
	bool ever_up;		/* a login succeeded once */
	bool destroying;

	/* connection */
	int fd;
	uint32_t conn_gen;	/* bumped whenever the socket is closed */
	struct ev_io *io;
	bool want_write;
	struct ev_timer *conn_timer;	/* connect/login timeout, back-off */
	struct ev_timer *nop_timer;
	struct ev_timer *repl_timer;
	uint32_t backoff_cur;
	uint64_t down_since;
	bool frozen;		/* we hold one SIM queue freeze */
	bool failed;		/* replacement timeout passed */
	bool hdig, ddig;	/* digests in force on the connection */

	/* receive: one PDU at a time into rx */
	uint8_t *rx;
	uint32_t rx_cap, rx_have, rx_need;
	bool rx_framed;
	struct iscsi_pdu_frame fr;

	/* transmit */
	struct ini_txbuf *txq, *txq_tail;
	uint32_t tx_off;
	uint64_t tx_bytes_queued;

	/* login */
	struct ini_login login;
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t login_itt;

	/* session numbers */
	struct iscsi_params neg;
	uint32_t cmdsn, exp_cmdsn, max_cmdsn, exp_statsn;

	/* tasks */
	struct ini_task *tasks;
	struct ini_task *free_head;
	struct ini_task_list pending, active;
	struct ini_task *nop_task;	/* ping outstanding */
	uint64_t nop_sent;

	/* statistics */
	uint64_t st_cmds, st_reconnects, st_errors, st_aborts, st_resets,
		st_nops;

	/* first-login waiters (other threads) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready;		/* 0 pending, 1 up, <0 failed */
	char ready_err[192];
};

/* ini_conn.c */
void ini_conn_start(struct iscsi_ini *s);
void ini_conn_drop(struct iscsi_ini *s, const char *why);
int ini_send_pdu(struct iscsi_ini *s, uint8_t *bhs, const void *data,
		 uint32_t dlen);
/* Send a data segment gathered from the CCB's buffer at off. */
int ini_send_pdu_ccb(struct iscsi_ini *s, uint8_t *bhs, union ccb *ccb,
		     uint32_t off, uint32_t dlen);
void ini_set_ready(struct iscsi_ini *s, int rc, const char *msg);

/* ini_cmd.c */
struct ini_task *ini_task_get(struct iscsi_ini *s, enum ini_task_kind k);
void ini_task_put(struct iscsi_ini *s, struct ini_task *t);
struct ini_task *ini_task_by_itt(struct iscsi_ini *s, uint32_t itt);
void ini_list_add(struct ini_task_list *l, struct ini_task *t);
void ini_list_del(struct ini_task_list *l, struct ini_task *t);
/* Start (or queue) a SCSI command / TMF for ccb. */
void ini_cmd_submit(struct iscsi_ini *s, union ccb *ccb);
void ini_tmf_submit(struct iscsi_ini *s, union ccb *ccb, uint8_t func);
/* Send what the CmdSN window allows. */
void ini_cmd_kick(struct iscsi_ini *s);
/* A PDU in full feature phase; 0 or -EPROTO (drop the connection). */
int ini_cmd_rx(struct iscsi_ini *s, const uint8_t *bhs, const uint8_t *data,
	       uint32_t dlen);
/* Connection gone: every held CCB back with status. */
void ini_cmd_fail_all(struct iscsi_ini *s, uint32_t status);
void ini_nop_send(struct iscsi_ini *s);
void ini_sn_update(struct iscsi_ini *s, const uint8_t *bhs);
void ini_logout_send(struct iscsi_ini *s);
/* Copy between a CCB's buffer (flat or S/G) and a linear one. */
void ini_ccb_copy(union ccb *ccb, uint32_t off, void *buf, uint32_t len,
		  bool to_ccb);

/* ini_sim.c */
void ini_sim_up(struct iscsi_ini *s);
void ini_sim_down(struct iscsi_ini *s);

/* ini_url.c */
const char *ini_state_name(enum ini_state st);

#endif
