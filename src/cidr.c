// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Prefix parsing and range-set normalization for IPv4 and IPv6. Pure code:
 * the kernel refuses overlapping intervals (EEXIST), so every set is merged
 * here before it is rendered or sent.
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

u128 cidr_max(enum cidr_family f)
{
	return f == CIDR_V4 ? (u128)0xffffffffu : ~(u128)0;
}

static u128 prefix_mask(enum cidr_family f, int plen)
{
	int bits = cidr_bits(f);

	if (plen == 0)
		return 0;
	return cidr_max(f) & ~((((u128)1) << (bits - plen)) - 1) & cidr_max(f);
}

void cidr_to_bytes(enum cidr_family f, u128 a, uint8_t *out)
{
	int n = f == CIDR_V4 ? 4 : 16;

	for (int i = n - 1; i >= 0; i--) {
		out[i] = (uint8_t)(a & 0xff);
		a >>= 8;
	}
}

u128 cidr_from_bytes(enum cidr_family f, const uint8_t *in)
{
	int n = f == CIDR_V4 ? 4 : 16;
	u128 a = 0;

	for (int i = 0; i < n; i++)
		a = (a << 8) | in[i];
	return a;
}

enum cidr_status cidr_parse(const char *s, struct cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	uint8_t bytes[16];
	enum cidr_family f;
	size_t alen;
	int plen;
	u128 a, m;

	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= INET6_ADDRSTRLEN)
		return CIDR_BAD;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (strchr(buf, ':')) {
		if (inet_pton(AF_INET6, buf, bytes) != 1)
			return CIDR_BAD;
		f = CIDR_V6;
		/* ::ffff:0:0/96 never appears on the wire as a source in inet tables */
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		if (!memcmp(bytes, mapped, sizeof(mapped)))
			return CIDR_MAPPED;
	} else {
		if (inet_pton(AF_INET, buf, bytes) != 1)
			return CIDR_BAD;
		f = CIDR_V4;
	}
	if (slash) {
		const char *p = slash + 1;
		char *end;
		long v;

		if (*p < '0' || *p > '9' || strlen(p) > 3)
			return CIDR_BADLEN;
		errno = 0;
		v = strtol(p, &end, 10);
		if (*end || errno || v < 0 || v > cidr_bits(f))
			return CIDR_BADLEN;
		plen = (int)v;
	} else {
		plen = cidr_bits(f);
	}
	a = cidr_from_bytes(f, bytes);
	m = prefix_mask(f, plen);
	out->family = f;
	out->plen = plen;
	out->addr = a & m;
	return (a & ~m & cidr_max(f)) ? CIDR_HOSTBITS : CIDR_OK;
}

const char *cidr_status_str(enum cidr_status st)
{
	switch (st) {
	case CIDR_OK: return "valid";
	case CIDR_HOSTBITS: return "host bits set";
	case CIDR_BAD: return "not an IPv4 or IPv6 address or prefix";
	case CIDR_BADLEN: return "prefix length out of range";
	case CIDR_MAPPED: return "IPv4-mapped IPv6 address; write the IPv4 address instead";
	}
	return "?";
}

void rangeset_init(struct rangeset *rs)
{
	memset(rs, 0, sizeof(*rs));
}

