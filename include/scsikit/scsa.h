/*
 * SCSA: a packet interface for SCSI target drivers, after Solaris' SCSA
 * (scsi_init_pkt and friends), carried by CAM underneath.
 *
 * A target driver allocates a packet with scsa_init_pkt() -- command,
 * status and private areas, and "DMA resources" for a data buffer --
 * fills the CDB, sets pkt_comp and hands it to scsa_transport().  When
 * the command is done its completion function reads pkt_reason (did the
 * transport complete the command?), the status byte (*pkt_scbp: busy,
 * check condition) and pkt_resid, and either retries or destroys it.
 *
 * Resources are finite, per HBA (a CAM bus seen through scsa_hba_attach):
 * packets, consistent buffers, and the bytes of data mapped for DMA at
 * once.  When one is short, scsa_init_pkt (for the packet or for its
 * mapping) and scsa_alloc_consistent_buf behave by their callback
 * argument:
 * NULL_FUNC fails at once, SLEEP_FUNC waits (never call it on the bus's
 * loop), and any other function is called -- on the bus's loop -- when
 * resources come back; it returns 1 when it got what it needed, 0 to be
 * called again at the next release.
 *
 * DMA: the data of a packet moves through a private staging buffer, as
 * through a DMA mapping.  scsa_init_pkt syncs it for the device (writes);
 * for reads the driver sees the data after scsa_sync_pkt or
 * scsa_destroy_pkt -- except with PKT_CONSISTENT (a buffer from
 * scsa_alloc_consistent_buf), which the HBA syncs before the completion
 * callback.  PKT_DMA_PARTIAL accepts a mapping of only the first window
 * (the HBA's DMA limit): pkt_resid then says how many bytes were not
 * mapped, and calling scsa_init_pkt again with the packet moves to the
 * next window.
 *
 * Threading: the completion and resource callbacks run on the bus's loop;
 * the other calls may be made from any thread except where stated.
 */
#ifndef SCSIKIT_SCSA_H
#define SCSIKIT_SCSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <scsikit/api.h>
#include <scsikit/scsi.h>

struct bdev;
struct scsa_hba;
struct scsa_pkt;

/* Resource callbacks. */
typedef int (*scsa_callback_t)(void *arg);
#define NULL_FUNC ((scsa_callback_t)0)
#define SLEEP_FUNC ((scsa_callback_t)1)

/* Where a target driver's device is. */
struct scsa_address {
	struct scsa_hba *a_hba;
	uint32_t a_target;
	uint64_t a_lun;
};

/* A data buffer (the buf(9S) of the reference, reduced). */
#define B_READ 0x1u		/* data from the device */
#define B_WRITE 0x0u
#define B_CONSISTENT 0x100u	/* from scsa_alloc_consistent_buf */
struct scsa_buf {
	uint32_t b_flags;	/* B_READ / B_WRITE (| B_CONSISTENT) */
	void *b_addr;		/* the data */
	size_t b_bcount;	/* bytes */
	size_t b_resid;		/* for the driver's bookkeeping */
	int b_error;
};

/* scsa_init_pkt flags */
#define PKT_CONSISTENT 0x1u
#define PKT_DMA_PARTIAL 0x2u

/* pkt_flags (set by the driver) */
#define FLAG_NOINTR 0x0001u	/* polled: done when scsa_transport returns,
				 * no completion call */
#define FLAG_NODISCON 0x0002u	/* no disconnection */
#define FLAG_NOPARITY 0x0008u
#define FLAG_HTAG 0x1000u	/* head-of-queue tag */
#define FLAG_OTAG 0x2000u	/* ordered tag */
#define FLAG_STAG 0x4000u	/* simple tag */

