/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How one family's allowlist is split into shard sets: a pure function of
 * the merged ranges D and the shard size. Pure: no I/O.
 *
 * Think of the address space as a binary trie of prefixes. count(N) is the
 * number of ranges of D that intersect node N. The root is split when
 * count(root) > max; so is every node with count > max, down to single
 * addresses. The leaves are the children of split nodes that intersect D
 * and are not split themselves; each leaf's shard holds D clipped to it.
 * When the root is not split the family is one unsharded set holding D.
 *
 * The split nodes and their counts are part of the result: they are what
 * lets compile.c recompute the layout after a change without D (a node's
 * count changes by what the change does to the ranges inside it).
 */
#ifndef PORTLOCK_LAYOUT_H
#define PORTLOCK_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"

struct layout_node {
	u128 prefix;	/* the block prefix/len */
	int len;
	size_t count;	/* ranges of D intersecting it */
	size_t first;	/* leaves: D[first, first + count) are those ranges (layout_build only) */
};

struct layout {
	bool sharded;			/* false: one leaf, the root, D as it is */
	struct layout_node *leaves;	/* sorted by address */
	size_t nleaves;
	struct layout_node *split;	/* split nodes, in pre-order (sorted by address, parents first) */
	size_t nsplit;
};

/*
 * Lay out D (normalized) of family f with at most max ranges per shard.
 * Unsharded: one leaf, the root (0/0), even when D is empty. Returns 0 or
 * -ENOMEM. Release with layout_fini().
 */
int layout_build(const struct rangeset *d, enum cidr_family f, size_t max, struct layout *out);
void layout_fini(struct layout *l);

/* Last address of block prefix/len in family f. */
u128 layout_block_hi(enum cidr_family f, u128 prefix, int len);

/*
 * The ranges r[0, n), clipped to block [lo, hi], appended to out (a leaf's
 * shard content). Returns 0 or -ENOMEM.
 */
int layout_clip(const struct range *r, size_t n, u128 lo, u128 hi, struct rangeset *out);

/* Name of a shard set: "<svc>_<fam>_<hex nibbles of the prefix>_<len>". */
void layout_shard_name(char *buf, size_t len, const char *svc, const char *fam, u128 prefix,
		       int plen, int bits);

#endif
