/*
 * The vscsi client library: the userland end of a vscsi SIM, with the
 * operations of OpenBSD's /dev/vscsi ioctls (I2T, DATA_READ, DATA_WRITE,
 * T2I, REQPROBE, REQDETACH) over the wire format of vscsi_wire.h.
 *
 * Round trips and copies are saved where the protocol allows: the SIM
 * pushes commands, and the data of one that fits a slot of the shared
 * area (mapped at open) is in the area: vscsi_data_buffer() points there,
 * so the target works on it in place and the T2I only names it.  Else the
 * SIM sends small write data with the command (vscsi_data_write() of such
 * a command is local) and vscsi_data_read() gathers the read data, which
 * leaves with the T2I in one message.  The data of a larger WRITE is pulled from
 * the SIM by vscsi_data_write() / vscsi_data_commit(): a DATA_WRITE
 * request, answered by WDATA, straight into the caller's buffer.  The reference's errors are
 * checked here first (so a caller gets them synchronously) and again by
 * the SIM on every message.
 *
 * Not thread-safe: one client is used by one thread at a time.  The socket
 * is blocking for sends (the SIM always reads) and read with MSG_DONTWAIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/vscsi.h>

#include "vscsi/vscsi_wire.h"

#define CLIENT_HASH_BITS 10
#define CLIENT_RBUF_CHUNK (256u * 1024)
#define CLIENT_RBUF_MIN_FREE (64u * 1024)
#define CLIENT_OPEN_TIMEOUT_MS 5000
#define CLIENT_REQ_TIMEOUT_MS 10000
/* Largest data area we map (the SIM's own bound is VSCSI_SHM_AREA_MAX). */
#define CLIENT_AREA_MAX (1ull << 30)

struct vcmd {
	struct vscsi_i2t i;
	uint32_t moved;		/* bytes moved by data_read / data_write */
	bool handed;		/* given out by vscsi_i2t */
	bool aborted;		/* the SIM took it back */
	bool inl;		/* the write data came with the command */
	bool shm;		/* the data lives in the shared area */
	uint8_t *data;		/* the command's slot in the area; or write:
				 * inline data (inside the vcmd) or the
				 * buffer of vscsi_data_buffer; read:
				 * gather buffer */
	struct vcmd *hnext;	/* tag hash chain */
	struct vcmd *qnext;	/* pending queue */
};

struct vscsi_client {
	int fd;
	struct vscsi_info info;
	/* The SIM's shared data area (wire version 3), mapped at open. */
	uint8_t *area;
	size_t area_len;
	uint32_t max_msg;
	uint8_t *rbuf;
	size_t rlen, rcap;
	struct vcmd *qhead, *qtail;
	unsigned npending;
	struct vcmd *hash[1u << CLIENT_HASH_BITS];
	struct vscsi_handler h;
	void *harg;
	bool stop;
	bool in_pump;		/* handlers run inside pump: no nesting */
	int dead;		/* 0, or the -errno that ended it */
	uint32_t next_req;
	/* Corked output: T2Is gathered here until vscsi_client_flush. */
	bool corked;
	uint8_t *obuf;
	size_t olen, ocap;
	/* The one synchronous request in flight (REQPROBE, REQDETACH or
	 * DATA_WRITE, whose WDATA answer lands in wait_buf). */
	uint8_t wait_type;
	uint32_t wait_id;
	bool wait_done;
	int wait_err;
	uint8_t *wait_buf;
	uint32_t wait_len;
};

static unsigned tag_hash(uint32_t tag)
{
	return (tag * 2654435761u) >> (32 - CLIENT_HASH_BITS);
}

static struct vcmd *cmd_find(struct vscsi_client *c, uint32_t tag)
{
	struct vcmd *m;

	for (m = c->hash[tag_hash(tag)]; m; m = m->hnext)
		if (m->i.tag == tag)
			return m;
	return NULL;
}

static void cmd_free(struct vscsi_client *c, struct vcmd *m)
{
	struct vcmd **pp = &c->hash[tag_hash(m->i.tag)];

	while (*pp && *pp != m)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = m->hnext;
	if (!m->inl && !m->shm)
		free(m->data);	/* inline data lives inside m, shm in the
				 * area */
	free(m);
}

