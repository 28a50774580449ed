// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compile cache's shard arithmetic: a family's entries laid out in shards
 * (layout.h) from scratch, or from the index and a change. An incremental
 * compile works inside the region A: the hull of the changed entries, grown
 * until it holds every D range it touches or borders. Outside A nothing
 * changes; inside, D is merged again from the entries; every node's count
 * changes by (D ranges now in A inside it) - (D ranges before in A inside
 * it), which is all the layout needs. Shard contents go to cache/objects as
 * setobj multisets.
 */
#include "compile_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "diag.h"
#include "setobj.h"
#include "statestore.h"
#include "util.h"

/* ---- small helpers --------------------------------------------------------------------- */

int cc_ranges_push(struct rangeset *rs, u128 lo, u128 hi)
{
	return rangeset_add(rs, lo, hi);
}

/* First index of sorted disjoint x whose range ends at or after lo. */
static size_t first_ending_at_or_after(const struct rangeset *x, u128 lo)
{
	size_t a = 0, b = x->n;

	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (x->r[m].hi < lo)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* Ranges of sorted disjoint x that intersect [lo, hi]. */
static size_t count_in(const struct rangeset *x, u128 lo, u128 hi)
{
	size_t n = 0;

	for (size_t i = first_ending_at_or_after(x, lo); i < x->n && x->r[i].lo <= hi; i++)
		n++;
	return n;
}

static bool intersects(const struct rangeset *a, u128 lo, u128 hi)
{
	size_t i = first_ending_at_or_after(a, lo);

	return i < a->n && a->r[i].lo <= hi;
}

static bool within(const struct rangeset *a, u128 lo, u128 hi)
{
	size_t i = first_ending_at_or_after(a, lo);

	return i < a->n && a->r[i].lo <= lo && a->r[i].hi >= hi;
}

/* ---- shard contents ---------------------------------------------------------------------- */

void cc_cfam_fini(struct cfam *cf)
{
	for (size_t i = 0; i < cf->nleaves; i++)
		rangeset_fini(&cf->leaves[i].r);
	free(cf->leaves);
	free(cf->split);
	memset(cf, 0, sizeof(*cf));
}

static struct cleaf *cfam_leaf(struct cfam *cf)
{
	struct cleaf *l;

	if (util_grow((void **)&cf->leaves, &cf->cleaves, cf->nleaves + 1, sizeof(*cf->leaves)) < 0)
		return NULL;
	l = &cf->leaves[cf->nleaves++];
	memset(l, 0, sizeof(*l));
	rangeset_init(&l->r);
	return l;
}

static int cfam_split(struct cfam *cf, u128 prefix, int len, size_t count)
{
	struct layout_node *s;

	if (util_grow((void **)&cf->split, &cf->csplit, cf->nsplit + 1, sizeof(*cf->split)) < 0)
		return -ENOMEM;
	s = &cf->split[cf->nsplit++];
	memset(s, 0, sizeof(*s));
	s->prefix = prefix;
	s->len = len;
	s->count = count;
	return 0;
}

void cc_obj_path(const char *dir, const uint8_t md[32], char *out, size_t len)
{
	char hex[65];

	setobj_hex(md, 32, hex);
	snprintf(out, len, "%s/%s", dir, hex);
}

/* Write an object of the cache (entries of a shard) unless it is there. No fsync: it is checked when read. */
static int put_object(struct compile *c, enum cidr_family f, const struct rangeset *m,
		      const uint8_t md[32])
{
	char name[65];
	struct stat st;
	char *buf;
	size_t len;
	int ret;

	setobj_hex(md, 32, name);
	if (setobj_encode_multi(f, m, &buf, &len) < 0)
		return -ENOMEM;
	if (fstatat(c->objfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == len) {
		bool same = !c->suspect;

		if (!same) {
			int rfd = openat(c->objfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			char *have = malloc(len + 1);

			same = rfd >= 0 && have && read(rfd, have, len + 1) == (ssize_t)len &&
			       !memcmp(have, buf, len);
			free(have);
			if (rfd >= 0)
				close(rfd);
		}
		if (same) {
			free(buf);
			return 0;
		}
	}
	ret = statestore_replace(c->objfd, name, buf, len, 0);
	free(buf);
	return ret;
}

/*
 * A leaf computed now from its entries m (sorted): its ranges (m clipped to
 * the block, merged), digests, and, when saving, its entries stored. m is
 * consumed. want_count (SIZE_MAX: any) is the layout's count, checked.
 */
static int fresh_leaf(struct compile *c, struct cfam *cf, enum cidr_family f, u128 prefix, int len,
		      struct rangeset *m, size_t want_count)
{
	u128 hi = layout_block_hi(f, prefix, len);
	struct cleaf *l = cfam_leaf(cf);
	int ret;

	if (!l) {
		rangeset_fini(m);
		return -ENOMEM;
	}
	l->prefix = prefix;
	l->len = len;
	l->fresh = true;
	l->nm = m->n;
	if (layout_clip(m->r, m->n, prefix, hi, &l->r) < 0 ||
	    setobj_digest_multi(f, m, l->md) < 0) {
		rangeset_fini(m);
		return -ENOMEM;
	}
	rangeset_normalize(&l->r);
	l->count = l->r.n;
	if (want_count != SIZE_MAX && l->count != want_count) {
		rangeset_fini(m);
		return -EAGAIN;	/* the layout and the contents disagree: trust neither */
	}
	ret = setobj_digest(f, &l->r, l->rd) < 0 ? -ENOMEM : 0;
	if (!ret && c->save && c->objfd >= 0) {
		int w = put_object(c, f, m, l->md);

		if (w == -ENOMEM)
			ret = w;
		else if (w)
			c->save = false;	/* an unwritable cache: this run does without */
	}
	rangeset_fini(m);
	return ret;
}

/* ---- a family from scratch --------------------------------------------------------------- */

/* e: every entry, unsorted (consumed). */
int cc_fam_full(struct compile *c, enum cidr_family f, struct rangeset *e, struct cfam *out)
{
	struct rangeset d;
	struct layout l;
	size_t i = 0, *active = NULL, nact = 0, cact = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	rangeset_sort(e);
	if (rangeset_copy(&d, e) < 0) {
		rangeset_fini(e);
		return -ENOMEM;
	}
	rangeset_normalize(&d);
	if (layout_build(&d, f, c->shard_max, &l) < 0) {
		rangeset_fini(&d);
		rangeset_fini(e);
		return -ENOMEM;
	}
	rangeset_fini(&d);
	out->sharded = l.sharded;
	for (size_t k = 0; k < l.nsplit && !ret; k++)
		ret = cfam_split(out, l.split[k].prefix, l.split[k].len, l.split[k].count);
	/* each leaf's entries: those that start in it, and those from before that reach into it */
	for (size_t k = 0; k < l.nleaves && !ret; k++) {
		u128 bl = l.leaves[k].prefix, bh = layout_block_hi(f, bl, l.leaves[k].len);
		struct rangeset m;
		size_t o = 0;

		rangeset_init(&m);
		if (!l.sharded) {
			ret = fresh_leaf(c, out, f, 0, 0, e, l.leaves[k].count);
			rangeset_init(e);
			break;
		}
		for (size_t a = 0; a < nact; a++)
			if (e->r[active[a]].hi >= bl)
				active[o++] = active[a];
		nact = o;
		for (; i < e->n && e->r[i].lo < bl; i++)
			if (e->r[i].hi >= bl) {
				if (util_grow((void **)&active, &cact, nact + 1, sizeof(*active)) < 0)
					ret = -ENOMEM;
				else
					active[nact++] = i;
			}
		for (size_t a = 0; a < nact && !ret; a++)
			ret = cc_ranges_push(&m, e->r[active[a]].lo, e->r[active[a]].hi);
		for (; i < e->n && e->r[i].lo <= bh && !ret; i++) {
			ret = cc_ranges_push(&m, e->r[i].lo, e->r[i].hi);
			if (!ret && e->r[i].hi > bh) {
				if (util_grow((void **)&active, &cact, nact + 1, sizeof(*active)) < 0)
					ret = -ENOMEM;
				else
					active[nact++] = i;
			}
		}
		if (!ret)
			ret = fresh_leaf(c, out, f, bl, l.leaves[k].len, &m, l.leaves[k].count);
		else
			rangeset_fini(&m);
	}
	free(active);
	layout_fini(&l);
	rangeset_fini(e);
	if (ret)
		cc_cfam_fini(out);
	return ret;
}

/* ---- a family from the cache and a change ------------------------------------------------ */

struct inc {
	struct compile *c;
	const struct ix_fam *of;
	enum cidr_family f;
	int bits;
	struct rangeset *m, *r;		/* per old leaf, once loaded */
	bool *loaded;
	struct rangeset a;		/* the region */
	struct rangeset newa;		/* entries inside it, after the change */
	struct rangeset dold, dnew;	/* D inside it, before and after */
	struct cfam *out;
	int err;
};

static int load_leaf(struct inc *x, size_t k)
{
	const struct ix_leaf *l = &x->of->leaves[k];
	char name[65];
	uint8_t rd[32];
	int ret;

	if (x->loaded[k])
		return 0;
	setobj_hex(l->md, 32, name);
	ret = x->c->objfd < 0 ? -ENOENT : setobj_load_multi_at(x->c->objfd, name, l->md, x->f, &x->m[k]);
	if (ret == -ENOMEM)
		return ret;
	if (ret == -EBADMSG) {
		unlinkat(x->c->objfd, name, 0);	/* damaged: written again by the full compile that follows */
		x->c->suspect = true;
	}
	if (ret || x->m[k].n != l->nm)
		return -EAGAIN;
	rangeset_init(&x->r[k]);
	x->loaded[k] = true;	/* from here its ranges are freed with it */
	if (layout_clip(x->m[k].r, x->m[k].n, l->prefix, layout_block_hi(x->f, l->prefix, l->len),
			&x->r[k]) < 0)
		return -ENOMEM;
	rangeset_normalize(&x->r[k]);
	if (x->r[k].n != l->count)
		return -EAGAIN;
	if (setobj_digest(x->f, &x->r[k], rd) < 0)
		return -ENOMEM;
	return memcmp(rd, l->rd, 32) ? -EAGAIN : 0;
}

/* Old leaves intersecting [lo, hi]: [*first, *end). */
static void leaves_in(const struct inc *x, u128 lo, u128 hi, size_t *first, size_t *end)
{
	const struct ix_fam *of = x->of;
	size_t a = 0, b = of->nleaves;

	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (layout_block_hi(x->f, of->leaves[m].prefix, of->leaves[m].len) < lo)
			a = m + 1;
		else
			b = m;
	}
	*first = a;
	while (a < of->nleaves && of->leaves[a].prefix <= hi)
		a++;
	*end = a;
}

/* Grow the region until it holds every D range it touches or borders. */
static int grow_region(struct inc *x)
{
	u128 top = cidr_max(x->f);
	bool changed = true;
	int ret;

	while (changed) {
		size_t n0 = x->a.n;

		changed = false;
		for (size_t i = 0; i < n0; i++) {
			u128 lo = x->a.r[i].lo ? x->a.r[i].lo - 1 : 0;
			u128 hi = x->a.r[i].hi < top ? x->a.r[i].hi + 1 : top;
			size_t k, end;

			leaves_in(x, lo, hi, &k, &end);
			for (; k < end; k++) {
				ret = load_leaf(x, k);
				if (ret)
					return ret;
				for (size_t j = first_ending_at_or_after(&x->r[k], lo);
				     j < x->r[k].n && x->r[k].r[j].lo <= hi; j++) {
					const struct range *p = &x->r[k].r[j];

					if (p->lo >= x->a.r[i].lo && p->hi <= x->a.r[i].hi)
						continue;
					if (cc_ranges_push(&x->a, p->lo, p->hi) < 0)
						return -ENOMEM;
					changed = true;
				}
			}
		}
		if (changed)
			rangeset_normalize(&x->a);
	}
	return 0;
}

/* Index of the old leaf whose block holds addr, or -1. */
static long leaf_at(const struct inc *x, u128 addr)
{
	size_t k, end;

	leaves_in(x, addr, addr, &k, &end);
	return k < end && x->of->leaves[k].prefix <= addr ? (long)k : -1;
}

enum node_kind { NODE_GAP, NODE_SPLIT, NODE_LEAF, NODE_INSIDE };

/* count(N) before the change, and what N was. */
static size_t base_count(struct inc *x, u128 prefix, int len, enum node_kind *kind, long *leaf)
{
	long k = leaf_at(x, prefix);

	*kind = NODE_GAP;
	*leaf = k;
	if (k >= 0 && x->of->leaves[k].len == len) {
		*kind = NODE_LEAF;
		return x->of->leaves[k].count;
	}
	if (k >= 0 && x->of->leaves[k].len < len) {
		*kind = NODE_INSIDE;
		if (!x->loaded[k]) {
			x->err = -EAGAIN;	/* a leaf that splits was changed, so it is loaded */
			return 0;
		}
		return count_in(&x->r[k], prefix, layout_block_hi(x->f, prefix, len));
	}
	for (size_t i = 0; i < x->of->nsplit; i++)
		if (x->of->split[i].prefix == prefix && x->of->split[i].len == len) {
			*kind = NODE_SPLIT;
			return x->of->split[i].count;
		}
	return 0;
}

/* Merge sorted a and b (disjoint by value) into out. */
static int merge_sorted(const struct rangeset *a, const struct rangeset *b, struct rangeset *out)
{
	size_t i = 0, j = 0;

	rangeset_init(out);
	if (rangeset_reserve(out, a->n + b->n + 1) < 0)
		return -ENOMEM;
	while (i < a->n || j < b->n) {
		if (j >= b->n || (i < a->n && range_order(&a->r[i], &b->r[j]) <= 0))
			out->r[out->n++] = a->r[i++];
		else
			out->r[out->n++] = b->r[j++];
	}
	return 0;
}

/* The leaf N of the new layout with cnt ranges. */
static void emit(struct inc *x, u128 prefix, int len, size_t cnt, enum node_kind kind, long k)
{
	u128 hi = layout_block_hi(x->f, prefix, len);
	struct rangeset part1, part2, m;
	size_t first, end;

	if (kind == NODE_LEAF && !intersects(&x->a, prefix, hi)) {
		/* untouched: as it was */
		const struct ix_leaf *ol = &x->of->leaves[k];
		struct cleaf *l = cfam_leaf(x->out);

		if (!l) {
			x->err = -ENOMEM;
			return;
		}
		if (ol->count != cnt) {
			x->err = -EAGAIN;
			return;
		}
		l->prefix = ol->prefix;
		l->len = ol->len;
		l->count = ol->count;
		l->nm = ol->nm;
		memcpy(l->rd, ol->rd, 32);
		memcpy(l->md, ol->md, 32);
		return;
	}
	/* entries inside the region, as they are now */
	rangeset_init(&part1);
	rangeset_init(&part2);
	for (size_t i = 0; i < x->newa.n && !x->err; i++)
		if (x->newa.r[i].lo <= hi && x->newa.r[i].hi >= prefix &&
		    cc_ranges_push(&part1, x->newa.r[i].lo, x->newa.r[i].hi) < 0)
			x->err = -ENOMEM;
	/* entries outside it, from the old leaves in N (each taken from the leaf where it enters N) */
	leaves_in(x, prefix, hi, &first, &end);
	for (size_t j = first; j < end && !x->err; j++) {
		const struct ix_leaf *ol = &x->of->leaves[j];
		u128 bl = ol->prefix, bh = layout_block_hi(x->f, ol->prefix, ol->len);
		int ret = load_leaf(x, j);

		if (ret) {
			x->err = ret;
			break;
		}
		for (size_t i = 0; i < x->m[j].n && !x->err; i++) {
			const struct range *e = &x->m[j].r[i];
			u128 start = e->lo > prefix ? e->lo : prefix;

			if (e->lo > hi || e->hi < prefix || intersects(&x->a, e->lo, e->hi))
				continue;
			if (start < bl || start > bh)
				continue;
			if (cc_ranges_push(&part2, e->lo, e->hi) < 0)
				x->err = -ENOMEM;
		}
	}
	if (!x->err && merge_sorted(&part1, &part2, &m) < 0)
		x->err = -ENOMEM;
	rangeset_fini(&part1);
	rangeset_fini(&part2);
	if (x->err)
		return;
	x->err = fresh_leaf(x->c, x->out, x->f, prefix, len, &m, cnt);
}

static void relayout(struct inc *x, u128 prefix, int len)
{
	u128 hi = layout_block_hi(x->f, prefix, len);
	enum node_kind kind;
	long k;
	size_t base, before, after, cnt;

	if (x->err)
		return;
	base = base_count(x, prefix, len, &kind, &k);
	before = count_in(&x->dold, prefix, hi);
	after = count_in(&x->dnew, prefix, hi);
	if (x->err)
		return;
	if (base < before) {
		x->err = -EAGAIN;
		return;
	}
	cnt = base - before + after;
	if (len == 0) {
		x->out->sharded = cnt > x->c->shard_max;
		if (!x->out->sharded) {
			emit(x, 0, 0, cnt, kind, k);
			return;
		}
	} else if (cnt == 0) {
		return;
	} else if (cnt <= x->c->shard_max || len >= x->bits) {
		emit(x, prefix, len, cnt, kind, k);
		return;
	}
	if (cfam_split(x->out, prefix, len, cnt) < 0) {
		x->err = -ENOMEM;
		return;
	}
	relayout(x, prefix, len + 1);
	relayout(x, prefix | ((u128)1 << (x->bits - len - 1)), len + 1);
}

/* A family from its cached layout and the entries removed and added (sorted). */
/* Nothing in this family changed: out is the layout as it was. Returns 0 or -ENOMEM. */
static int fam_unchanged(const struct ix_fam *of, struct cfam *out)
{
	int ret = 0;

	out->sharded = of->sharded;
	for (size_t i = 0; i < of->nsplit && !ret; i++)
		ret = cfam_split(out, of->split[i].prefix, of->split[i].len, of->split[i].count);
	for (size_t i = 0; i < of->nleaves && !ret; i++) {
		struct cleaf *l = cfam_leaf(out);

		if (!l) {
			ret = -ENOMEM;
			break;
		}
		l->prefix = of->leaves[i].prefix;
		l->len = of->leaves[i].len;
		l->count = of->leaves[i].count;
		l->nm = of->leaves[i].nm;
		memcpy(l->rd, of->leaves[i].rd, 32);
		memcpy(l->md, of->leaves[i].md, 32);
	}
	if (ret)
		cc_cfam_fini(out);
	return ret;
}

/*
 * From the loaded leaves: the entries inside the region before (each from
 * the leaf that holds its start) into olda, and D before into x->dold.
 * Returns 0, -ENOMEM or -EAGAIN (one across the region's edge).
 */
static int region_before(struct inc *x, struct rangeset *olda)
{
	const struct ix_fam *of = x->of;
	int ret = 0;

	for (size_t k = 0; k < of->nleaves && !ret; k++) {
		u128 bl = of->leaves[k].prefix, bh = layout_block_hi(x->f, bl, of->leaves[k].len);

		if (!x->loaded[k])
			continue;
		for (size_t i = 0; i < x->m[k].n && !ret; i++) {
			const struct range *e = &x->m[k].r[i];

			if (!intersects(&x->a, e->lo, e->hi))
				continue;
			if (!within(&x->a, e->lo, e->hi))
				ret = -EAGAIN;	/* an entry across the region's edge: D was not what the cache says */
			else if (e->lo >= bl && e->lo <= bh)
				ret = cc_ranges_push(olda, e->lo, e->hi);
		}
		for (size_t i = 0; i < x->r[k].n && !ret; i++) {
			const struct range *p = &x->r[k].r[i];
			struct range *last = x->dold.n ? &x->dold.r[x->dold.n - 1] : NULL;

			if (!intersects(&x->a, p->lo, p->hi))
				continue;
			if (!within(&x->a, p->lo, p->hi))
				ret = -EAGAIN;
			else if (last && last->hi + 1 == p->lo && last->hi != cidr_max(x->f))
				last->hi = p->hi;	/* one D range across a shard boundary */
			else
				ret = cc_ranges_push(&x->dold, p->lo, p->hi);
		}
	}
	return ret;
}

/* Into newa: olda - rm + ad. Returns 0, -ENOMEM or -EAGAIN (a removed entry not in olda). */
static int region_after(const struct rangeset *olda, const struct rangeset *rm,
			const struct rangeset *ad, struct rangeset *newa)
{
	struct rangeset kept;
	size_t i, j;
	int ret = 0;

	rangeset_init(&kept);
	for (i = 0, j = 0; i < olda->n && !ret; i++) {
		int cmp = j < rm->n ? range_order(&olda->r[i], &rm->r[j]) : -1;

		if (cmp == 0) {
			j++;
			continue;
		}
		if (cmp > 0) {
			ret = -EAGAIN;	/* removed, but not in its shard */
			break;
		}
		ret = cc_ranges_push(&kept, olda->r[i].lo, olda->r[i].hi);
	}
	if (!ret && j < rm->n)
		ret = -EAGAIN;
	if (!ret)
		ret = merge_sorted(&kept, ad, newa);
	rangeset_fini(&kept);
	return ret;
}

int cc_fam_inc(struct compile *c, enum cidr_family f, const struct ix_fam *of,
		   const struct rangeset *rm, const struct rangeset *ad, struct cfam *out)
{
	struct inc x = { .c = c, .of = of, .f = f, .bits = cidr_bits(f), .out = out };
	struct rangeset olda;
	size_t i;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	rangeset_init(&olda);
	if (!rm->n && !ad->n)
		return fam_unchanged(of, out);
	x.m = calloc(of->nleaves + 1, sizeof(*x.m));
	x.r = calloc(of->nleaves + 1, sizeof(*x.r));
	x.loaded = calloc(of->nleaves + 1, sizeof(*x.loaded));
	if (!x.m || !x.r || !x.loaded) {
		ret = -ENOMEM;
		goto out;
	}
	/* the region: the changed entries, merged, then grown over the D ranges they touch */
	for (i = 0; i < rm->n && !ret; i++)
		ret = cc_ranges_push(&x.a, rm->r[i].lo, rm->r[i].hi);
	for (i = 0; i < ad->n && !ret; i++)
		ret = cc_ranges_push(&x.a, ad->r[i].lo, ad->r[i].hi);
	if (ret)
		goto out;
	rangeset_normalize(&x.a);
	ret = grow_region(&x);
	if (!ret)
		ret = region_before(&x, &olda);
	/* after: olda - rm + ad; every removed entry must be there */
	if (!ret)
		ret = region_after(&olda, rm, ad, &x.newa);
	if (!ret)
		ret = rangeset_copy(&x.dnew, &x.newa);
	if (ret)
		goto out;
	rangeset_normalize(&x.dnew);
	relayout(&x, 0, 0);
	ret = x.err;
out:
	for (size_t k = 0; x.loaded && k < of->nleaves; k++) {
		rangeset_fini(&x.m[k]);
		if (x.loaded[k])
			rangeset_fini(&x.r[k]);
	}
	free(x.m);
	free(x.r);
	free(x.loaded);
	rangeset_fini(&x.a);
	rangeset_fini(&x.newa);
	rangeset_fini(&x.dold);
	rangeset_fini(&x.dnew);
	rangeset_fini(&olda);
	if (ret)
		cc_cfam_fini(out);
	return ret;
}
