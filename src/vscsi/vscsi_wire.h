/*
 * The vscsi wire format: messages between the SIM (in the daemon) and a
 * userland end, over a Unix stream socket.  docs/vscsi-protocol.md is the
 * normative description; this header is its C form, shared by the SIM,
 * the client library and the fuzz harness.
 *
 * Every message is a 16-byte header followed by a body; all integers are
 * little-endian.  The header's len counts the whole message.
 */
#ifndef SCSIKIT_VSCSI_WIRE_H
#define SCSIKIT_VSCSI_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* 3: a shared-memory data area (memfd passed with HELLO): a CMD may name
 * the command's slot in it (CMD flag SHM) and a T2I the read data there
 * (T2I flag SHM).  2: DATA_WRITE is a request the SIM answers with WDATA;
 * write data travels with CMD only when small (CMD flag INLINE).  Ends of
 * another version are refused. */
#define VSCSI_WIRE_VERSION 3
#define VSCSI_HDR_LEN 16
/* Room beyond the data of a command for header, body and sense. */
#define VSCSI_MSG_OVERHEAD 512
#define VSCSI_TEXT_MAX 128

/* Message types.  SIM -> userland below 0x10, userland -> SIM above. */
enum vscsi_msg {
	VSCSI_MSG_HELLO = 0x01,		/* greeting of an accepted end */
	VSCSI_MSG_CMD = 0x02,		/* a command (I2T), small write data
					 * inline */
	VSCSI_MSG_ABORT = 0x03,		/* the SIM took a command back */
	VSCSI_MSG_REPLY = 0x04,		/* answer: error, or ack (F_ACK) */
	VSCSI_MSG_EVENT = 0x05,		/* bus event: found / lost / reset */
	VSCSI_MSG_WDATA = 0x06,		/* the data a DATA_WRITE asked for */
	VSCSI_MSG_DATA_READ = 0x10,	/* a chunk of a READ's data */
	VSCSI_MSG_T2I = 0x11,		/* completion, read data inline */
	VSCSI_MSG_REQPROBE = 0x12,
	VSCSI_MSG_REQDETACH = 0x13,
	VSCSI_MSG_DATA_WRITE = 0x14,	/* ask for the next chunk of a WRITE */
};

/* Header flags. */
#define VSCSI_F_ACK 0x01u	/* answer with a REPLY even on success */

/* Body sizes (fixed parts). */
#define VSCSI_HELLO_LEN 48
#define VSCSI_CMD_LEN 52
#define VSCSI_REPLY_LEN 8
#define VSCSI_EVENT_LEN 16
#define VSCSI_T2I_LEN 8
/* The (area offset, length) pair that follows the fixed part of a CMD or
 * T2I with the SHM flag. */
#define VSCSI_SHM_REF_LEN 8
#define VSCSI_DEVEV_LEN 16
#define VSCSI_DATA_WRITE_LEN 4

/* CMD flags (body byte 19). */
#define VSCSI_CMD_F_INLINE 0x01u	/* all the write data follows */
#define VSCSI_CMD_F_SHM 0x02u		/* the data lives in the area */
/* T2I flags (body byte 3). */
#define VSCSI_T2I_F_SHM 0x01u		/* the read data is in the area */

struct vscsi_hdr {
	uint32_t len;		/* whole message, header included */
	uint8_t type;		/* enum vscsi_msg */
	uint8_t flags;		/* VSCSI_F_* */
	uint16_t rsvd;
	uint32_t tag;		/* command tag, or request id */
	uint32_t aux;		/* per type: ABORT cam status, EVENT code */
};

struct vscsi_hello {
	uint16_t version;
	uint16_t max_cdb;
	uint32_t max_xfer;
	uint32_t targets;
	uint32_t luns;
	uint32_t openings;
	char name[16];
	uint32_t shm_slot;	/* bytes per slot of the area (0: no area) */
	uint32_t shm_slots;	/* slots; the area is slot * slots bytes */
};

struct vscsi_cmd_body {
	uint32_t target;
	uint32_t data_len;
	uint64_t lun;
	uint8_t dir;		/* enum vscsi_dir */
	uint8_t cdb_len;
	uint8_t tag_action;
	uint8_t flags;		/* VSCSI_CMD_F_* */
	uint8_t cdb[32];
	uint32_t shm_off;	/* SHM: where the data is in the area */
	uint32_t shm_len;	/* SHM: its length (= data_len) */
};

/* A T2I, parsed; sense and data point into the message. */
struct vscsi_t2i_view {
	uint8_t status;
	uint8_t scsi_status;
	uint8_t sense_len;
	uint8_t flags;		/* VSCSI_T2I_F_* */
	uint32_t shm_off;	/* SHM: the read data in the area */
	uint32_t shm_len;
	const uint8_t *sense;
	const uint8_t *data;	/* read data (may be empty) */
	uint32_t data_len;
};

struct vscsi_devev {
	uint32_t target;
	uint64_t lun;
};

static inline void vscsi_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void vscsi_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void vscsi_put64(uint8_t *p, uint64_t v)
{
	vscsi_put32(p, (uint32_t)v);
	vscsi_put32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t vscsi_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t vscsi_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	       ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t vscsi_get64(const uint8_t *p)
{
	return vscsi_get32(p) | ((uint64_t)vscsi_get32(p + 4) << 32);
}

/* Encoders write exactly their fixed size into p; vscsi_cmd_encode
 * returns the bytes written (with the area reference when SHM). */
void vscsi_hdr_encode(uint8_t *p, const struct vscsi_hdr *h);
void vscsi_hello_encode(uint8_t *p, const struct vscsi_hello *b);
size_t vscsi_cmd_encode(uint8_t *p, const struct vscsi_cmd_body *b);
/* The fixed part of a T2I (and the area reference when flags has SHM):
 * the bytes written. */
size_t vscsi_t2i_encode(uint8_t *p, uint8_t status, uint8_t scsi_status,
			uint8_t sense_len, uint8_t flags, uint32_t shm_off,
			uint32_t shm_len);
void vscsi_devev_encode(uint8_t *p, uint32_t target, uint64_t lun);

/*
 * Look at the start of an input buffer: 1 and *h when a whole message of
 * at most max_msg bytes is there, 0 when more bytes are needed, -EPROTO
 * when the framing is broken (len below the header or above max_msg).
 */
int vscsi_hdr_parse(const uint8_t *buf, size_t avail, uint32_t max_msg,
		    struct vscsi_hdr *h);

/* Body parsers: 0 or -EINVAL (short or inconsistent body).  They check
 * the message alone; whether an area reference lies inside the area and
 * the command's own slot is for vscsi_shm_check (the receiver knows the
 * area). */
int vscsi_hello_parse(const uint8_t *body, size_t len, struct vscsi_hello *b);
int vscsi_cmd_parse(const uint8_t *body, size_t len,
		    struct vscsi_cmd_body *b);
int vscsi_t2i_parse(const uint8_t *body, size_t len,
		    struct vscsi_t2i_view *v);
int vscsi_devev_parse(const uint8_t *body, size_t len, struct vscsi_devev *d);

/*
 * Is [off, off + len) inside the slot [slot_off, slot_off + slot_len) of
 * an area of area_len bytes?  0 or -ERANGE; computed in 64 bits, so no
 * peer value can wrap it.
 */
int vscsi_shm_check(uint32_t off, uint32_t len, uint64_t slot_off,
		    uint64_t slot_len, uint64_t area_len);

const char *vscsi_msg_name(unsigned type);

#endif
