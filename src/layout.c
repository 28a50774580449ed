// SPDX-License-Identifier: GPL-2.0-or-later
/* Shard layout of an allowlist (see layout.h). */
#include "layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

u128 layout_block_hi(enum cidr_family f, u128 prefix, int len)
{
	int bits = cidr_bits(f);

	if (len >= bits)
		return prefix;
	if (len == 0)
		return cidr_max(f);
	return prefix | ((((u128)1) << (bits - len)) - 1);
}

struct lctx {
	const struct range *r;
	enum cidr_family f;
	int bits;
	size_t max;
	struct layout *out;
	size_t cleaves, csplit;
};

static int push(struct layout_node **arr, size_t *n, size_t *cap, u128 prefix, int len, size_t count,
		size_t first)
{
	struct layout_node *x;

	if (util_grow((void **)arr, cap, *n + 1, sizeof(**arr)) < 0)
		return -ENOMEM;
	x = &(*arr)[(*n)++];
	x->prefix = prefix;
	x->len = len;
	x->count = count;
	x->first = first;
	return 0;
}

/* Ranges [lo, hi) of D all intersect prefix/len. */
static int split(struct lctx *c, size_t lo, size_t hi, u128 prefix, int len)
{
	u128 mid;
	size_t k;

	if (hi <= lo)
		return 0;
	if (hi - lo <= c->max || len >= c->bits)
		return push(&c->out->leaves, &c->out->nleaves, &c->cleaves, prefix, len, hi - lo, lo);
	if (push(&c->out->split, &c->out->nsplit, &c->csplit, prefix, len, hi - lo, lo) < 0)
		return -ENOMEM;
	mid = prefix | ((u128)1 << (c->bits - len - 1));
	/* k: first range whose hi >= mid (it belongs to the right half, maybe both) */
	k = lo;
	while (k < hi && c->r[k].hi < mid)
		k++;
	if (split(c, lo, k < hi && c->r[k].lo < mid ? k + 1 : k, prefix, len + 1) < 0)
		return -ENOMEM;
	return split(c, k, hi, mid, len + 1);
}

int layout_build(const struct rangeset *d, enum cidr_family f, size_t max, struct layout *out)
{
	struct lctx c = { .r = d->r, .f = f, .bits = cidr_bits(f), .max = max ? max : 1, .out = out };

	memset(out, 0, sizeof(*out));
	if (d->n <= c.max) {
		out->sharded = false;
		if (push(&out->leaves, &out->nleaves, &c.cleaves, 0, 0, d->n, 0) < 0)
			goto nomem;
		return 0;
	}
	out->sharded = true;
	if (split(&c, 0, d->n, 0, 0) < 0)
		goto nomem;
	return 0;
nomem:
	layout_fini(out);
	return -ENOMEM;
}

void layout_fini(struct layout *l)
{
	free(l->leaves);
	free(l->split);
	memset(l, 0, sizeof(*l));
}

int layout_clip(const struct range *r, size_t n, u128 lo, u128 hi, struct rangeset *out)
{
	if (rangeset_reserve(out, out->n + n) < 0)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		struct range cr = r[k];

		if (cr.lo < lo)
			cr.lo = lo;
		if (cr.hi > hi)
			cr.hi = hi;
		out->r[out->n++] = cr;
	}
	return 0;
}

void layout_shard_name(char *buf, size_t len, const char *svc, const char *fam, u128 prefix,
		       int plen, int bits)
{
	int nibbles = (plen + 3) / 4;
	size_t o = (size_t)snprintf(buf, len, "%s_%s_", svc, fam);

	for (int i = 0; i < nibbles && o + 2 < len; i++) {
		unsigned v = (unsigned)((prefix >> (bits - 4 * (i + 1))) & 0xf);

		buf[o++] = "0123456789abcdef"[v];
	}
	snprintf(buf + o, len - o, "_%d", plen);
}