void rangeset_fini(struct rangeset *rs)
{
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

int rangeset_reserve(struct rangeset *rs, size_t n)
{
	struct range *r;

	if (n <= rs->cap)
		return 0;
	if (n > SIZE_MAX / sizeof(*r))
		return -ENOMEM;
	r = realloc(rs->r, n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	rs->r = r;
	rs->cap = n;
	return 0;
}

int rangeset_add(struct rangeset *rs, u128 lo, u128 hi)
{
	int err = util_grow((void **)&rs->r, &rs->cap, rs->n + 1, sizeof(*rs->r));

	if (err)
		return err;
	rs->r[rs->n].lo = lo;
	rs->r[rs->n].hi = hi;
	rs->n++;
	return 0;
}

bool cidr_parse_v4_fast(const char *s, size_t len, struct cidr *out)
{
	const char *p = s, *end = s + len;
	uint32_t a = 0;
	int plen = 32;

	for (int i = 0; i < 4; i++) {
		unsigned v = 0, nd = 0;

		if (i && (p >= end || *p++ != '.'))
			return false;
		while (p < end && *p >= '0' && *p <= '9' && nd < 4) {
			v = v * 10 + (unsigned)(*p++ - '0');
			nd++;
		}
		/* 1-3 digits, no leading zero, at most 255: as inet_pton() */
		if (nd == 0 || nd > 3 || v > 255 || (nd > 1 && p[-(int)nd] == '0'))
			return false;
		a = a << 8 | v;
	}
	if (p < end) {
		if (*p++ != '/' || end - p < 1 || end - p > 2 || *p == '0')
			return false;
		plen = 0;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return false;
			plen = plen * 10 + (*p - '0');
		}
		if (plen > 32)
			return false;
		/* host bits set: the slow path warns */
		if (plen < 32 && (a & (0xffffffffu >> plen)))
			return false;
	}
	out->family = CIDR_V4;
	out->plen = plen;
	out->addr = a;
	return true;
}

int rangeset_add_cidr(struct rangeset *rs, const struct cidr *c)
{
	u128 m = prefix_mask(c->family, c->plen);

	return rangeset_add(rs, c->addr, c->addr | (~m & cidr_max(c->family)));
}

int range_order(const struct range *x, const struct range *y)
{
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	return range_order(a, b);
}

/*
 * LSD radix sort of ranges by their start, 16 bits per pass, skipping the
 * digits in which every start agrees (an IPv4 set needs two passes). Ranges
 * with the same start may end up in any order: the merge below takes the
 * largest end. A million ranges sort in tens of milliseconds instead of a
 * quarter of a second with qsort(). Returns -ENOMEM (the caller falls back
 * to qsort()).
 */
#define RADIX_MIN 512
#define RADIX_BITS 16
/* IPv4 (every bound below 2^32): sort (start << 32 | end) words, a quarter of the bytes to move. */
static int radix_sort_v4(struct range *r, size_t n, uint32_t vary)
{
	uint64_t *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b)), *src = a, *dst = b;
	size_t *count = malloc(((size_t)1 << RADIX_BITS) * sizeof(*count));

	if (!a || !b || !count) {
		free(a);
		free(b);
		free(count);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		a[i] = (uint64_t)r[i].lo << 32 | (uint64_t)r[i].hi;
	for (unsigned shift = 32; shift < 64; shift += RADIX_BITS) {
		size_t sum = 0;
		uint64_t *t;

		if (!((vary >> (shift - 32)) & ((1u << RADIX_BITS) - 1)))
			continue;
		memset(count, 0, ((size_t)1 << RADIX_BITS) * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(src[i] >> shift) & ((1u << RADIX_BITS) - 1)]++;
		for (size_t d = 0; d < ((size_t)1 << RADIX_BITS); d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & ((1u << RADIX_BITS) - 1)]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	for (size_t i = 0; i < n; i++) {
		r[i].lo = src[i] >> 32;
		r[i].hi = src[i] & 0xffffffffu;
	}
	free(a);
	free(b);
	free(count);
	return 0;
}

static int radix_sort_lo(struct range *r, size_t n)
{
	u128 all_or = 0, all_and = ~(u128)0, hi_or = 0;
	struct range *tmp, *src = r, *dst;
	size_t *count;

	for (size_t i = 0; i < n; i++) {
		all_or |= r[i].lo;
		all_and &= r[i].lo;
		hi_or |= r[i].hi;
	}
	if (!((all_or | hi_or) >> 32))
		return radix_sort_v4(r, n, (uint32_t)(all_or ^ all_and));
	tmp = malloc(n * sizeof(*tmp));
	count = malloc(((size_t)1 << RADIX_BITS) * sizeof(*count));
	if (!tmp || !count) {
		free(tmp);
		free(count);
		return -ENOMEM;
	}
	dst = tmp;
	for (unsigned shift = 0; shift < 128; shift += RADIX_BITS) {
		const u128 mask = (((u128)1 << RADIX_BITS) - 1) << shift;
		size_t sum = 0;

		if (!((all_or ^ all_and) & mask))
			continue;	/* every start has the same digit here */
		memset(count, 0, ((size_t)1 << RADIX_BITS) * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(size_t)(src[i].lo >> shift) & ((1u << RADIX_BITS) - 1)]++;
		for (size_t d = 0; d < ((size_t)1 << RADIX_BITS); d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(size_t)(src[i].lo >> shift) & ((1u << RADIX_BITS) - 1)]++] = src[i];
		{
			struct range *t = src;

			src = dst;
			dst = t;
		}
	}
	if (src != r)
		memcpy(r, src, n * sizeof(*r));
	free(tmp);
	free(count);
	return 0;
}

