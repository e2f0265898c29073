/*
 * vscsi: a virtual SCSI host adapter whose commands are serviced by a
 * separate "userland target" process, after OpenBSD's vscsi(4).
 *
 * Two halves meet over a Unix-domain stream socket that plays the part of
 * OpenBSD's /dev/vscsiN (the wire format is docs/vscsi-protocol.md):
 *
 *   - the SIM (vscsi_sim_*): a CAM host adapter inside `scsikit serve`,
 *     256 targets wide, that listens on the socket and hands every SCSI
 *     command queued on its bus to the one connected userland end;
 *   - the client library (vscsi_client_*, vscsi_i2t, ...): what a userland
 *     target links against.  It keeps the operations of the reference --
 *     I2T, DATA_READ, DATA_WRITE, T2I, REQPROBE, REQDETACH and a pollable
 *     fd -- with their errors, but saves round trips and copies: the data
 *     of a command up to a slot's size lives in a memory area shared with
 *     the SIM (vscsi_data_buffer() points into it), so vscsi_i2t() is
 *     local and the data crosses no socket; larger commands' write data is
 *     pulled from the SIM by vscsi_data_write(), one round trip per call,
 *     and their read data travels with the T2I.
 *
 * On top of the library, vscsi_tgtsrv serves target-engine LUNs (what
 * `scsikit vscsi-target` runs).
 *
 * Errors are negative errno values.  The per-operation errors are the
 * reference's: -EAGAIN (no command waiting), -EFAULT (unknown tag),
 * -ENOMEM (more data than the command has left), -EINVAL (wrong direction
 * or bad argument).  A lost connection is -ECONNRESET (or -EPIPE).
 */
#ifndef SCSIKIT_VSCSI_H
#define SCSIKIT_VSCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <scsikit/api.h>

struct ev_loop;
struct cam_sim;
struct tgt_target;

/* Limits of the bus (OpenBSD's adapter_buswidth / openings). */
#define VSCSI_TARGETS 256
#define VSCSI_LUNS 256
#define VSCSI_OPENINGS_DEFAULT 16
#define VSCSI_CDB_MAX 32
#define VSCSI_SENSE_MAX 252
#define VSCSI_MAXIO_DEFAULT (1u << 20)
#define VSCSI_INLINE_DEFAULT (16u * 1024)
#define VSCSI_INLINE_OFF UINT32_MAX
/* The shared data area (wire version 3): one slot per CCB of the pool,
 * each of this many bytes; the area never exceeds VSCSI_SHM_AREA_MAX
 * (CCBs past it use the socket). */
#define VSCSI_SHM_SLOT_DEFAULT (64u * 1024)
#define VSCSI_SHM_AREA_MAX (64u << 20)
#define VSCSI_SHM_OFF UINT32_MAX

/* Data direction of a command, as I2T reports it. */
enum vscsi_dir {
	VSCSI_DIR_NONE = 0,
	VSCSI_DIR_READ = 1,	/* data to the initiator: use vscsi_data_read */
	VSCSI_DIR_WRITE = 2,	/* data from the initiator: vscsi_data_write */
};

/* T2I status (the reference's DONE / SENSE / ERR / RESET, plus one). */
enum vscsi_stat {
	VSCSI_STAT_DONE = 0,	/* finished; scsi_status (default GOOD) */
	VSCSI_STAT_SENSE = 1,	/* CHECK CONDITION with the sense data */
	VSCSI_STAT_ERR = 2,	/* the target failed: a transport error */
	VSCSI_STAT_RESET = 3,	/* the command was killed by a reset */
	VSCSI_STAT_SELTIMEOUT = 4, /* no target at this id (scsikit) */
};

/* ---- the client library (the userland end) ---- */

struct vscsi_client;

