/*
 * The iSCSI target (RFC 7143, ERL 0): listens on TCP portals and exports
 * the daemon's disks as iSCSI targets, one target per disk, through the
 * SCSI target engine (target.h).  Used by `scsikit serve` (tools/
 * serve_iscsi.c) and by programs embedding the target.
 *
 * Threading: create/configure before the reactors run; start, ctl and stop
 * on main_loop's thread (the one given to start).  Each connection lives on the reactor chosen by
 * pick_loop for its whole life; sessions have one connection.
 */
#ifndef SCSIKIT_ISCSI_H
#define SCSIKIT_ISCSI_H

#include <stddef.h>
#include <stdio.h>

#include <scsikit/api.h>

struct ev_loop;
struct iscsi_srv;

/* Choose a reactor for a new connection (round robin in the daemon). */
typedef struct ev_loop *(*iscsi_pick_loop_fn)(void *arg);

/* The default portal and the IQN prefix targets get when not named. */
#define ISCSI_DEFAULT_PORTAL "127.0.0.1:3260"
#define ISCSI_DEFAULT_IQN_PREFIX "iqn.2026-11.org.scsikit:"

SK_API struct iscsi_srv *iscsi_srv_create(iscsi_pick_loop_fn pick,
					  void *pick_arg);

/*
 * One setting (see iscsi_srv_usage() for the keys: portal, chap,
 * mutual-chap, acl, target, queue-depth, digest, ...).  0, or -1 with a
 * one-line message in err.
 */
SK_API int iscsi_srv_configure(struct iscsi_srv *s, const char *key,
			       const char *value, char *err, size_t errlen);

/* Open the portals (their listeners run on main_loop) and export every
 * disk of the registry, following its additions and removals from now on.
 * 0 or -1 with a message in err. */
SK_API int iscsi_srv_start(struct iscsi_srv *s, struct ev_loop *main_loop,
			   char *err, size_t errlen);

/* Close the portals, end every session, and drop the caller's reference;
 * memory goes when the last connection is gone. */
SK_API void iscsi_srv_stop(struct iscsi_srv *s);

/* Control commands: "sessions", "targets", "portals".  0 or -1. */
SK_API int iscsi_srv_ctl(struct iscsi_srv *s, int argc, char **argv,
			 FILE *out);

/* Option lines for --help (also as a literal, for static tables). */
#define ISCSI_SRV_USAGE \
"  --iscsi ADDR[,TAG]        iSCSI portal, HOST:PORT or [V6]:PORT, in\n" \
"                            portal group TAG (default 1), which is\n" \
"                            relative target port TAG for ALUA\n" \
"                            (repeatable; default " ISCSI_DEFAULT_PORTAL \
"; 'none' disables)\n" \
"  --iscsi-target DISK:IQN   name DISK's target (default\n" \
"                            " ISCSI_DEFAULT_IQN_PREFIX "DISK)\n" \
"  --iscsi-alias DISK:ALIAS  TargetAlias of DISK's target\n" \
"  --iscsi-lun DISK:N:OTHER  disk OTHER as LUN N of DISK's target\n" \
"  --iscsi-chap T:USER:SECRET  require CHAP on T (a disk, '*' for all,\n" \
"                            'discovery' for discovery sessions)\n" \
"  --iscsi-mutual-chap T:USER:SECRET  target's name/secret, mutual CHAP\n" \
"  --iscsi-acl T:INITIATOR   allow only listed initiator names on T\n" \
"  --iscsi-queue-depth N     CmdSN window per session (128)\n" \
"  --iscsi-digest none|crc32c|both  digests accepted (both)\n" \
"  --iscsi-header-digest D, --iscsi-data-digest D  one kind only\n" \
"  --iscsi-max-recv-dsl N    MaxRecvDataSegmentLength declared (262144)\n" \
"  --iscsi-max-burst N  --iscsi-first-burst N  --iscsi-max-r2t N\n" \
"  --iscsi-immediate-data yes|no  --iscsi-initial-r2t yes|no\n" \
"  --iscsi-max-sessions N  --iscsi-max-connections N  (256, 512)\n" \
"  --iscsi-max-per-peer N    connections per client address (64)\n" \
"  --iscsi-max-login N       connections still in login (64); the\n" \
"                            oldest is evicted for a newcomer\n" \
"  --iscsi-login-timeout S   time to complete login (15)\n" \
"  --iscsi-pdu-timeout S     time for a PDU, once begun, to arrive (30)\n" \
"  --iscsi-max-cmd-data SIZE  --iscsi-max-conn-data SIZE  buffer limits\n" \
"  --iscsi-nop-interval S  --iscsi-nop-timeout S  pings (10, 30; 0 off)\n" \
"  --iscsi-iqn-prefix P      prefix of derived target names\n"

/* Option lines for --help. */
SK_API const char *iscsi_srv_usage(void);

#endif
