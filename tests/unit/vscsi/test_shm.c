/*
 * The vscsi SIM's shared data area (wire version 3) over a socketpair,
 * the test thread a hand-made userland end: the memfd that comes with
 * HELLO (sealed, as big as announced), write data already in the
 * command's slot, read data named by reference in the T2I, every bad
 * reference refused (another slot, past the area, more than the command
 * has, no slot, wrong direction, reference and socket data together),
 * the slot of an aborted command kept until the peer's T2I releases it,
 * and commands larger than a slot still on the socket.
 */
#include "vscsi_test.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <scsikit/scsi.h>

#define SLOT 4096u

struct shm_fix {
	struct vt_env e;
	int fd;
	uint8_t *area;
	size_t area_len;
	struct vscsi_hello hello;
	struct vt_msg *m;
};

static const uint8_t cdb_inq[6] = {SCSI_INQUIRY, 0, 0, 0, 96, 0};
static const uint8_t cdb_w10[10] = {0x2a, 0, 0, 0, 0, 1, 0, 0, 8, 0};

/* Take HELLO and its fd; map the area. */
static void take_hello(struct shm_fix *f)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	uint8_t msg[VSCSI_HDR_LEN + VSCSI_HELLO_LEN];
	struct iovec iov = {msg, sizeof(msg)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *cm;
	struct stat st;
	int afd = -1;

	assert_int_equal(recvmsg(f->fd, &mh, MSG_WAITALL), (ssize_t)sizeof(msg));
	assert_int_equal(msg[4], VSCSI_MSG_HELLO);
	assert_int_equal(vscsi_hello_parse(msg + VSCSI_HDR_LEN,
					   VSCSI_HELLO_LEN, &f->hello), 0);
	assert_int_equal(f->hello.version, 3);
	assert_int_equal(f->hello.shm_slot, SLOT);
	assert_int_equal(f->hello.shm_slots, 16);	/* one per CCB */
	cm = CMSG_FIRSTHDR(&mh);
	assert_non_null(cm);
	assert_int_equal(cm->cmsg_type, SCM_RIGHTS);
	memcpy(&afd, CMSG_DATA(cm), sizeof(afd));
	f->area_len = (size_t)SLOT * 16;
	assert_int_equal(fstat(afd, &st), 0);
	assert_int_equal(st.st_size, f->area_len);
	/* Sealed: the peer cannot shrink the area under the SIM. */
	assert_true(fcntl(afd, F_GET_SEALS) & F_SEAL_SHRINK);
	assert_int_equal(ftruncate(afd, 0), -1);
	f->area = mmap(NULL, f->area_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       afd, 0);
	assert_true(f->area != MAP_FAILED);
	close(afd);
}

static int setup(void **state)
{
	struct shm_fix *f = calloc(1, sizeof(*f));

	f->m = malloc(sizeof(*f->m));
	f->e.p.ccbs = 16;
	f->e.p.maxio = 64 * 1024;
	f->e.p.shm_slot = SLOT;
	vt_start(&f->e, false);
	f->fd = vt_attach(&f->e);
	take_hello(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct shm_fix *f = *state;

	close(f->fd);
	munmap(f->area, f->area_len);
	vt_finish(&f->e);
	free(f->m);
	free(f);
	return 0;
}

/* The next CMD: its tag and parsed body. */
static uint32_t next_cmd(struct shm_fix *f, struct vscsi_cmd_body *b)
{
	assert_true(vt_recv(f->fd, f->m, 2000));
	assert_int_equal(f->m->h.type, VSCSI_MSG_CMD);
	assert_int_equal(vscsi_cmd_parse(f->m->body, f->m->blen, b), 0);
	return f->m->h.tag;
}

static void send_t2i_shm(int fd, uint32_t tag, uint32_t off, uint32_t len,
			 const uint8_t *data, uint32_t dlen)
{
	uint8_t b[VSCSI_T2I_LEN + VSCSI_SHM_REF_LEN + 16];
	size_t n = vscsi_t2i_encode(b, VSCSI_STAT_DONE, 0, 0, VSCSI_T2I_F_SHM,
				    off, len);

	assert_true(dlen <= 16);
	if (dlen)
		memcpy(b + n, data, dlen);
	vt_send(fd, VSCSI_MSG_T2I, 0, tag, b, n + dlen);
}

static void test_write_in_area(void **state)
{
	struct shm_fix *f = *state;
	uint8_t pat[SLOT];
	struct vscsi_cmd_body b;
	struct vt_io *io;
	uint32_t tag, want;

	for (unsigned i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 1);
	io = vt_submit_data(&f->e, 1, 0, cdb_w10, 10, CAM_DIR_OUT, SLOT, pat);
	tag = next_cmd(f, &b);
	assert_int_equal(f->m->blen, VSCSI_CMD_LEN + VSCSI_SHM_REF_LEN);
	assert_int_equal(b.flags, VSCSI_CMD_F_SHM);
	assert_int_equal(b.shm_len, SLOT);
	/* The command's own slot (slot i is pool entry i). */
	want = (tag & 15) * SLOT;
	assert_int_equal(b.shm_off, want);
	assert_memory_equal(f->area + b.shm_off, pat, SLOT);
	/* The data counts as moved: nothing left to pull. */
	vt_send(f->fd, VSCSI_MSG_DATA_WRITE, 0, tag, "\1\0\0\0", 4);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_WRITE, tag, ENOMEM);
	/* A read reference for a WRITE is the wrong direction. */
	send_t2i_shm(f->fd, tag, b.shm_off, 0, NULL, 0);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, EINVAL);
	vt_send_t2i(f->fd, tag, VSCSI_STAT_DONE, 0, NULL, 0, 0, NULL, 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_CMP);
	assert_int_equal(io->ccb->csio.resid, 0);
	assert_int_equal(vt_stats(&f->e).shm_cmds, 1);
	vt_io_free(io);
}

