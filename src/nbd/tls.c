/*
 * TLS sessions of NBD connections, with GnuTLS (see tls.h).
 *
 * Credentials, as nbdkit and qemu-nbd take them:
 *   - X.509: DIR/server-cert.pem and DIR/server-key.pem; DIR/ca-cert.pem,
 *     when present, is the CA that client certificates must be signed by
 *     (asked for, and required, with verify_peer);
 *   - PSK: a file of "identity:hex-key" lines, as psktool writes it.
 * Either or both.  Protocol versions: TLS 1.2 and 1.3 only (the NBD
 * protocol document asks for 1.2 at least and nothing older by default).
 *
 * The session reads and writes the socket through our own push/pull
 * functions: pull first hands GnuTLS the bytes the client sent right after
 * STARTTLS that the connection had already read (bounded by the
 * connection's input buffer), and push never raises SIGPIPE.  Both are
 * non-blocking.  After GNUTLS_E_AGAIN on a send, GnuTLS keeps the record it
 * encrypted; the next write first completes it (gnutls_record_send with no
 * data), and the connection's output queue still starts with those bytes,
 * since nothing was acknowledged as written.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "nbd/tls.h"

#ifdef SK_HAVE_GNUTLS

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define TLS_PRIO_X509 "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define TLS_PRIO_PSK TLS_PRIO_X509 ":+ECDHE-PSK:+DHE-PSK:+PSK"
#define TLS_PRE_MAX (64u * 1024)

struct nbd_tls_creds {
	gnutls_certificate_credentials_t x509;	/* NULL: no certificate */
	gnutls_psk_server_credentials_t psk;	/* NULL: no PSK */
	gnutls_priority_t prio;
	bool verify_peer;
};

struct nbd_tls {
	gnutls_session_t s;
	struct nbd_tls_creds *cr;
	int fd;
	uint8_t *pre;		/* bytes read before the session existed */
	size_t prelen, preoff;
	bool send_blocked;	/* a record waits to be sent (EAGAIN) */
	bool eof;
};

bool nbd_tls_supported(void)
{
	return true;
}

static int file_readable(const char *path, char *err, size_t errlen)
{
	if (access(path, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "TLS: %s: %s", path, strerror(errno));
	return -1;
}

static int load_x509(struct nbd_tls_creds *cr, const char *dir, char *err,
		     size_t errlen)
{
	char cert[4096], key[4096], ca[4096];
	int r;

	if ((size_t)snprintf(cert, sizeof(cert), "%s/server-cert.pem", dir) >=
		    sizeof(cert) ||
	    (size_t)snprintf(key, sizeof(key), "%s/server-key.pem", dir) >=
		    sizeof(key) ||
	    (size_t)snprintf(ca, sizeof(ca), "%s/ca-cert.pem", dir) >=
		    sizeof(ca)) {
		snprintf(err, errlen, "certificate directory name too long");
		return -1;
	}
	if (file_readable(cert, err, errlen) < 0 ||
	    file_readable(key, err, errlen) < 0)
		return -1;
	if (gnutls_certificate_allocate_credentials(&cr->x509) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r = gnutls_certificate_set_x509_key_file(cr->x509, cert, key,
						 GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		snprintf(err, errlen, "%s, %s: %s", cert, key,
			 gnutls_strerror(r));
		return -1;
	}
	if (access(ca, R_OK) == 0) {
		r = gnutls_certificate_set_x509_trust_file(cr->x509, ca,
							   GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", ca, gnutls_strerror(r));
			return -1;
		}
	} else if (cr->verify_peer) {
		snprintf(err, errlen, "verifying client certificates needs "
			 "%s: %s", ca, strerror(errno));
		return -1;
	}
	return 0;
}

static int load_psk(struct nbd_tls_creds *cr, const char *path, char *err,
		    size_t errlen)
{
	struct stat st;
	int r;

	if (file_readable(path, err, errlen) < 0)
		return -1;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		log_warn("nbd: PSK file %s is readable by others; make it "
			 "mode 0600", path);
	if (gnutls_psk_allocate_server_credentials(&cr->psk) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* GnuTLS reads the file at each handshake: keys can be added or
	 * revoked without a restart. */
	r = gnutls_psk_set_server_credentials_file(cr->psk, path);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, gnutls_strerror(r));
		return -1;
	}
	return 0;
}

int nbd_tls_creds_load(const struct nbd_tls_opts *o,
		       struct nbd_tls_creds **out, char *err, size_t errlen)
{
	struct nbd_tls_creds *cr;
	const char *pos;
	int r;

	if ((o->certs_dir == NULL || !o->certs_dir[0]) &&
	    (o->psk_file == NULL || !o->psk_file[0])) {
		snprintf(err, errlen, "TLS needs a certificate directory "
			 "(--nbd-tls-certificates DIR) or a PSK file "
			 "(--nbd-tls-psk-file FILE)");
		return -1;
	}
	cr = calloc(1, sizeof(*cr));
	if (cr == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cr->verify_peer = o->verify_peer;
	if (o->verify_peer && (o->certs_dir == NULL || !o->certs_dir[0])) {
		snprintf(err, errlen, "verifying client certificates needs a "
			 "certificate directory with ca-cert.pem");
		goto out_free;
	}
	if (o->certs_dir && o->certs_dir[0] &&
	    load_x509(cr, o->certs_dir, err, errlen) < 0)
		goto out_free;
	if (o->psk_file && o->psk_file[0] &&
	    load_psk(cr, o->psk_file, err, errlen) < 0)
		goto out_free;
	r = gnutls_priority_init(&cr->prio,
				 cr->psk ? TLS_PRIO_PSK : TLS_PRIO_X509, &pos);
	if (r < 0) {
		snprintf(err, errlen, "TLS priorities: %s", gnutls_strerror(r));
		goto out_free;
	}
	*out = cr;
	return 0;

out_free:
	nbd_tls_creds_free(cr);
	return -1;
}

void nbd_tls_creds_free(struct nbd_tls_creds *cr)
{
	if (cr == NULL)
		return;
	if (cr->prio)
		gnutls_priority_deinit(cr->prio);
	if (cr->x509)
		gnutls_certificate_free_credentials(cr->x509);
	if (cr->psk)
		gnutls_psk_free_server_credentials(cr->psk);
	free(cr);
}

/* ---- transport ---- */

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct nbd_tls *t = p;
	ssize_t r;

	if (t->preoff < t->prelen) {
		size_t n = t->prelen - t->preoff;

		if (n > len)
			n = len;
		memcpy(buf, t->pre + t->preoff, n);
		t->preoff += n;
		return (ssize_t)n;
	}
	r = recv(t->fd, buf, len, 0);
	if (r < 0)
		gnutls_transport_set_errno(t->s, errno);
	return r;
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *buf,
			size_t len)
{
	struct nbd_tls *t = p;
	ssize_t r = send(t->fd, buf, len, MSG_NOSIGNAL);

	if (r < 0)
		gnutls_transport_set_errno(t->s, errno);
	return r;
}

/* Never waits: the reactor does the waiting. */
static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	struct nbd_tls *t = p;
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };

	(void)ms;
	if (t->preoff < t->prelen)
		return 1;
	return poll(&pfd, 1, 0);
}

