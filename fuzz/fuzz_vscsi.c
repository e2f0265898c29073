/*
 * libFuzzer harness for the SIM side of the vscsi wire protocol: arbitrary
 * bytes arrive from the userland end of a live vscsi SIM (CAM bus
 * registered, one READ, one WRITE and one no-data command handed out), as
 * they would from the socket.  The SIM must answer or close, never crash,
 * never complete a command twice, and keep nothing after the teardown.
 *
 * Built with -DSK_FUZZ=ON and run by CTest (label fuzz) and by
 * fuzz/run-long.sh; docs/fuzzing.md has the commands.
 *
 * Tags of a fresh SIM with 16 CCBs are 0x10, 0x11, 0x12 (generation 1,
 * entries 0..2): the seeds below use them so the fuzzer starts deep.
 * The SIM has its shared data area (wire version 3; the HELLO's memfd is
 * dropped on our side, the SIM's mapping stays): slots of 8192 bytes, the
 * READ's at offset 0, the WRITE's at 8192, so T2Is with the SHM flag
 * reach the range checks (fuzz/mkseeds.py writes such seeds).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/vscsi.h>

#include "vscsi/sim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static int completions;

static void done(union ccb *ccb)
{
	completions++;
	if (ccb->ccb_h.periph_priv[1])
		abort(); /* completed twice */
	ccb->ccb_h.periph_priv[1] = ccb;
}

static union ccb *submit(struct vscsi_sim *s, uint32_t dir, uint8_t *buf,
			 uint32_t len)
{
	static const uint8_t cdb[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0};
	union ccb *ccb = xpt_alloc_ccb();

	xpt_setup_ccb(&ccb->ccb_h, (uint32_t)vscsi_sim_path_id(s), 1, 0,
		      XPT_SCSI_IO);
	cam_fill_csio(&ccb->csio, done, dir, MSG_SIMPLE_Q_TAG, buf, len, 32,
		      cdb, 10, 0);
	xpt_action(ccb);
	return ccb;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vscsi_sim_params p = {.ccbs = 16, .maxio = 8192};
	/* (the socket buffers hold far more than -max_len) */
	static uint8_t rbuf[8192], wbuf[8192];
	union ccb *ccbs[3];
	struct vscsi_sim *s;
	char err[128];
	int sv[2];

	if (!loop) {
		log_set_level(SK_LOG_ERR);
		loop = ev_loop_create();
	}
	s = vscsi_sim_create(&p, loop, err, sizeof(err));
	if (!s)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	vscsi_sim_attach_fd(s, sv[0]);
	completions = 0;
	ccbs[0] = submit(s, CAM_DIR_IN, rbuf, sizeof(rbuf));
	ccbs[1] = submit(s, CAM_DIR_OUT, wbuf, 4096);
	ccbs[2] = submit(s, CAM_DIR_NONE, NULL, 0);
	ev_loop_run_once(loop, 0);	/* hand them over */

	/* The input through the socket, in two writes, so that a message
	 * may straddle two reads as it can in life. */
	size_t half = size / 2;
	uint8_t sink[65536];

	if (send(sv[1], data, half, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    (ssize_t)half) {
		vscsi_conn_input(s);
		if (send(sv[1], data + half, size - half,
			 MSG_DONTWAIT | MSG_NOSIGNAL) ==
		    (ssize_t)(size - half))
			vscsi_conn_input(s);
	}
	/* Drain whatever the SIM answered so the socket never fills. */
	while (recv(sv[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	ev_loop_run_once(loop, 0);
	close(sv[1]);
	vscsi_sim_destroy(s);
	for (int i = 0; i < 8; i++)
		ev_loop_run_once(loop, 0);
	if (completions != 3)
		abort(); /* a command was lost or done twice */
	for (int i = 0; i < 3; i++)
		xpt_free_ccb(ccbs[i]);
	return 0;
}
