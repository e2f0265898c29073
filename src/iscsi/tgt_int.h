/*
 * Internals of the iSCSI target: the server (portals, exports, settings),
 * connections (one per session: MaxConnections is 1) and commands.
 *
 * Ownership and threads:
 *   - struct iscsi_srv is shared by every reactor; its lock guards the
 *     export list, the connection list and the counters, and is taken at
 *     accept, login, logout and TMF time -- never per command.
 *   - a connection, its commands and its transmit queue belong to the
 *     reactor it was placed on and are touched only there.  Other threads
 *     reach a connection only through ev_loop_post(), holding a reference.
 *   - a command holds a reference on its connection while the engine or
 *     the transmit queue still use it, so a closed connection stays in
 *     memory until the last task completes.
 */
#ifndef SCSIKIT_ISCSI_TGT_INT_H
#define SCSIKIT_ISCSI_TGT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <scsikit/iscsi.h>
#include <scsikit/target.h>

#include "iscsi/login.h"
#include "iscsi/params.h"
#include "iscsi/pdu.h"
#include "iscsi/rxseg.h"
#include "util/admit.h"

struct ev_io;
struct ev_timer;
struct bdev;

#define ISCSI_ACL_MAX 32
#define ISCSI_EXTRA_LUNS 16
#define ISCSI_TCFG_MAX 4096	/* targets with settings of their own */

/* Per-target settings, by disk name; "*" applies to every target and
 * "discovery" to discovery sessions. */
struct iscsi_tcfg {
	struct iscsi_tcfg *next;
	char disk[64];
	char iqn[ISCSI_NAME_MAX + 1];	/* iscsi-target=DISK:IQN */
	char alias[64];
	bool chap;
	char chap_user[ISCSI_CHAP_NAME_MAX + 1];
	char chap_secret[ISCSI_CHAP_SECRET_MAX + 1];
	bool mutual;
	char mutual_user[ISCSI_CHAP_NAME_MAX + 1];
	char mutual_secret[ISCSI_CHAP_SECRET_MAX + 1];
	unsigned nacl;
	char acl[ISCSI_ACL_MAX][ISCSI_NAME_MAX + 1];
	/* More disks of this target (iscsi-lun=DISK:N:OTHER): OTHER is
	 * LUN N here instead of a target of its own. */
	unsigned nluns;
	struct {
		uint32_t id;
		char disk[64];
	} luns[ISCSI_EXTRA_LUNS];
};

/* One exported target (a disk of the registry at LUN 0). */
struct iscsi_export {
	struct iscsi_export *next;
	char iqn[ISCSI_NAME_MAX + 1];
	char disk[64];
	struct tgt_target *t;		/* held */
};

struct iscsi_portal {
	struct iscsi_portal *next;
	struct iscsi_srv *srv;
	char spec[96];			/* as configured, without the tag */
	/* Target portal group tag (",N" after the address; default 1).
	 * The portal group is the target port with relative target port
	 * identifier N for the engine (ALUA, reservations). */
	uint16_t tpgt;
	char addr[64];			/* bound address as host:port */
	int fd;
	struct ev_io *io;
};

struct iscsi_conn;

struct iscsi_srv {
	pthread_mutex_t lock;
	atomic_int refs;
	struct ev_loop *main_loop;
	iscsi_pick_loop_fn pick;
	void *pick_arg;

	/* Configuration (written before start, read-only after, except:
	 * tcfgs change at run time (tgt_cfg.c) under cfg_lock, which is
	 * taken before lock when both are; portals change at run time on
	 * main_loop's thread, the only one that reads them). */
	pthread_mutex_t cfg_lock;
	struct iscsi_portal *portals;
	bool portals_given;		/* a --iscsi ADDR was seen */
	bool portals_none;		/* --iscsi none */
	struct iscsi_tcfg *tcfgs;
	unsigned ntcfgs;
	char iqn_prefix[128];
	unsigned queue_depth;		/* CmdSN window per session */
	unsigned max_sessions;
	unsigned max_conns;		/* including connections in login */
	uint32_t max_recv_dsl;		/* what we declare */
	uint32_t max_burst, first_burst, max_outstanding_r2t;
	bool immediate_data, initial_r2t;
	uint32_t hdigest_mask, ddigest_mask;
	uint32_t max_cmd_data;		/* largest transfer of one command */
	uint64_t max_conn_data;		/* data buffered per connection */
	unsigned nop_interval_ms;	/* idle time before a NOP-In ping */
	unsigned nop_timeout_ms;	/* no answer: the initiator is dead */
	unsigned login_timeout_ms;
	unsigned max_per_peer;		/* connections per client address */
	unsigned max_login;		/* connections not yet past login */
	unsigned pdu_timeout_ms;	/* a PDU started must be complete */