/* What vscsi_i2t hands over: one command. */
struct vscsi_i2t {
	uint32_t tag;
	uint32_t target;
	uint64_t lun;
	uint8_t cdb[VSCSI_CDB_MAX];
	uint8_t cdb_len;
	uint8_t tag_action;	/* SCSI queue tag message (0x20 simple...) */
	enum vscsi_dir dir;
	uint32_t data_len;	/* bytes the initiator expects to move */
};

/* What vscsi_t2i takes: the end of one command. */
struct vscsi_t2i {
	uint32_t tag;
	enum vscsi_stat status;
	uint8_t scsi_status;	/* with DONE: GOOD (0) or e.g. BUSY */
	uint8_t sense_len;	/* with SENSE: bytes of sense */
	uint8_t sense[VSCSI_SENSE_MAX];
};

/* What the SIM told us when we connected. */
struct vscsi_info {
	char name[16];		/* "vscsi0" */
	uint32_t targets;	/* 256 */
	uint32_t luns;		/* 256 */
	uint32_t openings;	/* per device */
	uint32_t max_xfer;	/* largest data_len of a command */
	uint16_t version;	/* wire version */
	uint32_t shm_slot;	/* bytes per slot of the shared data area */
	uint32_t shm_slots;	/* slots (0: no area, data on the socket) */
};

/*
 * Connect to the SIM listening at path.  0 and *out, or -errno: -EBUSY
 * when another userland end is connected (or the previous one's commands
 * and devices are still being torn down: retry later), -ENOENT /
 * -ECONNREFUSED when nothing listens, -EPROTO for a bad greeting.
 */
SK_API int vscsi_client_open(const char *path, struct vscsi_client **out);
/* Close the connection; the SIM resets every command still held. */
SK_API void vscsi_client_close(struct vscsi_client *c);
SK_API const struct vscsi_info *vscsi_client_info(const struct vscsi_client *c);
/* The socket: readable when a command (or an event) may be waiting.
 * After a wake-up call vscsi_i2t() until it says -EAGAIN: commands read
 * earlier may be buffered in the library without the fd being readable
 * (vscsi_client_pending() tells). */
SK_API int vscsi_client_fd(const struct vscsi_client *c);
SK_API unsigned vscsi_client_pending(const struct vscsi_client *c);

/* Hand over the next command: 0, -EAGAIN, or -ECONNRESET. */
SK_API int vscsi_i2t(struct vscsi_client *c, struct vscsi_i2t *out);
/* Supply the next len bytes of what a READ command returns.  0, -EFAULT
 * (tag not handed out), -ENOMEM (more than remains), -EINVAL (not a READ).
 * The data is kept until vscsi_t2i sends it. */
SK_API int vscsi_data_read(struct vscsi_client *c, uint32_t tag,
			   const void *buf, size_t len);
/* Take the next len bytes of what a WRITE command carries into buf: 0,
 * -EFAULT, -ENOMEM, -EINVAL as above, -EBUSY from an event/error/aborted
 * handler (the library may have to wait for the SIM), or a connection
 * error.  The bytes moved this way make the residual, which the SIM
 * counts itself. */
SK_API int vscsi_data_write(struct vscsi_client *c, uint32_t tag, void *buf,
			    size_t len);
/* Zero-copy form of the two above.  vscsi_data_buffer() gives the
 * library's buffer of a handed-out command's data (data_len bytes, valid
 * until its T2I): a WRITE's data as the initiator sent it, or room for a
 * READ's data; NULL with errno EFAULT (tag not handed out) or EINVAL (no
 * data).  vscsi_data_commit() then counts len more bytes as moved, from
 * the current offset, with the errors of vscsi_data_read/write (for a
 * READ the bytes must already be in the buffer at that offset; for a
 * WRITE they are there when it returns). */
SK_API void *vscsi_data_buffer(struct vscsi_client *c, uint32_t tag);
SK_API int vscsi_data_commit(struct vscsi_client *c, uint32_t tag,
			     size_t len);
/* Complete a command (with the read data gathered so far).  The bytes
 * moved make the residual.  0, -EFAULT, -EINVAL (bad status/sense), or a
 * connection error. */