/* pkt_reason (set by the HBA) */
enum scsa_pkt_reason {
	CMP_CMPLT = 0,		/* the command completed (see the status) */
	CMP_INCOMPLETE = 1,	/* did not get through (selection failed) */
	CMP_DMA_ERR = 2,
	CMP_TRAN_ERR = 3,	/* transport error */
	CMP_RESET = 4,		/* bus or device reset */
	CMP_ABORTED = 5,
	CMP_TIMEOUT = 6,
	CMP_DATA_OVR = 7,	/* data overrun */
	CMP_UNX_BUS_FREE = 8,	/* unexpected bus free */
	CMP_DEV_GONE = 9,
};

/* pkt_state */
#define STATE_GOT_BUS 0x01u
#define STATE_GOT_TARGET 0x02u
#define STATE_SENT_CMD 0x04u
#define STATE_XFERRED_DATA 0x08u
#define STATE_GOT_STATUS 0x10u
#define STATE_ARQ_DONE 0x20u

/* pkt_statistics */
#define STAT_DISCON 0x1u
#define STAT_BUS_RESET 0x8u
#define STAT_DEV_RESET 0x10u
#define STAT_ABORTED 0x20u
#define STAT_TIMEOUT 0x40u
#define STAT_PERR 0x80u

/* The status block.  A statuslen of sizeof(struct scsa_arq_status) or
 * more, with auto request sense on, gets the sense data of a CHECK
 * CONDITION here (pkt_state has STATE_ARQ_DONE). */
struct scsa_arq_status {
	uint8_t sts_status;	/* the command's status byte */
	uint8_t sts_rqpkt_reason; /* of the REQUEST SENSE: CMP_* */
	uint8_t sts_rqpkt_state;
	uint32_t sts_rqpkt_resid;
	uint8_t sts_sensedata[SCSI_SENSE_MAX];
};
/* Status byte tests (scsi_status(9S) fields). */
static inline bool scsa_sts_chk(const uint8_t *scbp)
{
	return (scbp[0] & 0x3e) == SCSI_STATUS_CHECK_CONDITION;
}
static inline bool scsa_sts_busy(const uint8_t *scbp)
{
	return (scbp[0] & 0x3e) == SCSI_STATUS_BUSY ||
	       (scbp[0] & 0x3e) == SCSI_STATUS_TASK_SET_FULL ||
	       (scbp[0] & 0x3e) == SCSI_STATUS_RESERVATION_CONFLICT;
}

struct scsa_pkt {
	/* Set by scsa_init_pkt; filled by the driver. */
	struct scsa_address pkt_address;
	uint8_t *pkt_cdbp;	/* cmdlen bytes */
	uint8_t *pkt_scbp;	/* statuslen bytes */
	void *pkt_private;	/* privatelen bytes for the driver */
	void (*pkt_comp)(struct scsa_pkt *pkt); /* on the bus's loop */
	uint32_t pkt_flags;	/* FLAG_* */
	uint32_t pkt_time;	/* seconds; 0: the bus default */
	/* Set by the HBA. */
	size_t pkt_resid;	/* after init: bytes not mapped (partial);
				 * after completion: not transferred */
	uint32_t pkt_state;	/* STATE_* */
	uint32_t pkt_statistics; /* STAT_* */
	uint8_t pkt_reason;	/* CMP_* */
	/* Private to the HBA layer. */
	void *pkt_ha_private;
};

/* Transport answers. */
#define TRAN_ACCEPT 0
#define TRAN_BUSY 1
#define TRAN_BADPKT (-1)
#define TRAN_FATAL_ERROR (-2)

struct scsa_hba_limits {
	unsigned max_pkts;	/* packets allocated at once (default 64) */
	unsigned max_consistent; /* consistent buffers (default 8) */
	size_t dma_max;		/* DMA window (default: the SIM's maxio) */
	size_t dma_total;	/* bytes mapped at once over all packets
				 * (default 16 windows; at least one) */
};

/* Attach the packet interface to CAM bus path_id; lim may be NULL.  NULL
 * if no such bus.  Call from any thread but the bus's loop. */