/* The handed-out command with tag, or NULL. */
static struct vcmd *cmd_held(struct vscsi_client *c, uint32_t tag)
{
	struct vcmd *m = cmd_find(c, tag);

	return m && m->handed ? m : NULL;
}

static int send_all(struct vscsi_client *c, struct iovec *iov, int iovcnt)
{
	struct msghdr mh;

	if (c->dead)
		return c->dead;
	while (iovcnt > 0) {
		ssize_t n;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)iovcnt;
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			c->dead = errno == EPIPE ? -EPIPE : -ECONNRESET;
			return c->dead;
		}
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

#define CLIENT_OBUF_FLUSH (256u * 1024)

int vscsi_client_flush(struct vscsi_client *c)
{
	struct iovec iov;
	int err;

	if (c->olen == 0)
		return c->dead;
	iov.iov_base = c->obuf;
	iov.iov_len = c->olen;
	err = send_all(c, &iov, 1);
	c->olen = 0;
	return err;
}

void vscsi_client_cork(struct vscsi_client *c, bool on)
{
	c->corked = on;
	if (!on)
		vscsi_client_flush(c);
}

/* Queue iov into the corked output; -ENOMEM if it cannot grow. */
static int obuf_append(struct vscsi_client *c, const struct iovec *iov,
		       int iovcnt)
{
	size_t n = 0;

	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	if (c->olen + n > c->ocap) {
		size_t cap = c->ocap ? c->ocap : 64 * 1024;
		uint8_t *nb;

		while (cap < c->olen + n)
			cap *= 2;
		nb = realloc(c->obuf, cap);
		if (!nb)
			return -ENOMEM;
		c->obuf = nb;
		c->ocap = cap;
	}
	for (int i = 0; i < iovcnt; i++) {
		memcpy(c->obuf + c->olen, iov[i].iov_base, iov[i].iov_len);
		c->olen += iov[i].iov_len;
	}
	return 0;
}

/* ---- input ---- */

static int handle_cmd(struct vscsi_client *c, const struct vscsi_hdr *h,
		      const uint8_t *body, uint32_t blen)
{
	struct vscsi_cmd_body b;
	struct vcmd *m;
	size_t extra;

	if (vscsi_cmd_parse(body, blen, &b) < 0 || cmd_find(c, h->tag)) {
		log_warn("vscsi: malformed or duplicate command from the SIM");
		return -EPROTO;
	}
	/* The SIM names the command's slot: it must be inside the area
	 * we mapped (a broken SIM would otherwise have us write anywhere). */
	if ((b.flags & VSCSI_CMD_F_SHM) &&
	    (!c->area || vscsi_shm_check(b.shm_off, b.shm_len, 0,
					 c->area_len, c->area_len) < 0)) {
		log_warn("vscsi: command data outside the shared area");
		return -EPROTO;
	}
	extra = (b.flags & VSCSI_CMD_F_INLINE) ? b.data_len : 0;
	m = calloc(1, sizeof(*m) + extra);
	if (!m)
		return -ENOMEM;
	m->i.tag = h->tag;
	m->i.target = b.target;
	m->i.lun = b.lun;
	memcpy(m->i.cdb, b.cdb, sizeof(m->i.cdb));
	m->i.cdb_len = b.cdb_len;
	m->i.tag_action = b.tag_action;
	m->i.dir = (enum vscsi_dir)b.dir;
	m->i.data_len = b.data_len;
	if (b.flags & VSCSI_CMD_F_INLINE) {
		m->inl = true;
		m->data = (uint8_t *)(m + 1);
		memcpy(m->data, body + VSCSI_CMD_LEN, extra);
	} else if (b.flags & VSCSI_CMD_F_SHM) {
		m->shm = true;
		m->data = c->area + b.shm_off;
	}
	m->hnext = c->hash[tag_hash(m->i.tag)];
	c->hash[tag_hash(m->i.tag)] = m;
	if (c->qtail)
		c->qtail->qnext = m;
	else
		c->qhead = m;
	c->qtail = m;
	c->npending++;
	return 0;
}

