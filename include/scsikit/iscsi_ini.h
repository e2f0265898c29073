/*
 * The iSCSI initiator as a CAM SIM: one iSCSI session (one connection,
 * ErrorRecoveryLevel 0) is one CAM bus with a single target (id 0) whose
 * LUNs come from the target's REPORT LUNS through the normal CAM scan.
 *
 * URL (the libiscsi form, so the same strings work with iscsi-inq & co):
 *
 *   iscsi://[user[%secret]@]host[:port]/[target-iqn[/lun]][?opts]
 *
 * opts, '&'-separated: header_digest=none|crc32c|crc32c,none (both
 * offered CRC32C first),
 * data_digest=..., target_user=NAME, target_password=SECRET (mutual CHAP),
 * initiator_name=IQN, backoff=MS, replacement_timeout=S, nop=MS.  Without a
 * target IQN a SendTargets discovery session runs first and the first
 * target it names is used.  host may be [v6addr].
 *
 * Threading: the session lives on the event loop of its bus; every call
 * below except iscsi_ini_wait_ready is made on that loop's thread.
 */
#ifndef SCSIKIT_ISCSI_INI_H
#define SCSIKIT_ISCSI_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <scsikit/api.h>

struct ev_loop;
struct iscsi_ini;

#define ISCSI_INI_NO_LUN ((uint64_t)~0ull)

/* What a session is told to do; iscsi_ini_parse_url fills one. */
struct iscsi_ini_cfg {
	char host[256];
	uint16_t port;			/* default 3260 */
	char target[224];		/* empty: discover */
	uint64_t lun;			/* from the URL, or ISCSI_INI_NO_LUN */
	char initiator[224];
	char user[256], secret[257];	/* CHAP (one-way) */
	char tuser[256], tsecret[257];	/* mutual CHAP */
	uint32_t header_digest;		/* ISCSI_DIGEST_* mask, preference */
	uint32_t data_digest;
	uint32_t backoff_ms;		/* first reconnect delay (doubles) */
	uint32_t backoff_max_ms;
	uint32_t replacement_ms;	/* fail I/O after this long down */
	uint32_t nop_ms;		/* ping interval (0: never) */
	uint32_t nop_timeout_ms;
	uint32_t login_timeout_ms;
	uint32_t max_recv_dsl;
	uint32_t max_burst, first_burst;
	uint32_t queue_depth;		/* commands per LUN (tags) */
};

/* Defaults for everything but the address. */
SK_API void iscsi_ini_cfg_init(struct iscsi_ini_cfg *c);
/* Parse url into c (after iscsi_ini_cfg_init).  0 or -EINVAL with a
 * message in err. */
SK_API int iscsi_ini_parse_url(const char *url, struct iscsi_ini_cfg *c,
			       char *err, size_t errlen);

/*
 * Create the session and register its bus on loop.  The login runs in the
 * background: until it succeeds the bus's queue is frozen.  Returns the
 * path id (>= 0) or -errno with a message in err.  On loop's thread.
 */
SK_API int iscsi_ini_create(const struct iscsi_ini_cfg *cfg,
			    struct ev_loop *loop, struct iscsi_ini **out,
			    char *err, size_t errlen);
/* Parse url and create (cam_loop_create_url's counterpart). */
SK_API int cam_iscsi_create_url(const char *url, struct ev_loop *loop,
				struct iscsi_ini **out, char *err,
				size_t errlen);
/*
 * Wait (from a thread that is NOT the session's loop) until the first
 * login has succeeded (0) or failed for good (-errno, message in err), or
 * timeout_ms passed (-ETIMEDOUT).  A failed first login is not retried.
 */
SK_API int iscsi_ini_wait_ready(struct iscsi_ini *s, uint32_t timeout_ms,
				char *err, size_t errlen);
/* Log out (best effort), hand back every CCB (CAM_NO_HBA), deregister the
 * bus and free.  On the loop's thread. */
SK_API void iscsi_ini_destroy(struct iscsi_ini *s);
SK_API uint32_t iscsi_ini_path_id(const struct iscsi_ini *s);
SK_API const struct iscsi_ini_cfg *iscsi_ini_config(const struct iscsi_ini *s);

/* A snapshot for listings. */
struct iscsi_ini_stats {
	const char *state;		/* "login", "full", "down", ... */
	char target[224];
	uint32_t path_id;
	uint16_t tsih;
	uint64_t cmds, reconnects, errors, aborts, resets, nops;
	uint32_t outstanding;
	bool failed;			/* replacement timeout passed */
	bool hdigest, ddigest;
	uint32_t max_xmit_dsl, max_burst, first_burst;
	bool immediate_data, initial_r2t;
};
SK_API void iscsi_ini_get_stats(const struct iscsi_ini *s,
				struct iscsi_ini_stats *st);
/* Drop the connection now, as if the network failed (tests, ctl). */
SK_API void iscsi_ini_kick(struct iscsi_ini *s);

#endif