static void test_read_by_reference(void **state)
{
	struct shm_fix *f = *state;
	struct vt_io *io = vt_submit(&f->e, 1, 0, cdb_inq, 6, CAM_DIR_IN, 96);
	struct vscsi_cmd_body b;
	uint32_t tag = next_cmd(f, &b);
	uint32_t own = (tag & 15) * SLOT;
	uint32_t other = ((tag + 1) & 15) * SLOT;

	assert_int_equal(b.flags, VSCSI_CMD_F_SHM);
	assert_int_equal(b.shm_off, own);
	for (unsigned i = 0; i < 96; i++)
		f->area[own + 40 + i] = (uint8_t)(0xc0 ^ i);
	/* Bad references, each refused, nothing changed. */
	send_t2i_shm(f->fd, tag, other, 8, NULL, 0);	/* another slot */
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, ERANGE);
	send_t2i_shm(f->fd, tag, own + SLOT - 4, 8, NULL, 0); /* straddles */
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, ERANGE);
	send_t2i_shm(f->fd, tag, 0xfffffff0u, 32, NULL, 0); /* past the area */
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, ERANGE);
	send_t2i_shm(f->fd, tag, own, 97, NULL, 0);	/* more than asked */
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, ENOMEM);
	send_t2i_shm(f->fd, tag, own, 4, (const uint8_t *)"abcd", 4);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, EINVAL); /* both ways */
	vt_send(f->fd, VSCSI_MSG_T2I, 0, tag, "\0\0\0\1\0\0\0\0\0\0", 10);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, EINVAL); /* short ref */
	assert_int_equal(vt_stats(&f->e).errors, 6);
	/* Anywhere in its own slot is fine: 50 bytes from offset 40. */
	send_t2i_shm(f->fd, tag, own + 40, 50, NULL, 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_CMP);
	assert_int_equal(io->ccb->csio.resid, 46);
	assert_memory_equal(io->data, f->area + own + 40, 50);
	vt_io_free(io);
}

static void test_larger_than_slot(void **state)
{
	struct shm_fix *f = *state;
	struct vt_io *io = vt_submit(&f->e, 1, 0, cdb_inq, 6, CAM_DIR_IN,
				     SLOT + 512);
	struct vscsi_cmd_body b;
	uint32_t tag = next_cmd(f, &b);
	uint8_t data[16] = "socket data.....";

	/* No slot: the data goes by the socket, a reference is refused. */
	assert_int_equal(b.flags, 0);
	send_t2i_shm(f->fd, tag, (tag & 15) * SLOT, 8, NULL, 0);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, EINVAL);
	vt_send_t2i(f->fd, tag, VSCSI_STAT_DONE, 0, NULL, 0, 0, data, 16);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_CMP);
	assert_int_equal(io->ccb->csio.resid, SLOT + 512 - 16);
	assert_memory_equal(io->data, data, 16);
	vt_io_free(io);
}

static void test_abort_holds_slot(void **state)
{
	struct shm_fix *f = *state;
	struct vt_io *io = vt_submit(&f->e, 1, 0, cdb_inq, 6, CAM_DIR_IN, 96);
	struct vscsi_cmd_body b;
	uint32_t tag = next_cmd(f, &b), t2;

	assert_int_equal(cam_ccb_status(vt_abort(&f->e, io->ccb)), CAM_REQ_CMP);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_ABORTED);
	vt_io_free(io);
	assert_true(vt_recv(f->fd, f->m, 2000));
	assert_int_equal(f->m->h.type, VSCSI_MSG_ABORT);
	assert_int_equal(vt_stats(&f->e).shm_held, 1);
	/* Cycle the pool (16 entries, taken in order) back to the entry:
	 * it serves again, but not through the slot we may still use. */
	for (int i = 0; i < 16; i++) {
		io = vt_submit(&f->e, 1, 0, cdb_inq, 6, CAM_DIR_IN, 96);
		t2 = next_cmd(f, &b);
		assert_int_equal(b.flags,
				 (t2 & 15) == (tag & 15) ? 0 : VSCSI_CMD_F_SHM);
		vt_send_t2i(f->fd, t2, VSCSI_STAT_DONE, 0, NULL, 0, 0, NULL,
			    0);
		assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_CMP);
		vt_io_free(io);
	}
	/* Our T2I for the aborted tag releases the slot, silently: the
	 * next REPLY is for the unknown tag sent after it. */
	vt_send_t2i(f->fd, tag, VSCSI_STAT_RESET, 0, NULL, 0, 0, NULL, 0);
	vt_send_t2i(f->fd, 0x7777777, VSCSI_STAT_DONE, 0, NULL, 0, 0, NULL, 0);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, 0x7777777, EFAULT);
	assert_int_equal(vt_stats(&f->e).shm_held, 0);
	/* Released once: the same T2I again is unknown. */
	vt_send_t2i(f->fd, tag, VSCSI_STAT_RESET, 0, NULL, 0, 0, NULL, 0);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, EFAULT);
}

static void test_new_area_per_end(void **state)
{
	struct shm_fix *f = *state;
	uint8_t *old = f->area;

	/* The next end gets a fresh area: what the previous one may still
	 * write into its mapping reaches nobody. */
	old[0] = 0x99;
	close(f->fd);
	vt_wait_state(&f->e, VSCSI_S_CLOSED);
	f->fd = vt_attach(&f->e);
	take_hello(f);
	assert_int_equal(f->area[0], 0);
	munmap(old, f->area_len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_in_area, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_by_reference, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_larger_than_slot, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_abort_holds_slot, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_new_area_per_end, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