static int handle_msg(struct vscsi_client *c, const struct vscsi_hdr *h,
		      const uint8_t *body, uint32_t blen)
{
	struct vscsi_devev d;
	struct vcmd *m;
	int err;

	switch (h->type) {
	case VSCSI_MSG_CMD:
		return handle_cmd(c, h, body, blen);
	case VSCSI_MSG_ABORT:
		m = cmd_find(c, h->tag);
		if (!m)
			return 0;	/* already completed: nothing to do */
		m->aborted = true;
		if (m->handed && c->h.aborted)
			c->h.aborted(c, h->tag, c->harg);
		return 0;
	case VSCSI_MSG_REPLY:
		if (blen < VSCSI_REPLY_LEN)
			return -EPROTO;
		err = -(int)vscsi_get32(body + 4);
		if (c->wait_type && h->tag == c->wait_id &&
		    body[0] == c->wait_type) {
			c->wait_done = true;
			c->wait_err = err;
		} else if (err && c->h.error) {
			c->h.error(c, body[0], h->tag, err, c->harg);
		} else if (err) {
			log_warn("vscsi: the SIM refused %s tag 0x%x: %s",
				 vscsi_msg_name(body[0]), h->tag,
				 strerror(-err));
		}
		return 0;
	case VSCSI_MSG_WDATA:
		/* Only ever the answer to the DATA_WRITE we wait for. */
		if (c->wait_type != VSCSI_MSG_DATA_WRITE ||
		    h->tag != c->wait_id || blen != c->wait_len)
			return -EPROTO;
		memcpy(c->wait_buf, body, blen);
		c->wait_done = true;
		c->wait_err = 0;
		return 0;
	case VSCSI_MSG_EVENT:
		if (vscsi_devev_parse(body, blen, &d) < 0)
			return -EPROTO;
		if (c->h.event)
			c->h.event(c, (enum vscsi_event)h->aux, d.target, d.lun,
				   c->harg);
		return 0;
	default:
		return 0;	/* unknown notices are skipped */
	}
}

static int pump_locked(struct vscsi_client *c);

/* Read what the socket has and handle every whole message.  A handler
 * called from here that comes back into the library finds nothing more
 * to read (the buffer is being parsed). */
static int pump(struct vscsi_client *c)
{
	int err;

	if (c->dead)
		return c->dead;
	if (c->in_pump)
		return 0;
	c->in_pump = true;
	err = pump_locked(c);
	c->in_pump = false;
	return err;
}

static int pump_locked(struct vscsi_client *c)
{
	for (int i = 0; i < 64; i++) {
		size_t off = 0;
		ssize_t n;

		if (c->rcap - c->rlen < CLIENT_RBUF_MIN_FREE) {
			/* Doubling: no realloc per read in a steady stream;
			 * bounded by the largest message plus the buffer. */
			size_t cap = c->rcap ? c->rcap * 2 : CLIENT_RBUF_CHUNK;
			uint8_t *nb;

			while (cap - c->rlen < CLIENT_RBUF_MIN_FREE)
				cap *= 2;
			nb = realloc(c->rbuf, cap);

			if (!nb)
				return -ENOMEM;
			c->rbuf = nb;
			c->rcap = cap;
		}
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			c->dead = -ECONNRESET;
			return c->dead;
		}
		c->rlen += (size_t)n;
		for (;;) {
			struct vscsi_hdr h;
			int r = vscsi_hdr_parse(c->rbuf + off, c->rlen - off,
						c->max_msg, &h);

			if (r == 0)
				break;
			if (r < 0 ||
			    (r = handle_msg(c, &h, c->rbuf + off + VSCSI_HDR_LEN,
					    h.len - VSCSI_HDR_LEN)) < 0) {
				c->dead = r == -ENOMEM ? -ENOMEM : -EPROTO;
				return c->dead;
			}
			off += h.len;
		}
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	return 0;
}

/* ---- open / close ---- */

/* Read the greeting's len bytes and the fd that may come with them (the
 * data area); *fd stays -1 without one.  Any other fd is closed. */