SK_API int vscsi_t2i(struct vscsi_client *c, const struct vscsi_t2i *t2i);
/* Corking: while on, vscsi_t2i() gathers completions in the library
 * (sent when 256 KiB pile up, or by vscsi_client_flush), so that a batch
 * of completions costs one send.  Turning it off flushes.  A corked
 * caller must flush before it sleeps (vscsi_client_run does). */
SK_API void vscsi_client_cork(struct vscsi_client *c, bool on);
SK_API int vscsi_client_flush(struct vscsi_client *c);
/* Ask the bus to probe / detach target:lun.  The scan itself runs
 * asynchronously in the SIM; these return once the SIM accepted the
 * request: 0, -EINVAL (out of range), -EAGAIN (too many scans running),
 * -EBUSY (called from an event/error/aborted handler, where the library
 * cannot wait), or a connection error.  Commands that arrive meanwhile
 * are buffered: dispatch them afterwards. */
SK_API int vscsi_reqprobe(struct vscsi_client *c, uint32_t target,
			  uint64_t lun);
SK_API int vscsi_reqdetach(struct vscsi_client *c, uint32_t target,
			   uint64_t lun);

/* Asynchronous notices from the SIM, for the callback-driven loop. */
enum vscsi_event {
	VSCSI_EV_FOUND = 1,	/* the bus configured target:lun */
	VSCSI_EV_LOST = 2,	/* the bus lost target:lun */
	VSCSI_EV_RESET = 3,	/* the initiator reset target (all LUNs) or
				 * the bus (target = VSCSI_TARGETS) */
};

struct vscsi_handler {
	/* A new command; answer it (now or later) with vscsi_t2i. */
	void (*command)(struct vscsi_client *c, const struct vscsi_i2t *cmd,
			void *arg);
	/* Optional. */
	void (*event)(struct vscsi_client *c, enum vscsi_event ev,
		      uint32_t target, uint64_t lun, void *arg);
	/* Optional: the SIM rejected an earlier message (op is the wire
	 * message type, err a negative errno). */
	void (*error)(struct vscsi_client *c, unsigned op, uint32_t tag,
		      int err, void *arg);
	/* Optional: the SIM took a command back (abort or reset) after it
	 * was handed out; a later vscsi_t2i for tag is accepted and
	 * dropped. */
	void (*aborted)(struct vscsi_client *c, uint32_t tag, void *arg);
};
SK_API void vscsi_client_set_handler(struct vscsi_client *c,
				     const struct vscsi_handler *h,
				     void *arg);
/* Read what the socket has now and call the handlers for it (commands
 * are handed out one by one through h->command).  0, or -ECONNRESET when
 * the SIM went away. */
SK_API int vscsi_client_dispatch(struct vscsi_client *c);
/* poll() on the fd and dispatch until vscsi_client_stop() or the
 * connection ends: 0 after stop, else the error. */
SK_API int vscsi_client_run(struct vscsi_client *c);
SK_API void vscsi_client_stop(struct vscsi_client *c);

/* ---- the target-engine server on top of the library ---- */

struct vscsi_tgtsrv;
/*
 * Serve the target-engine targets added with vscsi_tgtsrv_add over c, on
 * loop (which must not run yet or be the caller's).  Takes ownership of c.
 */
SK_API struct vscsi_tgtsrv *vscsi_tgtsrv_create(struct vscsi_client *c,
						struct ev_loop *loop);
/* Put t at target id (taking a reference).  0, -ERANGE, -EEXIST. */
SK_API int vscsi_tgtsrv_add(struct vscsi_tgtsrv *s, uint32_t id,
			    struct tgt_target *t);
/* Watch the socket and (probe true) REQPROBE every target added.  When
 * the SIM goes away the server calls on_gone(arg) once (on loop).
 * 0 or -errno. */
SK_API int vscsi_tgtsrv_start(struct vscsi_tgtsrv *s, bool probe,
			      void (*on_gone)(void *arg), void *arg);