void rangeset_sort(struct rangeset *rs)
{
	if (rs->n < 2)
		return;
	if (rs->n < RADIX_MIN || radix_sort_lo(rs->r, rs->n) < 0) {
		qsort(rs->r, rs->n, sizeof(*rs->r), range_cmp);
		return;
	}
	/* the radix sort orders by first address only: order runs of equal starts by last */
	for (size_t i = 1; i < rs->n; i++) {
		struct range x = rs->r[i];
		size_t j = i;

		while (j > 0 && rs->r[j - 1].lo == x.lo && rs->r[j - 1].hi > x.hi) {
			rs->r[j] = rs->r[j - 1];
			j--;
		}
		rs->r[j] = x;
	}
}

void rangeset_normalize(struct rangeset *rs)
{
	size_t o = 0;

	if (rs->n < 2)
		return;
	if (rs->n < RADIX_MIN || radix_sort_lo(rs->r, rs->n) < 0)
		qsort(rs->r, rs->n, sizeof(*rs->r), range_cmp);
	for (size_t i = 1; i < rs->n; i++) {
		struct range *cur = &rs->r[o];

		/* overlapping or adjacent (hi + 1 == lo), without overflowing at the top */
		if (rs->r[i].lo <= cur->hi || rs->r[i].lo - 1 == cur->hi) {
			if (rs->r[i].hi > cur->hi)
				cur->hi = rs->r[i].hi;
		} else {
			rs->r[++o] = rs->r[i];
		}
	}
	rs->n = o + 1;
}

int rangeset_copy(struct rangeset *dst, const struct rangeset *src)
{
	rangeset_init(dst);
	if (!src->n)
		return 0;
	dst->r = malloc(src->n * sizeof(*src->r));
	if (!dst->r)
		return -ENOMEM;
	memcpy(dst->r, src->r, src->n * sizeof(*src->r));
	dst->n = dst->cap = src->n;
	return 0;
}

bool rangeset_equal(const struct rangeset *a, const struct rangeset *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->r[i].lo != b->r[i].lo || a->r[i].hi != b->r[i].hi)
			return false;
	return true;
}

uint64_t rangeset_count(const struct rangeset *rs)
{
	u128 total = 0;

	for (size_t i = 0; i < rs->n; i++) {
		total += rs->r[i].hi - rs->r[i].lo + 1;
		if (total > UINT64_MAX || (rs->r[i].hi - rs->r[i].lo) == ~(u128)0)
			return UINT64_MAX;
	}
	return (uint64_t)total;
}

int range_prefix_len(u128 lo, u128 hi, enum cidr_family f)
{
	int bits = cidr_bits(f);

	for (int plen = bits; plen >= 0; plen--) {
		u128 m = prefix_mask(f, plen);
		u128 host = ~m & cidr_max(f);

		if (lo & host)
			return -1;	/* lo not aligned at this length or any shorter one */
		if ((lo | host) == hi)
			return plen;
		if ((lo | host) > hi)
			return -1;
	}
	return -1;
}

char *cidr_addr_str(enum cidr_family f, u128 a, char *buf, size_t len)
{
	uint8_t bytes[16];

	cidr_to_bytes(f, a, bytes);
	if (!inet_ntop(f == CIDR_V4 ? AF_INET : AF_INET6, bytes, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

char *range_str(enum cidr_family f, const struct range *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int plen = range_prefix_len(r->lo, r->hi, f);

	cidr_addr_str(f, r->lo, a, sizeof(a));
	if (plen == cidr_bits(f))
		snprintf(buf, len, "%s", a);
	else if (plen >= 0)
		snprintf(buf, len, "%s/%d", a, plen);
	else
		snprintf(buf, len, "%s-%s", a, cidr_addr_str(f, r->hi, b, sizeof(b)));
	return buf;
}