static ssize_t recv_hello(int sock, uint8_t *buf, size_t len, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = {buf, len};
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t nfd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
			if (*fd < 0)
				*fd = f;
			else
				close(f);
		}
	}
	return n;
}

/* Map the data area HELLO announced, after checking that the memfd is as
 * big as announced and cannot shrink under us (a fault, not an error,
 * would tell us otherwise).  Takes fd. */
static int map_area(struct vscsi_client *c, const struct vscsi_hello *h,
		    int fd)
{
	uint64_t len = (uint64_t)h->shm_slot * h->shm_slots;
	struct stat st;
	int seals;
	void *p;

	if (h->shm_slots == 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (fd < 0 || len > CLIENT_AREA_MAX || fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_size < len) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		close(fd);
		return -EPROTO;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	c->area = p;
	c->area_len = len;
	return 0;
}

int vscsi_client_open(const char *path, struct vscsi_client **out)
{
	struct sockaddr_un sa;
	struct vscsi_client *c;
	uint64_t end = ev_now_ms() + CLIENT_OPEN_TIMEOUT_MS;
	int err, afd = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, strlen(path));
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		goto out_free;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out_close;
	}
	/* The first message is HELLO or a refusal; both are small. */
	c->max_msg = VSCSI_HDR_LEN + VSCSI_REPLY_LEN + VSCSI_TEXT_MAX;
	for (;;) {
		struct vscsi_hdr h;
		struct vscsi_hello hello;
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		uint8_t buf[VSCSI_HDR_LEN + VSCSI_REPLY_LEN + VSCSI_TEXT_MAX];
		ssize_t n;
		int r, left = (int)(end - ev_now_ms());

		if (left <= 0) {
			err = -ETIMEDOUT;
			goto out_close;
		}
		if (poll(&pfd, 1, left) < 0 && errno != EINTR) {
			err = -errno;
			goto out_close;
		}
		/* Peek so that commands after HELLO stay in the socket. */
		n = recv(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (n == 0) {
			err = -ECONNRESET;
			goto out_close;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err = -errno;
			goto out_close;
		}
		r = vscsi_hdr_parse(buf, (size_t)n, c->max_msg, &h);
		if (r < 0) {
			err = -EPROTO;
			goto out_close;
		}
		if (r == 0)
			continue;
		if (recv_hello(c->fd, buf, h.len, &afd) != (ssize_t)h.len) {
			err = -EPROTO;
			goto out_close;
		}
		if (h.type == VSCSI_MSG_REPLY &&
		    h.len >= VSCSI_HDR_LEN + VSCSI_REPLY_LEN) {
			uint32_t e = vscsi_get32(buf + VSCSI_HDR_LEN + 4);

			if (h.len > VSCSI_HDR_LEN + VSCSI_REPLY_LEN)
				log_debug("vscsi: %.*s",
					 (int)(h.len - VSCSI_HDR_LEN -
					       VSCSI_REPLY_LEN),
					 (const char *)buf + VSCSI_HDR_LEN +
						 VSCSI_REPLY_LEN);
			err = e ? -(int)e : -EPROTO;
			goto out_close;
		}
		if (h.type != VSCSI_MSG_HELLO ||
		    vscsi_hello_parse(buf + VSCSI_HDR_LEN,
				      h.len - VSCSI_HDR_LEN, &hello) < 0 ||
		    hello.version != VSCSI_WIRE_VERSION) {
			err = -EPROTO;
			goto out_close;
		}
		err = map_area(c, &hello, afd);
		afd = -1;	/* map_area took it */
		if (err)
			goto out_close;
		memcpy(c->info.name, hello.name, sizeof(c->info.name));
		c->info.targets = hello.targets;
		c->info.luns = hello.luns;
		c->info.openings = hello.openings;
		c->info.max_xfer = hello.max_xfer;
		c->info.version = hello.version;
		c->info.shm_slot = c->area ? hello.shm_slot : 0;
		c->info.shm_slots = c->area ? hello.shm_slots : 0;
		break;
	}
	if (c->info.max_xfer > (256u << 20)) {
		err = -EPROTO;
		goto out_close;
	}
	c->max_msg = c->info.max_xfer + VSCSI_MSG_OVERHEAD;
	*out = c;
	return 0;

out_close:
	if (afd >= 0)
		close(afd);
	if (c->area)
		munmap(c->area, c->area_len);
	close(c->fd);
out_free:
	free(c);
	return err;
}

