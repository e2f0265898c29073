/*
 * The shared data area of the vscsi SIM (wire version 3,
 * docs/vscsi-protocol.md "The data area"): a memfd the SIM creates for
 * each userland end and passes with HELLO (SCM_RIGHTS).  Slot i belongs to
 * CCB pool entry i, so a command's place in the area follows from its tag
 * and needs no allocator; the peer can name no other place without the
 * SIM noticing (vscsi_shm_check in sim_conn.c).
 *
 * Why slots of a fixed size: every command the SIM holds can have its data
 * in the area at once, with no allocation on the I/O path and no way for
 * one command to spill into another's data.  Size: 64 KiB per slot by
 * default covers the common transfers; larger ones keep the socket paths
 * (INLINE, DATA_WRITE, read data in the T2I).  The area is bounded by
 * VSCSI_SHM_AREA_MAX (entries past it have no slot); a memfd is sparse, so
 * only the pages that carried data cost memory.
 *
 * The area is sealed against shrinking (F_SEAL_SHRINK): a peer that
 * truncated it would otherwise make the SIM's next access fault.  The
 * peer can still change the bytes at any time; the SIM keeps nothing in
 * the area that it reads back as structure, only data, so that is the
 * peer's own business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <scsikit/log.h>

#include "vscsi/sim_int.h"

void vscsi_shm_config(struct vscsi_sim *s)
{
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
	uint32_t slot = s->p.shm_slot ? s->p.shm_slot : VSCSI_SHM_SLOT_DEFAULT;

	s->area = NULL;
	s->area_fd = -1;
	s->slot_size = s->nslots = 0;
	if (s->p.shm_slot == VSCSI_SHM_OFF)
		return;
	if (slot > s->p.maxio)
		slot = s->p.maxio;
	slot = (slot + page - 1) / page * page;
	s->slot_size = slot;
	s->nslots = VSCSI_SHM_AREA_MAX / slot;
	if (s->nslots > s->p.ccbs)
		s->nslots = s->p.ccbs;
}

int vscsi_shm_open(struct vscsi_sim *s)
{
	char name[40];
	uint64_t len = (uint64_t)s->slot_size * s->nslots;
	void *p;
	int fd;

	for (uint32_t i = 0; i < s->npool; i++)
		s->pool[i].qheld = false;
	if (len == 0)
		return 0;
	snprintf(name, sizeof(name), "%s%u-data", s->name, s->p.unit);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		goto fail;
	if (ftruncate(fd, (off_t)len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) <
		    0)
		goto fail_close;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail_close;
	s->area = p;
	s->area_len = len;
	s->area_fd = fd;
	return 0;

fail_close:
	close(fd);
fail:
	/* Not fatal: HELLO announces no area and the data goes by the
	 * socket, as it does for commands larger than a slot. */
	log_warn("%s%u: no shared data area (%s): data goes by the socket",
		 s->name, s->p.unit, strerror(errno));
	return 0;
}

void vscsi_shm_close(struct vscsi_sim *s)
{
	if (s->area)
		munmap(s->area, s->area_len);
	if (s->area_fd >= 0)
		close(s->area_fd);
	s->area = NULL;
	s->area_fd = -1;
	s->area_len = 0;
}

uint32_t vscsi_shm_held(const struct vscsi_sim *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->npool; i++)
		n += s->pool[i].qheld;
	return n;
}

int vscsi_shm_send_hello(struct vscsi_sim *s, const uint8_t *msg, size_t len)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {(void *)msg, len};
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (s->area_fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &s->area_fd, sizeof(int));
	}
	/* A fresh socket has room for the greeting: all of it or nothing. */
	do
		n = sendmsg(s->cfd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	/* The peer has its own reference now; the mapping keeps ours. */
	if (s->area_fd >= 0) {
		close(s->area_fd);
		s->area_fd = -1;
	}
	return 0;
}
