// SPDX-License-Identifier: GPL-2.0-or-later
/* Range-set objects (see setobj.h). */
#include "setobj.h"
#include "statestore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

static void put_addr(uint8_t *p, u128 v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static u128 get_addr(const uint8_t *p, size_t n)
{
	u128 v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void header_magic(uint8_t h[SETOBJ_HDR], const char *magic, enum cidr_family f, size_t n)
{
	memset(h, 0, SETOBJ_HDR);
	memcpy(h, magic, 8);
	h[8] = (uint8_t)f;
	put_addr(h + 16, n, 8);
}

static void header(uint8_t h[SETOBJ_HDR], enum cidr_family f, size_t n)
{
	memset(h, 0, SETOBJ_HDR);
	memcpy(h, SETOBJ_MAGIC, 8);
	h[8] = (uint8_t)f;
	put_addr(h + 16, n, 8);
}

/* Encode ranges [from, from + n) into p (n * 2 * kl bytes). */
static void put_ranges(uint8_t *p, const struct range *r, size_t n, size_t kl)
{
	if (kl == 4) {
		for (size_t i = 0; i < n; i++, p += 8) {
			uint32_t lo = (uint32_t)r[i].lo, hi = (uint32_t)r[i].hi;

			p[0] = (uint8_t)lo;
			p[1] = (uint8_t)(lo >> 8);
			p[2] = (uint8_t)(lo >> 16);
			p[3] = (uint8_t)(lo >> 24);
			p[4] = (uint8_t)hi;
			p[5] = (uint8_t)(hi >> 8);
			p[6] = (uint8_t)(hi >> 16);
			p[7] = (uint8_t)(hi >> 24);
		}
		return;
	}
	for (size_t i = 0; i < n; i++, p += 32) {
		put_addr(p, r[i].lo, 16);
		put_addr(p + 16, r[i].hi, 16);
	}
}

static int encode(const char *magic, enum cidr_family f, const struct rangeset *rs, char **buf,
		  size_t *len)
{
	size_t kl = f == CIDR_V4 ? 4 : 16, sz = setobj_size(f, rs->n);
	uint8_t *p = malloc(sz);

	if (!p)
		return -ENOMEM;
	header_magic(p, magic, f, rs->n);
	put_ranges(p + SETOBJ_HDR, rs->r, rs->n, kl);
	*buf = (char *)p;
	*len = sz;
	return 0;
}

int setobj_encode(enum cidr_family f, const struct rangeset *rs, char **buf, size_t *len)
{
	return encode(SETOBJ_MAGIC, f, rs, buf, len);
}

int setobj_encode_multi(enum cidr_family f, const struct rangeset *rs, char **buf, size_t *len)
{
	return encode(SETOBJ_MULTI_MAGIC, f, rs, buf, len);
}

int setobj_digest_multi(enum cidr_family f, const struct rangeset *rs, uint8_t out[32])
{
	char *buf;
	size_t len;
	unsigned mdlen = 0;
	int ok;

	if (encode(SETOBJ_MULTI_MAGIC, f, rs, &buf, &len) < 0)
		return -ENOMEM;
	ok = EVP_Digest(buf, len, out, &mdlen, EVP_sha256(), NULL) && mdlen == 32;
	free(buf);
	return ok ? 0 : -ENOMEM;
}

int setobj_digest_clip(enum cidr_family f, const struct range *r, size_t n, u128 lo, u128 hi,
		       uint8_t out[32])
{
	size_t kl = f == CIDR_V4 ? 4 : 16, per = 2 * kl, step = 4096 / per;
	uint8_t h[SETOBJ_HDR], chunk[4096];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned mdlen = 0;
	int ok;

	if (!c)
		return -ENOMEM;
	header(h, f, n);
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, h, sizeof(h));
	for (size_t i = 0; ok && i < n; i += step) {
		size_t k = n - i < step ? n - i : step;

		put_ranges(chunk, r + i, k, kl);
		/* only the first and last range can stick out of the block */
		if (i == 0 && r[0].lo < lo)
			put_addr(chunk, lo, kl);
		if (i + k == n && r[n - 1].hi > hi)
			put_addr(chunk + (k - 1) * per + kl, hi, kl);
		ok = EVP_DigestUpdate(c, chunk, k * per);
	}
	ok = ok && EVP_DigestFinal_ex(c, out, &mdlen) && mdlen == 32;
	EVP_MD_CTX_free(c);
	return ok ? 0 : -ENOMEM;
}

int setobj_digest(enum cidr_family f, const struct rangeset *rs, uint8_t out[32])
{
	return setobj_digest_clip(f, rs->r, rs->n, 0, cidr_max(f), out);
}

static int decode(const char *magic, const void *buf, size_t len, enum cidr_family *fp,
		  struct rangeset *rs)
{
	bool multi = !strcmp(magic, SETOBJ_MULTI_MAGIC);
	const uint8_t *p = buf;
	enum cidr_family f;
	size_t kl;
	u128 n;

	rangeset_init(rs);
	if (len < SETOBJ_HDR || memcmp(p, magic, 8) || (p[8] != 4 && p[8] != 6))
		return -EINVAL;
	for (int i = 9; i < 16; i++)
		if (p[i])
			return -EINVAL;
	f = p[8] == 4 ? CIDR_V4 : CIDR_V6;
	kl = f == CIDR_V4 ? 4 : 16;
	n = get_addr(p + 16, 8);
	if (n > SETOBJ_MAX_RANGES || len - SETOBJ_HDR != (size_t)n * 2 * kl)
		return -EINVAL;
	if (rangeset_reserve(rs, (size_t)n ? (size_t)n : 1) < 0)
		return -ENOMEM;
	p += SETOBJ_HDR;
	for (size_t i = 0; i < (size_t)n; i++, p += 2 * kl) {
		struct range *r = &rs->r[i];

		r->lo = get_addr(p, kl);
		r->hi = get_addr(p + kl, kl);
		/* a set: ascending and disjoint; a multiset: sorted by (first, last) */
		if (r->lo > r->hi || (i && !multi && r->lo <= r[-1].hi) ||
		    (i && multi && (r->lo < r[-1].lo || (r->lo == r[-1].lo && r->hi < r[-1].hi)))) {
			rangeset_fini(rs);
			return -EINVAL;
		}
		rs->n++;
	}
	*fp = f;
	return 0;
}

int setobj_decode(const void *buf, size_t len, enum cidr_family *fp, struct rangeset *rs)
{
	return decode(SETOBJ_MAGIC, buf, len, fp, rs);
}

int setobj_decode_multi(const void *buf, size_t len, enum cidr_family *fp, struct rangeset *rs)
{
	return decode(SETOBJ_MULTI_MAGIC, buf, len, fp, rs);
}

static int load(int at, const char *path, const uint8_t want[32], enum cidr_family f, bool multi,
		struct rangeset *rs)
{
	uint8_t md[32];
	unsigned mdlen = 0;
	enum cidr_family got;
	char *buf;
	size_t have = 0;
	int ret;

	rangeset_init(rs);
	/* no link followed, a regular file of a size a set can have; a short read fails the digest */
	ret = statestore_read(at, path, setobj_size(CIDR_V6, SETOBJ_MAX_RANGES), &buf, &have);
	if (ret)
		return ret;
	if (!EVP_Digest(buf, have, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32 || memcmp(md, want, 32)) {
		free(buf);
		return -EBADMSG;
	}
	ret = multi ? setobj_decode_multi(buf, have, &got, rs) : setobj_decode(buf, have, &got, rs);
	free(buf);
	if (ret == -EINVAL || (!ret && got != f)) {
		rangeset_fini(rs);
		return -EBADMSG;
	}
	return ret;
}

int setobj_load(const char *path, const uint8_t want[32], enum cidr_family f, struct rangeset *rs)
{
	return load(AT_FDCWD, path, want, f, false, rs);
}

int setobj_load_multi(const char *path, const uint8_t want[32], enum cidr_family f,
		      struct rangeset *rs)
{
	return load(AT_FDCWD, path, want, f, true, rs);
}

int setobj_load_multi_at(int dirfd, const char *name, const uint8_t want[32], enum cidr_family f,
			 struct rangeset *rs)
{
	return load(dirfd, name, want, f, true, rs);
}

void setobj_hex(const uint8_t *md, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool setobj_unhex(const char *s, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		int a = hexval(s[2 * i]), b = a < 0 ? -1 : hexval(s[2 * i + 1]);

		if (a < 0 || b < 0)
			return false;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return s[64] == '\0';
}