void vscsi_client_close(struct vscsi_client *c)
{
	if (!c)
		return;
	close(c->fd);
	for (unsigned i = 0; i < (1u << CLIENT_HASH_BITS); i++)
		while (c->hash[i])
			cmd_free(c, c->hash[i]);
	if (c->area)
		munmap(c->area, c->area_len);
	free(c->rbuf);
	free(c->obuf);
	free(c);
}

const struct vscsi_info *vscsi_client_info(const struct vscsi_client *c)
{
	return &c->info;
}

int vscsi_client_fd(const struct vscsi_client *c)
{
	return c->fd;
}

unsigned vscsi_client_pending(const struct vscsi_client *c)
{
	return c->npending;
}

/* ---- the operations ---- */

static int pull_write(struct vscsi_client *c, struct vcmd *m, uint8_t *dst,
		      uint32_t len);
static int t2i_send(struct vscsi_client *c, struct vcmd *m,
		    enum vscsi_stat status, uint8_t scsi_status,
		    const uint8_t *sense, uint8_t sense_len);

int vscsi_i2t(struct vscsi_client *c, struct vscsi_i2t *out)
{
	struct vcmd *m;
	int err;

	for (;;) {
		if (!c->qhead) {
			err = pump(c);
			if (err)
				return err == -EPROTO ? -ECONNRESET : err;
		}
		if (c->dead)
			return c->dead;
		m = c->qhead;
		if (!m)
			return -EAGAIN;
		c->qhead = m->qnext;
		if (!c->qhead)
			c->qtail = NULL;
		m->qnext = NULL;
		c->npending--;
		if (m->aborted) {
			/* Taken back before anyone saw it (the SIM waits for
			 * a T2I to reuse its slot). */
			err = m->shm ? t2i_send(c, m, VSCSI_STAT_RESET, 0,
						NULL, 0)
				     : 0;
			cmd_free(c, m);
			if (err)
				return err;
			continue;
		}
		m->handed = true;
		*out = m->i;
		return 0;
	}
}

int vscsi_data_read(struct vscsi_client *c, uint32_t tag, const void *buf,
		    size_t len)
{
	struct vcmd *m = cmd_held(c, tag);

	if (!m)
		return -EFAULT;
	if (len > m->i.data_len - m->moved)
		return -ENOMEM;
	if (m->i.dir != VSCSI_DIR_READ)
		return -EINVAL;
	if (!m->data) {
		m->data = malloc(m->i.data_len);
		if (!m->data)
			return -ENOMEM;
	}
	memcpy(m->data + m->moved, buf, len);
	m->moved += (uint32_t)len;
	return 0;
}

int vscsi_data_write(struct vscsi_client *c, uint32_t tag, void *buf,
		     size_t len)
{
	struct vcmd *m = cmd_held(c, tag);

	if (!m)
		return -EFAULT;
	if (len > m->i.data_len - m->moved)
		return -ENOMEM;
	if (m->i.dir != VSCSI_DIR_WRITE)
		return -EINVAL;
	if (m->inl || m->shm) {
		if ((uint8_t *)buf != m->data + m->moved)
			memmove(buf, m->data + m->moved, len);
	} else {
		int err = pull_write(c, m, buf, (uint32_t)len);

		if (err)
			return err;
	}
	m->moved += (uint32_t)len;
	return 0;
}

void *vscsi_data_buffer(struct vscsi_client *c, uint32_t tag)
{
	struct vcmd *m = cmd_held(c, tag);

	if (!m) {
		errno = EFAULT;
		return NULL;
	}
	if (m->i.dir == VSCSI_DIR_NONE || m->i.data_len == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!m->data) {
		m->data = malloc(m->i.data_len);
		if (!m->data) {
			errno = ENOMEM;
			return NULL;
		}
	}
	return m->data;
}