struct nbd_tls *nbd_tls_new(struct nbd_tls_creds *cr, int fd,
			    const void *pre, size_t prelen)
{
	struct nbd_tls *t;

	if (prelen > TLS_PRE_MAX)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->cr = cr;
	t->fd = fd;
	if (prelen) {
		t->pre = malloc(prelen);
		if (t->pre == NULL)
			goto out_free;
		memcpy(t->pre, pre, prelen);
		t->prelen = prelen;
	}
	if (gnutls_init(&t->s, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0) {
		t->s = NULL;
		goto out_free;
	}
	if (gnutls_priority_set(t->s, cr->prio) < 0 ||
	    (cr->x509 && gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE,
						 cr->x509) < 0) ||
	    (cr->psk && gnutls_credentials_set(t->s, GNUTLS_CRD_PSK,
						cr->psk) < 0))
		goto out_free;
	if (cr->x509)
		gnutls_certificate_server_set_request(
			t->s, cr->verify_peer ? GNUTLS_CERT_REQUIRE
					      : GNUTLS_CERT_IGNORE);
	/* The connection's handshake timer bounds the whole negotiation. */
	gnutls_handshake_set_timeout(t->s, 0);
	gnutls_transport_set_ptr(t->s, t);
	gnutls_transport_set_pull_function(t->s, tls_pull);
	gnutls_transport_set_push_function(t->s, tls_push);
	gnutls_transport_set_pull_timeout_function(t->s, tls_pull_timeout);
	return t;

out_free:
	nbd_tls_free(t);
	return NULL;
}

void nbd_tls_free(struct nbd_tls *t)
{
	if (t == NULL)
		return;
	if (t->s)
		gnutls_deinit(t->s);
	free(t->pre);
	free(t);
}

static int tls_wait_dir(struct nbd_tls *t)
{
	return gnutls_record_get_direction(t->s) ? EV_WRITE : EV_READ;
}

int nbd_tls_handshake(struct nbd_tls *t, const char **why)
{
	unsigned status;
	int r;

	do {
		r = gnutls_handshake(t->s);
	} while (r == GNUTLS_E_INTERRUPTED ||
		 (r < 0 && r != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(r)));
	if (r == GNUTLS_E_AGAIN)
		return tls_wait_dir(t);
	if (r < 0) {
		*why = gnutls_strerror(r);
		return -1;
	}
	if (t->cr->verify_peer &&
	    gnutls_auth_get_type(t->s) == GNUTLS_CRD_CERTIFICATE) {
		r = gnutls_certificate_verify_peers2(t->s, &status);
		if (r < 0 || status != 0) {
			*why = r < 0 ? gnutls_strerror(r)
				     : "client certificate not trusted";
			return -1;
		}
	}
	return 0;
}

