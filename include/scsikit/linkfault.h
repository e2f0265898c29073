/*
 * Link-layer fault injection: the third layer of scsikit's faults, beside
 * the fault bdev (a disk's I/O) and the loop SIM's faults (a CAM path's
 * CCBs).  A rule names which new connections it hits (a front end, a peer
 * address) and what happens to their byte stream: dropped after N bytes,
 * delayed, stalled, or one byte corrupted.  TCP never reorders, and
 * neither do these faults.
 *
 * Each network front end and client link passes its socket through
 * sk_link_fault_wrap() once, right after accept or connect.  With no rule
 * that matches, the socket is returned as it is and nothing else changes.
 * A connection a rule hits gets one end of a socket pair instead; a relay
 * thread moves the bytes between the pair and the real socket and applies
 * the fault.  Every protocol is thus faulted by the same code, below its
 * parser, as a bad network would.
 */
#ifndef SCSIKIT_LINKFAULT_H
#define SCSIKIT_LINKFAULT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <scsikit/api.h>

/* Who owns a connection; rules select by a mask of (1u << front). */
enum sk_link_front {
	SK_LINK_ISCSI = 0,	  /* iSCSI target, accepted */
	SK_LINK_NBD = 1,	  /* NBD server, accepted */
	SK_LINK_XDISK = 2,	  /* xdisk (DMSG) server, accepted */
	SK_LINK_ISCSI_INI = 3,	  /* iSCSI initiator, connected */
	SK_LINK_XDISK_CLIENT = 4, /* xdisk client, connected */
	SK_LINK_FRONT_COUNT = 5,
};

enum sk_link_fault_action {
	SK_LINK_DROP = 1,    /* close both ways once `after` bytes passed */
	SK_LINK_DELAY = 2,   /* hold every chunk delay_ms past `after` */
	SK_LINK_STALL = 3,   /* stop moving bytes (both ways) past `after`,
			      * until the rule is cleared */
	SK_LINK_CORRUPT = 4, /* flip every bit of the byte at `after` */
};

/* Directions, as seen from scsikit's end of the connection. */
#define SK_LINK_RX 0x1u /* bytes the peer sends us */
#define SK_LINK_TX 0x2u /* bytes we send the peer */

struct sk_link_fault_rule {
	enum sk_link_fault_action action;
	uint32_t front_mask;	/* 1u << SK_LINK_*; 0 = every front end */
	char peer[64];		/* "HOST" or "HOST:PORT"; "" = any peer */
	uint32_t dir;		/* SK_LINK_RX|SK_LINK_TX; 0 = both */
	uint64_t after;		/* bytes in dir before the fault acts */
	uint32_t delay_ms;
	int32_t count;		/* new connections it hits; -1 = until cleared */
	uint32_t pdus;		/* not 0: `after` is instead the end of the
				 * pdus-th PDU in dir (one direction only;
				 * iSCSI and xdisk links: their framing) */
};

/* Parse "ACTION[,key=value...]": ACTION is drop, delay=MS, stall or
 * corrupt; keys front=iscsi+nbd+xdisk+iscsi-initiator+xdisk-client|all,
 * peer=HOST[:PORT], dir=rx|tx|both, after=SIZE (K/M/G suffixes),
 * pdus=N (with dir=rx or tx, and front ends among iscsi, xdisk,
 * iscsi-initiator and xdisk-client), count=N.  0, or -1 with a one-line reason in err. */
SK_API int sk_link_fault_parse(const char *text,
			       struct sk_link_fault_rule *rule, char *err,
			       size_t errlen);
/* Add a rule for connections made from now on; its id (> 0) or -errno.
 * Thread-safe, as are the functions below. */
SK_API int sk_link_fault_add(const struct sk_link_fault_rule *rule);
/* Remove rule id (0: all).  Connections it hit stop being faulted (a
 * stalled one moves again); a dropped one stays closed.  0 or -ENOENT. */
SK_API int sk_link_fault_clear(int id);
/* One line per rule and per faulted connection still open. */
SK_API void sk_link_fault_list(FILE *out);
/* Connections rule id has hit so far (-ENOENT: no such rule). */
SK_API long sk_link_fault_hits(int id);

/*
 * Pass a just accepted or connected socket through the rules: returns the
 * fd to use from now on (fd itself when no rule hits it, else one end of a
 * socket pair relayed to fd, which then belongs to the relay).  Call once
 * per connection, after reading its addresses (the pair has none) and
 * before any I/O on it; a connect still in progress is fine.  peer is the
 * peer's address when the caller has it (NULL: getpeername).  The
 * returned fd has fd's O_NONBLOCK setting.
 */
SK_API int sk_link_fault_wrap(int fd, enum sk_link_front front,
			      const struct sockaddr *peer, socklen_t peerlen);

#endif