int vscsi_data_commit(struct vscsi_client *c, uint32_t tag, size_t len)
{
	struct vcmd *m = cmd_held(c, tag);

	if (!m)
		return -EFAULT;
	if (len > m->i.data_len - m->moved)
		return -ENOMEM;
	if (m->i.dir == VSCSI_DIR_NONE || !m->data)
		return -EINVAL;
	if (m->i.dir == VSCSI_DIR_WRITE && !m->inl && !m->shm) {
		int err = pull_write(c, m, m->data + m->moved, (uint32_t)len);

		if (err)
			return err;
	}
	m->moved += (uint32_t)len;
	return 0;
}

/* Encode and send (or, corked, gather) the T2I of m.  Read data in the
 * area is named by reference; else it travels after the sense. */
static int t2i_send(struct vscsi_client *c, struct vcmd *m,
		    enum vscsi_stat status, uint8_t scsi_status,
		    const uint8_t *sense, uint8_t sense_len)
{
	uint8_t head[VSCSI_HDR_LEN + VSCSI_T2I_LEN + VSCSI_SHM_REF_LEN +
		     VSCSI_SENSE_MAX];
	bool rd = m->i.dir == VSCSI_DIR_READ && !m->aborted;
	bool shm = rd && m->shm;
	uint32_t dlen = rd && !shm ? m->moved : 0;
	struct vscsi_hdr h;
	struct iovec iov[2];
	size_t fixed;
	int err;

	fixed = vscsi_t2i_encode(head + VSCSI_HDR_LEN, (uint8_t)status,
				 status == VSCSI_STAT_DONE ? scsi_status : 0,
				 sense_len, shm ? VSCSI_T2I_F_SHM : 0,
				 shm ? (uint32_t)(m->data - c->area) : 0,
				 shm ? m->moved : 0);
	if (sense_len)
		memcpy(head + VSCSI_HDR_LEN + fixed, sense, sense_len);
	memset(&h, 0, sizeof(h));
	h.len = (uint32_t)(VSCSI_HDR_LEN + fixed + sense_len + dlen);
	h.type = VSCSI_MSG_T2I;
	h.tag = m->i.tag;
	vscsi_hdr_encode(head, &h);
	iov[0].iov_base = head;
	iov[0].iov_len = VSCSI_HDR_LEN + fixed + sense_len;
	iov[1].iov_base = m->data;
	iov[1].iov_len = dlen;
	if (c->corked && !c->dead) {
		err = obuf_append(c, iov, dlen ? 2 : 1);
		if (err == 0 && c->olen >= CLIENT_OBUF_FLUSH)
			err = vscsi_client_flush(c);
		else if (err) {
			/* No memory to gather: send in order, directly. */
			err = vscsi_client_flush(c);
			if (!err)
				err = send_all(c, iov, dlen ? 2 : 1);
		}
	} else {
		err = send_all(c, iov, dlen ? 2 : 1);
	}
	return err;
}

int vscsi_t2i(struct vscsi_client *c, const struct vscsi_t2i *t)
{
	struct vcmd *m = cmd_held(c, t->tag);
	int err = 0;

	if (!m)
		return -EFAULT;
	if ((unsigned)t->status > VSCSI_STAT_SELTIMEOUT ||
	    t->sense_len > VSCSI_SENSE_MAX)
		return -EINVAL;
	if (m->aborted) {
		/* The SIM finished it already; it only needs to hear that
		 * the command's slot of the area is free again. */
		if (m->shm)
			err = t2i_send(c, m, VSCSI_STAT_RESET, 0, NULL, 0);
	} else {
		err = t2i_send(c, m, t->status, t->scsi_status, t->sense,
			       t->status == VSCSI_STAT_SENSE ? t->sense_len
							     : 0);
	}
	cmd_free(c, m);
	return err;
}

/* Send msg (a whole message whose header names type and tag) and wait
 * for its answer: a REPLY, or for DATA_WRITE the WDATA that fills buf. */