ssize_t nbd_tls_readv(struct nbd_tls *t, const struct iovec *v, int n)
{
	ssize_t total = 0;

	if (t->eof)
		return 0;
	for (int i = 0; i < n; i++) {
		size_t off = 0;

		while (off < v[i].iov_len) {
			ssize_t r = gnutls_record_recv(
				t->s, (uint8_t *)v[i].iov_base + off,
				v[i].iov_len - off);

			if (r > 0) {
				off += (size_t)r;
				total += r;
				continue;
			}
			if (r == GNUTLS_E_INTERRUPTED)
				continue;
			if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION) {
				t->eof = true;
				return total;
			}
			if (r == GNUTLS_E_AGAIN) {
				if (total)
					return total;
				errno = EAGAIN;
				return -1;
			}
			/* Anything else (a bad record, a renegotiation
			 * attempt, an alert): the session is over. */
			log_debug("nbd: TLS receive: %s",
				  gnutls_strerror((int)r));
			if (total)
				return total;
			errno = EPROTO;
			return -1;
		}
	}
	return total;
}

ssize_t nbd_tls_writev(struct nbd_tls *t, const struct iovec *v, int n)
{
	size_t total = 0, skip = 0;
	ssize_t r;

	if (t->send_blocked) {
		r = gnutls_record_send(t->s, NULL, 0);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			errno = EAGAIN;
			return -1;
		}
		if (r < 0) {
			errno = EPIPE;
			return -1;
		}
		t->send_blocked = false;
		total = skip = (size_t)r;
	}
	for (int i = 0; i < n; i++) {
		size_t off = 0;

		if (skip >= v[i].iov_len) {
			skip -= v[i].iov_len;
			continue;
		}
		off = skip;
		skip = 0;
		while (off < v[i].iov_len) {
			r = gnutls_record_send(t->s,
					       (const uint8_t *)v[i].iov_base +
						       off,
					       v[i].iov_len - off);
			if (r > 0) {
				off += (size_t)r;
				total += (size_t)r;
				continue;
			}
			if (r == GNUTLS_E_INTERRUPTED)
				continue;
			if (r == GNUTLS_E_AGAIN) {
				/* GnuTLS holds the record: it is sent first
				 * next time, and these bytes stay queued. */
				t->send_blocked = true;
				if (total)
					return (ssize_t)total;
				errno = EAGAIN;
				return -1;
			}
			if (total)
				return (ssize_t)total;
			errno = EPIPE;
			return -1;
		}
	}
	return (ssize_t)total;
}

bool nbd_tls_pending(struct nbd_tls *t)
{
	return !t->eof && gnutls_record_check_pending(t->s) > 0;
}

void nbd_tls_describe(struct nbd_tls *t, char *buf, size_t len)
{
	const char *ver = gnutls_protocol_get_name(
		gnutls_protocol_get_version(t->s));
	const char *user = gnutls_auth_get_type(t->s) == GNUTLS_CRD_PSK
				   ? gnutls_psk_server_get_username(t->s)
				   : NULL;

	snprintf(buf, len, "%s %s%s", ver ? ver : "TLS",
		 user ? "PSK " : "X.509", user ? user : "");
}

#else /* !SK_HAVE_GNUTLS */

bool nbd_tls_supported(void)
{
	return false;
}

int nbd_tls_creds_load(const struct nbd_tls_opts *o,
		       struct nbd_tls_creds **out, char *err, size_t errlen)
{
	(void)o;
	*out = NULL;
	snprintf(err, errlen, "this scsikit was built without GnuTLS: NBD "
		 "TLS is not available (install libgnutls28-dev and rebuild)");
	return -1;
}

void nbd_tls_creds_free(struct nbd_tls_creds *cr)
{
	(void)cr;
}

/* Without credentials no connection reaches STARTTLS's ACK, so no session
 * is ever asked for; these only fail. */
struct nbd_tls *nbd_tls_new(struct nbd_tls_creds *cr, int fd,
			    const void *pre, size_t prelen)
{
	(void)cr, (void)fd, (void)pre, (void)prelen;
	return NULL;
}

void nbd_tls_free(struct nbd_tls *t)
{
	(void)t;
}

int nbd_tls_handshake(struct nbd_tls *t, const char **why)
{
	(void)t;
	*why = "built without GnuTLS";
	return -1;
}

ssize_t nbd_tls_readv(struct nbd_tls *t, const struct iovec *v, int n)
{
	(void)t, (void)v, (void)n;
	errno = EPROTO;
	return -1;
}

ssize_t nbd_tls_writev(struct nbd_tls *t, const struct iovec *v, int n)
{
	(void)t, (void)v, (void)n;
	errno = EPROTO;
	return -1;
}

bool nbd_tls_pending(struct nbd_tls *t)
{
	(void)t;
	return false;
}

void nbd_tls_describe(struct nbd_tls *t, char *buf, size_t len)
{
	(void)t;
	snprintf(buf, len, "no TLS");
}

#endif /* SK_HAVE_GNUTLS */