	/* State, under lock. */
	struct iscsi_export *exports;
	struct iscsi_conn *conns;	/* every connection */
	unsigned nconns, nsessions;	/* nconns: from accept, not start */
	unsigned nlogin;		/* of nconns, still in login */
	struct sk_admit admit;		/* per-address counts, counters */
	uint16_t next_tsih;
	int registry_handle;
	bool started, stopping;
};

enum iscsi_conn_state {
	CONN_LOGIN = 0,		/* login PDUs only */
	CONN_FFP,		/* full feature phase */
	CONN_LOGOUT,		/* logout answered: close once flushed */
	CONN_CLOSED,		/* socket gone; waiting for tasks */
};

/* One PDU waiting to be written. */
struct iscsi_tx {
	struct iscsi_tx *next;
	uint32_t hdr_len;		/* BHS (+ header digest) */
	uint32_t dlen;			/* data segment bytes */
	uint32_t tlen;			/* pad + data digest */
	uint32_t sent;			/* bytes of this PDU written */
	const uint8_t *data;		/* the data segment */
	struct iscsi_cmd *cmd;		/* held while data points into it */
	void *owned;			/* freed once written */
	bool close_after;		/* close the connection once written */
	bool counted;			/* owned bytes are in conn->tx_owned */
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	uint8_t trailer[3 + ISCSI_DIGEST_LEN];
	uint8_t small[260];		/* inline data: sense, short text */
};

enum iscsi_cmd_state {
	CMD_DATA_OUT = 0,	/* collecting write data */
	CMD_SUBMITTED,		/* with the engine */
	CMD_DONE,		/* status queued (or aborted) */
};

struct iscsi_tmf;

struct iscsi_cmd {
	struct iscsi_conn *conn;
	struct iscsi_cmd *next, *prev;	/* conn->cmds */
	struct iscsi_cmd *hnext;	/* ITT hash chain */
	struct tgt_task task;
	enum iscsi_cmd_state state;
	unsigned refs;			/* conn table + tx PDUs + engine */
	uint32_t itt, cmdsn, edtl, lun;
	bool read, write;
	bool aborted;			/* by a TMF: no status goes out */
	uint8_t *buf;
	struct iovec iov;
	/* Write data. */
	uint32_t data_got;		/* bytes received, in order */
	uint32_t unsol_end;		/* end of immediate+unsolicited data */
	bool unsol_done;		/* F seen on unsolicited data (or none) */
	uint32_t r2t_next;		/* next offset to solicit */
	uint32_t r2t_out;		/* R2Ts outstanding */
	uint32_t r2tsn;
	uint32_t ttt;
	uint32_t seq_end;		/* end of the current data sequence */
	uint32_t exp_datasn;
	/* Read data. */
	uint32_t datasn;
	struct iscsi_tmf *tmf;		/* a TMF waiting for this task */
};

/* A task management request waiting for aborted tasks to finish. */
struct iscsi_tmf {
	struct iscsi_tmf *next;
	uint32_t itt;
	uint8_t func;
	uint32_t lun;
	unsigned waiting;		/* aborted tasks not yet done */
	uint8_t response;
};

/* A PDU that arrived ahead of its CmdSN, kept until the gap fills. */
struct iscsi_deferred {
	struct iscsi_deferred *next;
	uint32_t cmdsn;
	uint32_t len;
	uint8_t pdu[];			/* BHS + AHS + data (no digests) */
};

#define ISCSI_ITT_HASH 256
/* Stop reading while this much reply data waits to be written, so a peer
 * that sends but never reads cannot grow our memory. */
#define ISCSI_TX_OWNED_HIGH (8u << 20)

struct iscsi_conn {
	struct iscsi_srv *srv;
	struct iscsi_conn *prev, *next;	/* srv->conns, under srv->lock */
	atomic_int refs;
	struct ev_loop *loop;
	int fd;
	struct ev_io *io;
	uint32_t io_events;
	enum iscsi_conn_state state;
	bool kill_posted;
	char peer[64];
	char local[64];			/* our address as host:port */
	uint16_t tpgt;			/* portal group it came in through */
	bool local_v6;

