/*
 * iSCSI text key parsing and building (see text.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iscsi/text.h"

int iscsi_text_parse(const char *buf, size_t len, struct iscsi_kv *kv,
		     unsigned max)
{
	size_t i = 0;
	unsigned n = 0;

	while (i < len) {
		/* NUL padding between or after pairs is tolerated. */
		if (buf[i] == '\0') {
			i++;
			continue;
		}
		const char *start = buf + i;
		const char *end = memchr(start, '\0', len - i);
		if (end == NULL)
			return -EINVAL;
		const char *eq = memchr(start, '=', (size_t)(end - start));
		if (eq == NULL || eq == start)
			return -EINVAL;
		size_t klen = (size_t)(eq - start);
		size_t vlen = (size_t)(end - eq - 1);
		if (klen > ISCSI_KEY_MAX || vlen > ISCSI_VALUE_MAX)
			return -EINVAL;
		if (n >= max)
			return -E2BIG;
		memcpy(kv[n].key, start, klen);
		kv[n].key[klen] = '\0';
		kv[n].value = eq + 1;
		kv[n].value_len = (uint32_t)vlen;
		n++;
		i = (size_t)(end - buf) + 1;
	}
	return (int)n;
}

const struct iscsi_kv *iscsi_text_find(const struct iscsi_kv *kv, unsigned n,
				       const char *key)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return &kv[i];
	return NULL;
}

void iscsi_text_out_init(struct iscsi_text_out *o, char *buf, size_t cap)
{
	o->buf = buf;
	o->len = 0;
	o->cap = cap;
	o->overflow = false;
}

void iscsi_text_add(struct iscsi_text_out *o, const char *key,
		    const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);

	if (o->len + kl + vl + 2 > o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, key, kl);
	o->buf[o->len + kl] = '=';
	memcpy(o->buf + o->len + kl + 1, value, vl);
	o->buf[o->len + kl + 1 + vl] = '\0';
	o->len += kl + vl + 2;
}

void iscsi_text_addf(struct iscsi_text_out *o, const char *key,
		     const char *fmt, ...)
{
	char v[ISCSI_VALUE_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	int r = vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(v)) {
		o->overflow = true;
		return;
	}
	iscsi_text_add(o, key, v);
}

bool iscsi_text_list_next(const char **pos, char *item, size_t itemlen)
{
	const char *p = *pos;

	if (p == NULL || *p == '\0')
		return false;
	const char *comma = strchr(p, ',');
	size_t n = comma ? (size_t)(comma - p) : strlen(p);
	size_t c = n < itemlen - 1 ? n : itemlen - 1;
	memcpy(item, p, c);
	item[c] = '\0';
	*pos = comma ? comma + 1 : p + n;
	return true;
}

int iscsi_text_number(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

int iscsi_text_bool(const char *s)
{
	if (strcmp(s, "Yes") == 0)
		return 1;
	if (strcmp(s, "No") == 0)
		return 0;
	return -EINVAL;
}