SK_API struct scsa_hba *scsa_hba_attach(uint32_t path_id,
					const struct scsa_hba_limits *lim);
/* Every packet and buffer must be freed first. */
SK_API void scsa_hba_detach(struct scsa_hba *hba);

/* Capabilities: "auto-rqsense" (default on), "tagged-qing" (default on),
 * "dma-max" (read only).  Per target.  Return the value, or -1 when
 * unknown. */
SK_API int scsa_ifgetcap(struct scsa_address *ap, const char *cap);
SK_API int scsa_ifsetcap(struct scsa_address *ap, const char *cap, int value);

/*
 * Allocate (pkt == NULL) and/or map DMA for a packet.  bp may be NULL (no
 * data).  With a packet given and PKT_DMA_PARTIAL, moves to the next DMA
 * window.  Returns the packet, or NULL when resources are short (the
 * callback rules above, for the packet and for its mapping alike; a new
 * packet whose mapping is short is not kept) or the request is invalid
 * (cmdlen > 32, a buffer larger than the DMA window without
 * PKT_DMA_PARTIAL, no window left).
 */
SK_API struct scsa_pkt *scsa_init_pkt(struct scsa_address *ap,
				      struct scsa_pkt *pkt,
				      struct scsa_buf *bp, int cmdlen,
				      int statuslen, int privatelen, int flags,
				      scsa_callback_t callback, void *arg);
/* Make the data coherent: after a read, the driver's buffer gets what the
 * device sent; before resending after changing write data, the device
 * will see the change. */
SK_API void scsa_sync_pkt(struct scsa_pkt *pkt);
/* Sync what remains and free the packet and its resources (may run
 * waiting resource callbacks). */
SK_API void scsa_destroy_pkt(struct scsa_pkt *pkt);

SK_API struct scsa_buf *scsa_alloc_consistent_buf(struct scsa_address *ap,
						  struct scsa_buf *bp,
						  size_t datalen,
						  uint32_t bflags,
						  scsa_callback_t callback,
						  void *arg);
SK_API void scsa_free_consistent_buf(struct scsa_buf *bp);

/*
 * Start pkt.  TRAN_ACCEPT: pkt_comp runs exactly once, later, on the
 * bus's loop (with FLAG_NOINTR: the command is complete on return and
 * pkt_comp is not called; not on the bus's loop).  TRAN_BADPKT (no CDB,
 * already in transport), TRAN_FATAL_ERROR (bus gone): nothing runs.
 * A packet that completed may be resubmitted unchanged.
 */
SK_API int scsa_transport(struct scsa_pkt *pkt);

SK_API const char *scsa_reason_name(uint8_t reason);

/* ---- sd: a direct-access target driver on the packet interface ---- */

/*
 * The disk at path_id:target:lun as a bdev ("sd" backend): READ/WRITE
 * (10/16) one DMA window at a time, SYNCHRONIZE CACHE for flush; the
 * completion routine retries BUSY after a delay, fetches the sense with
 * REQUEST SENSE when auto request sense is off, resubmits after transport
 * errors, each a bounded number of times (docs/cam.md).
 */
struct scsa_sd_params {
	uint32_t path_id, target;
	uint64_t lun;
	bool no_arq;		/* auto request sense off: the driver sends
				 * REQUEST SENSE itself */
	size_t dma_max;		/* DMA window (0: the SIM's maxio) */
	unsigned busy_retries;	/* BUSY / becoming ready (30) ... */
	unsigned busy_delay_ms;	/* ... this far apart (20) */
	unsigned retries;	/* transport errors, unit attentions (5) */
};
/* Probe (TEST UNIT READY, READ CAPACITY 16 or 10) and make the bdev
 * named name.  From any thread but the bus's loop.  NULL and *err:
 * -ENODEV (no such bus), -ENXIO (nobody there), -EIO, -ENOMEM. */
SK_API struct bdev *scsa_sd_attach(const struct scsa_sd_params *p,
				   const char *name, int *err);

#endif