	struct iscsi_login *login;	/* during CONN_LOGIN */
	struct ev_timer *login_timer;

	/* Admission (tgt_srv.c). */
	struct sockaddr_storage peer_ss; /* set before the conn is listed */
	uint64_t accepted_ms;		/* likewise */
	bool in_login;			/* under srv->lock: counted in nlogin */
	atomic_uint login_pdus;		/* Login Requests taken so far */
	uint64_t pdu_since_ms;		/* first byte of an incomplete PDU */

	/* Receive. */
	uint8_t *rx;
	uint32_t rx_len, rx_cap;
	/* A Data-Out or immediate data segment arriving straight into its
	 * command's buffer (tgt_rx.c); drx_cmd is held, NULL when none. */
	struct iscsi_cmd *drx_cmd;
	struct iscsi_rxseg drx;
	uint8_t drx_bhs[ISCSI_BHS_LEN];
	bool drx_imm;		/* immediate data (else a Data-Out) */
	uint32_t rx_skip;	/* data of a command answered early: drop */

	/* Transmit. */
	struct iscsi_tx *txq, **txq_tail;
	struct iscsi_tx *tx_free;	/* a few spare items */
	uint64_t tx_owned;		/* reply bytes owned by queued PDUs */
	unsigned tx_nfree;
	bool flush_deferred;

	/* Negotiated. */
	struct iscsi_params p;
	bool hdig, ddig;

	/* Session (one connection per session). */
	bool discovery;
	bool in_session;		/* counted in srv->nsessions */
	struct tgt_target *tgt;		/* held */
	struct tgt_nexus *nexus;
	char target_name[ISCSI_NAME_MAX + 1];
	char initiator[ISCSI_NAME_MAX + 1];
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t exp_cmdsn, max_cmdsn, stat_sn;
	unsigned outstanding;		/* commands taking a window slot */
	uint64_t data_buffered;		/* command buffers allocated */
	struct iscsi_cmd *cmds;
	struct iscsi_cmd *itt_hash[ISCSI_ITT_HASH];
	struct iscsi_deferred *deferred;
	unsigned ndeferred;
	uint32_t next_ttt;
	struct iscsi_tmf *tmfs;

	/* Pings. */
	struct ev_timer *nop_timer;
	uint64_t last_rx_ms;
	bool ping_out;
	uint32_t ping_ttt;

	/* A text answer too long for one PDU, sent in parts. */
	char *text_rsp;
	uint32_t text_len, text_off, text_ttt;

	/* Counters for `iscsi sessions`. */
	uint64_t n_cmds, n_rx_bytes, n_tx_bytes;
};

/* tgt_srv.c */
void iscsi_srv_hold(struct iscsi_srv *s);
void iscsi_srv_release(struct iscsi_srv *s);
uint16_t iscsi_srv_login_lookup(void *arg, const char *target_name,
				const char *initiator_name,
				struct iscsi_login_target *t);
/* Find the export called iqn and hold its target; NULL if absent. */
struct tgt_target *iscsi_srv_target_get(struct iscsi_srv *s, const char *iqn);
/* Append SendTargets answers (all targets when iqn is NULL) visible to
 * initiator. */
void iscsi_srv_send_targets(struct iscsi_srv *s, struct iscsi_conn *c,
			    const char *iqn, struct iscsi_text_out *out);
/* Session registration at the end of a normal login: ends an older
 * session with the same initiator and ISID (reinstatement) and gives a
 * TSIH.  0 or a login status. */
uint16_t iscsi_srv_session_add(struct iscsi_srv *s, struct iscsi_conn *c);
/* Ask every other connection to the target t to abort its tasks on lun
 * (UINT32_MAX: all LUNs), or to close (cold reset). */
void iscsi_srv_broadcast_abort(struct iscsi_srv *s, struct iscsi_conn *from,
			       struct tgt_target *t, uint32_t lun,
			       bool close);

/* Per-target settings of disk (len bytes of it), made when create is set;
 * NULL if absent.  Callers after start hold cfg_lock. */
struct iscsi_tcfg *iscsi_tcfg_get(struct iscsi_srv *s, const char *disk,
				  size_t len, bool create);
/* Set CHAP (or the mutual CHAP name and secret) of target tname; takes
 * cfg_lock.  0, or -1 with a message in err. */
int iscsi_tcfg_set_chap(struct iscsi_srv *s, const char *tname, size_t tlen,
			bool mutual, const char *user, const char *secret,
			char *err, size_t errlen);
