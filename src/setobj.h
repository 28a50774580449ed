/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Range-set objects: the content of one interval set (its sorted, disjoint
 * ranges) as a self-describing byte string whose SHA-256 is its identity.
 * The journal stores each distinct content once, in journal/objects/<sha256>,
 * so that a one-prefix change to a million-prefix table writes one shard, not
 * the whole table; the planner compares two sets by digest before it compares
 * their ranges.
 *
 * Layout (little-endian, like nft_ranges_blob()):
 *
 *	"PLSET1\0\0"           8 bytes
 *	u8 family (4 or 6), 7 zero bytes
 *	u64 n
 *	n x (first, last)      4 (IPv4) or 16 (IPv6) bytes each, the address as a number
 *
 * Ranges are strictly ascending and disjoint; a decoder refuses anything else.
 */
#ifndef PORTLOCK_SETOBJ_H
#define PORTLOCK_SETOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

#define SETOBJ_MAGIC "PLSET1\0\0"
#define SETOBJ_HDR 24
/* refused above this (a set the kernel could not hold anyway): 2^24 ranges */
#define SETOBJ_MAX_RANGES (1u << 24)

/* Encoded size of a set of n ranges. */
static inline size_t setobj_size(enum cidr_family f, size_t n)
{
	return SETOBJ_HDR + n * (f == CIDR_V4 ? 8 : 32);
}

/* Encode into a malloc'ed buffer. Returns 0 or -ENOMEM. */
int setobj_encode(enum cidr_family f, const struct rangeset *rs, char **buf, size_t *len);

/* SHA-256 of the encoding, without building it. Returns 0 or -ENOMEM. */
int setobj_digest(enum cidr_family f, const struct rangeset *rs, uint8_t out[32]);
/* The same for r[0, n) clipped to [lo, hi] (a shard of a larger set). */
int setobj_digest_clip(enum cidr_family f, const struct range *r, size_t n, u128 lo, u128 hi,
		       uint8_t out[32]);

/*
 * Decode strictly (magic, family, length, ascending disjoint ranges). rs is
 * initialized here. Returns 0, -EINVAL (malformed) or -ENOMEM.
 */
int setobj_decode(const void *buf, size_t len, enum cidr_family *f, struct rangeset *rs);

/*
 * Read the object file at path, check that its SHA-256 is want, and decode
 * it as family f. Returns 0, -ENOENT (no such file), -EBADMSG (wrong digest
 * or malformed), -ENOMEM or another -errno.
 */
int setobj_load(const char *path, const uint8_t want[32], enum cidr_family f, struct rangeset *rs);

/*
 * Multisets of ranges (the compile cache's inputs of one shard, compile.c):
 * the same layout with magic "PLMSET1\0", ranges sorted by (first, last),
 * overlaps and repeats allowed.
 */
#define SETOBJ_MULTI_MAGIC "PLMSET1\0"
int setobj_encode_multi(enum cidr_family f, const struct rangeset *rs, char **buf, size_t *len);
int setobj_digest_multi(enum cidr_family f, const struct rangeset *rs, uint8_t out[32]);
int setobj_decode_multi(const void *buf, size_t len, enum cidr_family *f, struct rangeset *rs);
int setobj_load_multi(const char *path, const uint8_t want[32], enum cidr_family f,
		      struct rangeset *rs);
/* The same, name relative to the directory dirfd (the state dir's descriptors: statestore.h). */
int setobj_load_multi_at(int dirfd, const char *name, const uint8_t want[32], enum cidr_family f,
			 struct rangeset *rs);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void setobj_hex(const uint8_t *md, size_t n, char *out);
/* Parse 64 hex digits; false when s is not exactly that. */
bool setobj_unhex(const char *s, uint8_t out[32]);

#endif