static int request(struct vscsi_client *c, uint8_t *msg, size_t len,
		   uint8_t type, uint32_t tag, uint8_t *buf, uint32_t blen)
{
	struct iovec iov = {msg, len};
	uint64_t end;
	int err;

	if (c->wait_type || c->in_pump)
		return -EBUSY;	/* called from a handler: cannot wait here */
	err = vscsi_client_flush(c);	/* keep the order of what we sent */
	if (!err)
		err = send_all(c, &iov, 1);
	if (err)
		return err;
	c->wait_type = type;
	c->wait_id = tag;
	c->wait_buf = buf;
	c->wait_len = blen;
	c->wait_done = false;
	end = ev_now_ms() + CLIENT_REQ_TIMEOUT_MS;
	while (!c->wait_done) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int left = (int)(end - ev_now_ms());

		err = pump(c);
		if (err || c->wait_done)
			break;
		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, left) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
	}
	c->wait_type = 0;
	c->wait_id = 0;
	c->wait_buf = NULL;
	if (err)
		return err == -EPROTO ? -ECONNRESET : err;
	return c->wait_err;
}

static int devevent(struct vscsi_client *c, uint8_t type, uint32_t target,
		    uint64_t lun)
{
	uint8_t msg[VSCSI_HDR_LEN + VSCSI_DEVEV_LEN];
	struct vscsi_hdr h;

	if (target >= c->info.targets || lun >= c->info.luns)
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	h.len = sizeof(msg);
	h.type = type;
	h.flags = VSCSI_F_ACK;
	if (++c->next_req == 0)
		c->next_req = 1;
	h.tag = c->next_req;
	vscsi_hdr_encode(msg, &h);
	vscsi_devev_encode(msg + VSCSI_HDR_LEN, target, lun);
	return request(c, msg, sizeof(msg), type, h.tag, NULL, 0);
}

/* Pull the next len bytes of a WRITE command (not inline) from the SIM
 * into dst: DATA_WRITE, answered by WDATA (or a REPLY with the errno). */
static int pull_write(struct vscsi_client *c, struct vcmd *m, uint8_t *dst,
		      uint32_t len)
{
	uint8_t msg[VSCSI_HDR_LEN + VSCSI_DATA_WRITE_LEN];
	struct vscsi_hdr h;

	if (len == 0)
		return 0;
	memset(&h, 0, sizeof(h));
	h.len = sizeof(msg);
	h.type = VSCSI_MSG_DATA_WRITE;
	h.tag = m->i.tag;
	vscsi_hdr_encode(msg, &h);
	vscsi_put32(msg + VSCSI_HDR_LEN, len);
	return request(c, msg, sizeof(msg), VSCSI_MSG_DATA_WRITE, m->i.tag,
		       dst, len);
}

int vscsi_reqprobe(struct vscsi_client *c, uint32_t target, uint64_t lun)
{
	return devevent(c, VSCSI_MSG_REQPROBE, target, lun);
}

int vscsi_reqdetach(struct vscsi_client *c, uint32_t target, uint64_t lun)
{
	return devevent(c, VSCSI_MSG_REQDETACH, target, lun);
}

/* ---- the callback-driven loop ---- */

void vscsi_client_set_handler(struct vscsi_client *c,
			      const struct vscsi_handler *h, void *arg)
{
	if (h)
		c->h = *h;
	else
		memset(&c->h, 0, sizeof(c->h));
	c->harg = arg;
}

int vscsi_client_dispatch(struct vscsi_client *c)
{
	struct vscsi_i2t cmd;
	int err;

	if (!c->h.command)
		return -EINVAL;
	while ((err = vscsi_i2t(c, &cmd)) == 0)
		c->h.command(c, &cmd, c->harg);
	return err == -EAGAIN ? 0 : err;
}

int vscsi_client_run(struct vscsi_client *c)
{
	c->stop = false;
	while (!c->stop) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int err = vscsi_client_dispatch(c);

		if (err)
			return err;
		if (c->stop)
			break;
		err = vscsi_client_flush(c);
		if (err)
			return err;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

void vscsi_client_stop(struct vscsi_client *c)
{
	c->stop = true;
}