/* True when w is 1..max printable characters without blank or '#' (so it
 * fits in a config-file line as one value). */
bool iscsi_cfg_word_ok(const char *w, size_t max);
/* Append a portal to the list (not opened); 0 or -1 with err. */
int iscsi_srv_add_portal(struct iscsi_srv *s, const char *v, char *err,
			 size_t errlen);
/* Open p's listener on main_loop; 0 or -1 with err. */
int iscsi_portal_open(struct iscsi_srv *s, struct iscsi_portal *p,
		      char *err, size_t errlen);
/* Close every listening socket (connections stay). */
void iscsi_portals_close(struct iscsi_srv *s);
/* The target disk and LUN number disk is mapped at, or NULL. */
const char *iscsi_lun_parent(struct iscsi_srv *s, const char *disk,
			     uint32_t *id);
/* Map bd at LUN id of t; 0 or a negative errno. */
int iscsi_lun_attach(struct tgt_target *t, uint32_t id, struct bdev *bd);
/* The target of disk's export, held; NULL if none. */
struct tgt_target *iscsi_export_target_of(struct iscsi_srv *s,
					  const char *disk);
/* Follow the disk registry: export bd (as a target, or as the LUN it is
 * mapped at), or stop exporting disk.  Caller holds cfg_lock. */
void iscsi_export_add_locked(struct iscsi_srv *s, struct bdev *bd);
void iscsi_export_remove_locked(struct iscsi_srv *s, const char *disk);

/* tgt_cfg.c: settings changed at run time and written back out. */
int iscsi_tcfg_acl_add(struct iscsi_tcfg *t, const char *initiator,
		       char *err, size_t errlen);
int iscsi_tcfg_lun_add(struct iscsi_tcfg *t, uint32_t id, const char *disk,
		       char *err, size_t errlen);
/* Is what ("acl", "chap", ...) a request iscsi_cfg_ctl answers? */
bool iscsi_cfg_is_request(const char *what);
/* argv[0] is the request word; 0 or -1 with a message in out. */
int iscsi_cfg_ctl(struct iscsi_srv *s, int argc, char **argv, FILE *out);

/* "a.b.c.d:port" or "[v6]:port" (for SendTargets and logs). */
struct sockaddr_storage;
void iscsi_sockaddr_format(const struct sockaddr_storage *ss, char *buf,
			   size_t len);

/* tgt_conn.c */
/* Serve an accepted connection (on loop) of the portal group tpgt.  The
 * acceptor has counted it in nconns, nlogin and admit (tgt_srv.c); a
 * failure here undoes that. */
void iscsi_conn_start(struct iscsi_srv *s, int fd, struct ev_loop *loop,
		      uint16_t tpgt, const struct sockaddr_storage *ss,
		      uint64_t accepted_ms);
/* A connection counted by the acceptor leaves login (authenticated: true)
 * or goes without having been listed (false). */
void iscsi_srv_conn_admitted(struct iscsi_srv *s, struct iscsi_conn *c);
void iscsi_srv_conn_unaccept(struct iscsi_srv *s,
			     const struct sockaddr_storage *ss);
void iscsi_conn_hold(struct iscsi_conn *c);
void iscsi_conn_release(struct iscsi_conn *c);
void iscsi_conn_close(struct iscsi_conn *c, const char *why);
/* From the connection's 1 s timer: close it if a PDU has been arriving
 * for longer than the PDU timeout.  True when it was closed. */
bool iscsi_conn_pdu_timed_out(struct iscsi_conn *c);
/* tgt_rx.c: read and parse what the socket has. */
void iscsi_conn_read(struct iscsi_conn *c);
/* tgt_conn.c: one complete PDU (digests checked). */
void iscsi_conn_dispatch(struct iscsi_conn *c, const uint8_t *bhs,
			 const uint8_t *ahs, const uint8_t *data,
			 uint32_t dlen);
/* tgt_conn.c: a SCSI Command whose header has arrived (digest checked)
 * and whose dlen bytes of immediate data have not.  When its CmdSN turn
 * has come it is started now: 1 with *dst the place for its data and the
 * command held in *held (iscsi_conn_cmd_data_done once it is there), -1
 * when it has been answered already (its data is to be dropped); 0 when
 * it is not its turn (the buffered path takes the whole PDU later). */
int iscsi_conn_cmd_early(struct iscsi_conn *c, const uint8_t *bhs,
			 const uint8_t *ahs, uint32_t dlen, uint8_t **dst,
			 struct iscsi_cmd **held);
