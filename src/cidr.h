/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Addresses, prefixes and sets of disjoint address ranges, for IPv4 and IPv6.
 * Pure: no I/O, no allocation besides the range arrays. An address is held as
 * an unsigned 128-bit integer in host order (IPv4 in the low 32 bits) so that
 * one merge routine serves both families.
 */
#ifndef PORTLOCK_CIDR_H
#define PORTLOCK_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 u128;

enum cidr_family {
	CIDR_V4 = 4,
	CIDR_V6 = 6,
};

struct cidr {
	enum cidr_family family;
	u128 addr;	/* normalized: host bits cleared */
	int plen;
};

/* Result of cidr_parse(); CIDR_OK and CIDR_HOSTBITS both fill *out. */
enum cidr_status {
	CIDR_OK,
	CIDR_HOSTBITS,	/* host bits were set and have been cleared */
	CIDR_BAD,	/* not an address or prefix */
	CIDR_BADLEN,	/* prefix length out of range or malformed */
	CIDR_MAPPED,	/* IPv4-mapped IPv6 (::ffff:a.b.c.d): write the IPv4 form */
};

/*
 * Parse "A", "A/len" for IPv4 or IPv6 (surrounding blanks are not allowed).
 * A bare address is a /32 or /128. Returns a cidr_status; *out is filled for
 * CIDR_OK and CIDR_HOSTBITS only.
 */
enum cidr_status cidr_parse(const char *s, struct cidr *out);

/*
 * Fast path for large allowlists: the len bytes at s in canonical IPv4 form
 * ("a.b.c.d" or "a.b.c.d/N", N 1-32, no leading zeros, no host bits). Returns
 * true with *out filled exactly as cidr_parse() would (CIDR_OK); false for
 * anything else, which the caller hands to cidr_parse() for its diagnosis.
 */
bool cidr_parse_v4_fast(const char *s, size_t len, struct cidr *out);

/* Human-readable reason for a cidr_status that is an error. */
const char *cidr_status_str(enum cidr_status st);

/* Address width in bits of a family (32 or 128). */
static inline int cidr_bits(enum cidr_family f)
{
	return f == CIDR_V4 ? 32 : 128;
}

/* Largest address of the family. */
u128 cidr_max(enum cidr_family f);

/* An inclusive range of addresses [lo, hi]. */
struct range {
	u128 lo, hi;
};

/* A growable array of ranges; normalized means sorted, disjoint, non-adjacent. */
struct rangeset {
	struct range *r;
	size_t n, cap;
};

void rangeset_init(struct rangeset *rs);
void rangeset_fini(struct rangeset *rs);
/* Append [lo, hi]; returns 0 or -ENOMEM. Does not normalize. */
int rangeset_add(struct rangeset *rs, u128 lo, u128 hi);
/* Make room for n ranges in all (no-op when there is); returns 0 or -ENOMEM. */
int rangeset_reserve(struct rangeset *rs, size_t n);
/* Append the range covered by a prefix. */
int rangeset_add_cidr(struct rangeset *rs, const struct cidr *c);
/*
 * Sort and merge overlapping and adjacent ranges in place, so that the kernel
 * (which refuses overlapping intervals with EEXIST) can take them as they are.
 */
void rangeset_normalize(struct rangeset *rs);
/* Order of two ranges by (first, last): <0, 0, >0. */
int range_order(const struct range *a, const struct range *b);
/* Sort by (first, last), keeping repeats: a multiset of ranges. */
void rangeset_sort(struct rangeset *rs);
/* Deep copy; returns 0 or -ENOMEM. */
int rangeset_copy(struct rangeset *dst, const struct rangeset *src);
/* True when both hold the same ranges in the same order. */
bool rangeset_equal(const struct rangeset *a, const struct rangeset *b);
/* Number of addresses covered, saturated at UINT64_MAX. */
uint64_t rangeset_count(const struct rangeset *rs);

/* If [lo, hi] is exactly one prefix, return its length, else -1. */
int range_prefix_len(u128 lo, u128 hi, enum cidr_family f);

/* Format one address; buf must hold 46 bytes (INET6_ADDRSTRLEN). */
char *cidr_addr_str(enum cidr_family f, u128 a, char *buf, size_t len);

/*
 * Format a range the way nft lists interval set elements: "A" for a single
 * address, "A/len" for a prefix, "A-B" otherwise. buf needs 100 bytes.
 */
char *range_str(enum cidr_family f, const struct range *r, char *buf, size_t len);

/* Convert between u128 and network-order bytes (4 or 16 of them). */
void cidr_to_bytes(enum cidr_family f, u128 a, uint8_t *out);
u128 cidr_from_bytes(enum cidr_family f, const uint8_t *in);

#endif