/* Commands being executed by the target engine now. */
SK_API unsigned vscsi_tgtsrv_inflight(const struct vscsi_tgtsrv *s);
/* Close the connection and free; tasks still in the engine finish first
 * (their results are dropped).  On loop's thread. */
SK_API void vscsi_tgtsrv_destroy(struct vscsi_tgtsrv *s);

/* ---- the SIM (inside the daemon) ---- */

struct vscsi_sim;

struct vscsi_sim_params {
	const char *path;	/* Unix socket to listen on; NULL: none
				 * (attach connections with
				 * vscsi_sim_attach_fd) */
	const char *name;	/* SIM name, default "vscsi" */
	uint32_t unit;
	uint32_t openings;	/* tagged commands per device (16) */
	uint32_t ccbs;		/* CCB pool, all preallocated; also the
				 * SIM queue size (1024, at least 16) */
	uint32_t maxio;		/* largest transfer (1 MiB) */
	uint32_t stall_ms;	/* drop a userland end that does not read
				 * for this long (30000) */
	uint32_t inline_max;	/* WRITE data up to this many bytes goes
				 * with the command, larger is pulled with
				 * DATA_WRITE (0: VSCSI_INLINE_DEFAULT;
				 * VSCSI_INLINE_OFF: always pulled) */
	uint32_t shm_slot;	/* bytes per slot of the shared data area
				 * (0: VSCSI_SHM_SLOT_DEFAULT, rounded up to
				 * a page, at most maxio; VSCSI_SHM_OFF: no
				 * area, all data on the socket) */
};

/* The device states of the reference. */
enum vscsi_sim_state {
	VSCSI_S_CLOSED = 0,	/* no userland end: commands find no target */
	VSCSI_S_CONFIG = 1,	/* an end is being set up or torn down */
	VSCSI_S_RUNNING = 2,	/* an end is connected and serving */
};

struct vscsi_sim_stats {
	enum vscsi_sim_state state;
	int path_id;
	uint32_t held;		/* CCBs the SIM holds (queued + handed out) */
	uint32_t queued;	/* not yet sent to the userland end */
	uint32_t scans;		/* probe / detach scans running */
	uint64_t cmds;		/* commands handed out */
	uint64_t done;		/* completed by T2I */
	uint64_t resets;	/* completed by a reset or disconnect */
	uint64_t errors;	/* wire messages answered with an error */
	uint64_t conns;		/* userland ends accepted */
	uint64_t refused;	/* ... and refused with EBUSY */
	uint64_t shm_cmds;	/* commands whose data went by the area */
	uint32_t shm_held;	/* slots still the peer's after an abort */
};

/*
 * Create the SIM, listen on p->path (an existing socket file there is
 * replaced) and register it as a CAM bus on loop.  Call on loop's thread
 * (or before it runs).  NULL with a reason in err.
 */
SK_API struct vscsi_sim *vscsi_sim_create(const struct vscsi_sim_params *p,
					  struct ev_loop *loop, char *err,
					  size_t errlen);
/* Drop the userland end (every command completes with a bus reset), take
 * the bus away and free.  On the loop's thread. */
SK_API void vscsi_sim_destroy(struct vscsi_sim *s);
/* Use fd (a connected stream socket; taken over) as the userland end, as
 * if accepted: 0, or -EBUSY (then fd is closed). */
SK_API int vscsi_sim_attach_fd(struct vscsi_sim *s, int fd);
SK_API int vscsi_sim_path_id(const struct vscsi_sim *s);
SK_API struct cam_sim *vscsi_sim_cam(const struct vscsi_sim *s);
SK_API const char *vscsi_sim_socket_path(const struct vscsi_sim *s);
SK_API void vscsi_sim_get_stats(const struct vscsi_sim *s,
				struct vscsi_sim_stats *st);
SK_API const char *vscsi_sim_state_name(enum vscsi_sim_state st);

#endif