void iscsi_conn_cmd_data_done(struct iscsi_conn *c, struct iscsi_cmd *cmd,
			      const uint8_t *bhs, uint32_t dlen);
/* Post a close (or, with lun set, an abort of tasks) to c's reactor. */
void iscsi_conn_post_kill(struct iscsi_conn *c);
void iscsi_conn_post_abort(struct iscsi_conn *c, uint32_t lun);
struct iscsi_tx *iscsi_tx_alloc(struct iscsi_conn *c);
/* Free a PDU not queued (or written); releases its command. */
void iscsi_tx_free(struct iscsi_conn *c, struct iscsi_tx *t);
/* Fill ExpCmdSN/MaxCmdSN (and StatSN, advancing it when adv) in a BHS. */
void iscsi_conn_fill_sn(struct iscsi_conn *c, uint8_t *bhs, bool adv);
/* Queue tx (digests are added here); the flush happens after the current
 * callback. */
void iscsi_conn_queue(struct iscsi_conn *c, struct iscsi_tx *tx);
void iscsi_conn_send_reject(struct iscsi_conn *c, const uint8_t *bhs,
			    uint8_t reason);
/* ABORT TASK of a command still held behind a CmdSN gap: neutralize it
 * (its CmdSN is still consumed in order).  True if one was found. */
bool iscsi_conn_drop_deferred(struct iscsi_conn *c, uint32_t itt);
/* A command left the window (completed or dropped): open the window. */
void iscsi_conn_window_slot_free(struct iscsi_conn *c);

/* tgt_req.c */
void iscsi_conn_nop_timer_cb(struct ev_timer *tm, void *arg);
void iscsi_conn_nop_out(struct iscsi_conn *c, const uint8_t *bhs,
			const uint8_t *data, uint32_t dlen);
void iscsi_conn_text(struct iscsi_conn *c, const uint8_t *bhs,
		     const uint8_t *data, uint32_t dlen);
void iscsi_conn_logout(struct iscsi_conn *c, const uint8_t *bhs);

/* tgt_cmd.c */
/* Handle a SCSI Command PDU whose CmdSN is in order. */
void iscsi_cmd_receive(struct iscsi_conn *c, const uint8_t *bhs,
		       const uint8_t *ahs, const uint8_t *data, uint32_t dlen);
/* Handle a Data-Out PDU; -1 on a sequence error, after dropping its task
 * (the caller answers with a Reject). */
int iscsi_cmd_data_out(struct iscsi_conn *c, const uint8_t *bhs,
		       const uint8_t *data, uint32_t dlen);
/* A SCSI Command whose immediate data is still arriving, in two halves:
 * begin does all but take the data and returns where it goes (the
 * command's buffer, the command held in *held), or NULL when the command
 * has been answered already; end takes the data once it is there and
 * puts the command. */
uint8_t *iscsi_cmd_receive_begin(struct iscsi_conn *c, const uint8_t *bhs,
				 const uint8_t *ahs, uint32_t dlen,
				 struct iscsi_cmd **held);
void iscsi_cmd_receive_end(struct iscsi_conn *c, struct iscsi_cmd *cmd,
			   const uint8_t *bhs, uint32_t dlen);
/* Where the data segment of a Data-Out PDU goes when it would be accepted
 * at its place in the sequence: the command's buffer at the PDU's offset,
 * with the command held in *held (the caller puts it).  NULL when the
 * data is not wanted there (no such task, out of order, out of range):
 * then the PDU takes the ordinary path. */
uint8_t *iscsi_cmd_data_out_dest(struct iscsi_conn *c, const uint8_t *bhs,
				 uint32_t dlen, struct iscsi_cmd **held);
void iscsi_cmd_tmf(struct iscsi_conn *c, const uint8_t *bhs);
/* Abort every task of c on lun (UINT32_MAX: all); tasks not yet
 * submitted are dropped, submitted ones aborted; tmf (may be NULL) waits
 * for them. */
void iscsi_cmd_abort_lun(struct iscsi_conn *c, uint32_t lun,
			 struct iscsi_tmf *tmf);
/* The connection closed: drop commands not with the engine, abort the
 * rest. */
void iscsi_cmd_conn_closed(struct iscsi_conn *c);
void iscsi_cmd_put(struct iscsi_cmd *cmd);
struct iscsi_cmd *iscsi_cmd_find(struct iscsi_conn *c, uint32_t itt);

#endif
