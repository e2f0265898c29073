/*
 * CHAP computations and value encodings (see chap.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "iscsi/chap.h"
#include "iscsi/hash.h"
#include "iscsi/text.h"

unsigned iscsi_chap_digest_len(int alg)
{
	switch (alg) {
	case ISCSI_CHAP_MD5:
		return MD5_DIGEST_LEN;
	case ISCSI_CHAP_SHA256:
		return SHA256_DIGEST_LEN;
	default:
		return 0;
	}
}

int iscsi_chap_select(const char *offer_list)
{
	const char *pos = offer_list;
	char item[16];

	while (iscsi_text_list_next(&pos, item, sizeof(item))) {
		uint64_t v;
		if (iscsi_text_number(item, &v) == 0 && v <= 255 &&
		    iscsi_chap_digest_len((int)v) != 0)
			return (int)v;
	}
	return -1;
}

int iscsi_chap_response(int alg, uint8_t id, const void *secret,
			size_t secret_len, const uint8_t *challenge,
			size_t challenge_len, uint8_t *out)
{
	if (alg == ISCSI_CHAP_MD5) {
		struct md5_ctx c;
		md5_init(&c);
		md5_update(&c, &id, 1);
		md5_update(&c, secret, secret_len);
		md5_update(&c, challenge, challenge_len);
		md5_final(&c, out);
		return MD5_DIGEST_LEN;
	}
	if (alg == ISCSI_CHAP_SHA256) {
		struct sha256_ctx c;
		sha256_init(&c);
		sha256_update(&c, &id, 1);
		sha256_update(&c, secret, secret_len);
		sha256_update(&c, challenge, challenge_len);
		sha256_final(&c, out);
		return SHA256_DIGEST_LEN;
	}
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int iscsi_chap_decode(const char *s, uint8_t *out, size_t outmax)
{
	size_t n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		size_t len = strlen(s);
		if (len == 0)
			return -EINVAL;
		/* An odd digit count has an implied leading zero. */
		size_t i = 0;
		if (len & 1) {
			int v = hexval(s[0]);
			if (v < 0 || outmax < 1)
				return -EINVAL;
			out[n++] = (uint8_t)v;
			i = 1;
		}
		for (; i < len; i += 2) {
			int hi = hexval(s[i]), lo = hexval(s[i + 1]);
			if (hi < 0 || lo < 0 || n >= outmax)
				return -EINVAL;
			out[n++] = (uint8_t)(hi << 4 | lo);
		}
		return (int)n;
	}
	if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		uint32_t acc = 0;
		int bits = 0;
		s += 2;
		if (*s == '\0')
			return -EINVAL;
		for (; *s != '\0' && *s != '='; s++) {
			int v = b64val(*s);
			if (v < 0)
				return -EINVAL;
			acc = (acc << 6) | (uint32_t)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				if (n >= outmax)
					return -EINVAL;
				out[n++] = (uint8_t)(acc >> bits);
			}
		}
		while (*s == '=')
			s++;
		if (*s != '\0')
			return -EINVAL;
		return (int)n;
	}
	return -EINVAL;
}

void iscsi_chap_encode_hex(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	*out++ = '0';
	*out++ = 'x';
	for (size_t i = 0; i < len; i++) {
		*out++ = hex[in[i] >> 4];
		*out++ = hex[in[i] & 15];
	}
	*out = '\0';
}

bool iscsi_chap_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t d = 0;

	for (size_t i = 0; i < len; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

int iscsi_chap_random(uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = getrandom(buf + got, len - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)r;
	}
	if (got == len)
		return 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r <= 0) {
			close(fd);
			return -EIO;
		}
		got += (size_t)r;
	}
	close(fd);
	return 0;
}
