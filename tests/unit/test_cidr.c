// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cidr: parsing, normalization, merging of v4 and v6 prefixes into minimal
 * disjoint intervals, edge cases at both ends of the address space, and
 * 1,000,000 random prefixes checked against a naive bitmap reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"

static void parse_ok(const char *s, enum cidr_family f, const char *addr, int plen,
		     enum cidr_status want)
{
	struct cidr c;
	char buf[64];
	enum cidr_status st = cidr_parse(s, &c);

	if (st != want)
		fprintf(stderr, "cidr_parse('%s') = %d, want %d\n", s, st, want);
	assert_int_equal(st, want);
	assert_int_equal(c.family, f);
	assert_int_equal(c.plen, plen);
	assert_string_equal(cidr_addr_str(f, c.addr, buf, sizeof(buf)), addr);
}

static void parse_bad(const char *s, enum cidr_status want)
{
	struct cidr c;
	enum cidr_status st = cidr_parse(s, &c);

	if (st != want)
		fprintf(stderr, "cidr_parse('%s') = %d, want %d\n", s, st, want);
	assert_int_equal(st, want);
}

static void test_parse_valid(void **state)
{
	parse_ok("192.0.2.0/24", CIDR_V4, "192.0.2.0", 24, CIDR_OK);
	parse_ok("192.0.2.1", CIDR_V4, "192.0.2.1", 32, CIDR_OK);
	parse_ok("192.0.2.1/32", CIDR_V4, "192.0.2.1", 32, CIDR_OK);
	parse_ok("0.0.0.0/0", CIDR_V4, "0.0.0.0", 0, CIDR_OK);
	parse_ok("255.255.255.255", CIDR_V4, "255.255.255.255", 32, CIDR_OK);
	parse_ok("2001:db8::/32", CIDR_V6, "2001:db8::", 32, CIDR_OK);
	parse_ok("2001:DB8::1", CIDR_V6, "2001:db8::1", 128, CIDR_OK);
	parse_ok("::/0", CIDR_V6, "::", 0, CIDR_OK);
	parse_ok("::1/128", CIDR_V6, "::1", 128, CIDR_OK);
	parse_ok("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", CIDR_V6,
		 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, CIDR_OK);
	parse_ok("192.0.2.0/024", CIDR_V4, "192.0.2.0", 24, CIDR_OK);
}

static void test_parse_hostbits(void **state)
{
	parse_ok("192.0.2.77/24", CIDR_V4, "192.0.2.0", 24, CIDR_HOSTBITS);
	parse_ok("255.255.255.255/0", CIDR_V4, "0.0.0.0", 0, CIDR_HOSTBITS);
	parse_ok("10.1.2.3/8", CIDR_V4, "10.0.0.0", 8, CIDR_HOSTBITS);
	parse_ok("192.0.2.1/31", CIDR_V4, "192.0.2.0", 31, CIDR_HOSTBITS);
	parse_ok("2001:db8::1/64", CIDR_V6, "2001:db8::", 64, CIDR_HOSTBITS);
	parse_ok("ffff::1/0", CIDR_V6, "::", 0, CIDR_HOSTBITS);
	parse_ok("2001:db8::ffff/127", CIDR_V6, "2001:db8::fffe", 127, CIDR_HOSTBITS);
}

static void test_parse_invalid(void **state)
{
	parse_bad("", CIDR_BAD);
	parse_bad("/24", CIDR_BAD);
	parse_bad("192.0.2", CIDR_BAD);
	parse_bad("192.0.2.256", CIDR_BAD);
	parse_bad("192.0.2.1 ", CIDR_BAD);
	parse_bad(" 192.0.2.1", CIDR_BAD);
	parse_bad("host.example", CIDR_BAD);
	parse_bad("2001:db8:::1", CIDR_BAD);
	parse_bad("fe80::1%eth0", CIDR_BAD);
	parse_bad("2001:db8::1::2", CIDR_BAD);
	parse_bad("0x7f000001", CIDR_BAD);
	parse_bad("192.0.2.0/33", CIDR_BADLEN);
	parse_bad("192.0.2.0/", CIDR_BADLEN);
	parse_bad("192.0.2.0/-1", CIDR_BADLEN);
	parse_bad("192.0.2.0/+8", CIDR_BADLEN);
	parse_bad("192.0.2.0/ 8", CIDR_BADLEN);
	parse_bad("192.0.2.0/8 ", CIDR_BADLEN);
	parse_bad("192.0.2.0/1000", CIDR_BADLEN);
	parse_bad("192.0.2.0/99999999999999999999", CIDR_BADLEN);
	parse_bad("2001:db8::/129", CIDR_BADLEN);
	parse_bad("2001:db8::/64/64", CIDR_BADLEN);
	parse_bad("::ffff:192.0.2.1", CIDR_MAPPED);
	parse_bad("::ffff:0:0/96", CIDR_MAPPED);
	parse_bad("::FFFF:c000:0201", CIDR_MAPPED);
	assert_non_null(strstr(cidr_status_str(CIDR_MAPPED), "IPv4-mapped"));
	assert_non_null(strstr(cidr_status_str(CIDR_BADLEN), "prefix length"));
}

static void test_bytes_roundtrip(void **state)
{
	uint8_t b[16];
	struct cidr c;

	assert_int_equal(cidr_parse("2001:db8::102:304", &c), CIDR_OK);
	cidr_to_bytes(CIDR_V6, c.addr, b);
	assert_int_equal(b[0], 0x20);
	assert_int_equal(b[15], 0x04);
	assert_true(cidr_from_bytes(CIDR_V6, b) == c.addr);
	assert_int_equal(cidr_parse("192.0.2.1", &c), CIDR_OK);
	cidr_to_bytes(CIDR_V4, c.addr, b);
	assert_memory_equal(b, "\xc0\x00\x02\x01", 4);
	assert_true(cidr_from_bytes(CIDR_V4, b) == c.addr);
}

/* Build a normalized set from prefix strings and render it as nft would. */
static void merged(enum cidr_family f, const char *const *in, const char *expect)
{
	struct rangeset rs;
	char out[2048] = "", buf[100];

	rangeset_init(&rs);
	for (size_t i = 0; in[i]; i++) {
		struct cidr c;

		assert_true(cidr_parse(in[i], &c) <= CIDR_HOSTBITS);
		assert_int_equal(c.family, f);
		assert_int_equal(rangeset_add_cidr(&rs, &c), 0);
	}
	rangeset_normalize(&rs);
	for (size_t i = 0; i < rs.n; i++) {
		if (i)
			strcat(out, ", ");
		strcat(out, range_str(f, &rs.r[i], buf, sizeof(buf)));
	}
	if (strcmp(out, expect))
		fprintf(stderr, "merged: got '%s', want '%s'\n", out, expect);
	assert_string_equal(out, expect);
	rangeset_fini(&rs);
}

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_merge_v4(void **state)
{
	merged(CIDR_V4, L("192.0.2.0/24"), "192.0.2.0/24");
	/* overlapping: contained, duplicate, partial */
	merged(CIDR_V4, L("10.0.0.0/8", "10.1.0.0/16", "10.0.0.0/8"), "10.0.0.0/8");
	merged(CIDR_V4, L("10.1.0.0/16", "10.0.0.0/8"), "10.0.0.0/8");
	/* adjacent halves become one prefix */
	merged(CIDR_V4, L("192.0.2.128/25", "192.0.2.0/25"), "192.0.2.0/24");
	/* adjacent but not a prefix: a range */
	merged(CIDR_V4, L("192.0.2.0/24", "192.0.3.0/24", "192.0.4.0/24"),
	       "192.0.2.0-192.0.4.255");
	merged(CIDR_V4, L("192.0.2.1", "192.0.2.2"), "192.0.2.1-192.0.2.2");
	merged(CIDR_V4, L("192.0.2.1", "192.0.2.3"), "192.0.2.1, 192.0.2.3");
	/* disjoint, unsorted input comes out sorted */
	merged(CIDR_V4, L("198.51.100.0/24", "192.0.2.0/24", "203.0.113.9"),
	       "192.0.2.0/24, 198.51.100.0/24, 203.0.113.9");
	/* everything */
	merged(CIDR_V4, L("0.0.0.0/0"), "0.0.0.0/0");
	merged(CIDR_V4, L("192.0.2.0/24", "0.0.0.0/0", "255.255.255.255"), "0.0.0.0/0");
	merged(CIDR_V4, L("0.0.0.0/1", "128.0.0.0/1"), "0.0.0.0/0");
	/* both ends of the space */
	merged(CIDR_V4, L("0.0.0.0", "255.255.255.255"), "0.0.0.0, 255.255.255.255");
	merged(CIDR_V4, L("255.255.255.254", "255.255.255.255"), "255.255.255.254/31");
	merged(CIDR_V4, L("255.255.255.0/24", "255.255.254.0/24"), "255.255.254.0/23");
	merged(CIDR_V4, L("0.0.0.1", "0.0.0.0"), "0.0.0.0/31");
}

static void test_merge_v6(void **state)
{
	merged(CIDR_V6, L("2001:db8::/32"), "2001:db8::/32");
	merged(CIDR_V6, L("2001:db8:1::/48", "2001:db8::/32"), "2001:db8::/32");
	merged(CIDR_V6, L("2001:db8:1::/48", "2001:db8::/48"), "2001:db8::/47");
	merged(CIDR_V6, L("2001:db8:1::/48", "2001:db8:2::/48"), "2001:db8:1::-2001:db8:2:ffff:ffff:ffff:ffff:ffff");
	merged(CIDR_V6, L("::/0", "2001:db8::1"), "::/0");
	merged(CIDR_V6, L("::/1", "8000::/1"), "::/0");
	merged(CIDR_V6, L("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	       "::, ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	merged(CIDR_V6, L("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128",
			  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
	       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
	merged(CIDR_V6, L("2001:db8::1", "2001:db8::1/128", "2001:db8::2"),
	       "2001:db8::1-2001:db8::2");
}

static void test_range_prefix_len(void **state)
{
	u128 top = cidr_max(CIDR_V6);

	assert_int_equal(range_prefix_len(0, 0xffffffffu, CIDR_V4), 0);
	assert_int_equal(range_prefix_len(0, top, CIDR_V6), 0);
	assert_int_equal(range_prefix_len(top, top, CIDR_V6), 128);
	assert_int_equal(range_prefix_len(0xffffffffu, 0xffffffffu, CIDR_V4), 32);
	assert_int_equal(range_prefix_len(0xc0000200u, 0xc00002ffu, CIDR_V4), 24);
	assert_int_equal(range_prefix_len(0xc0000201u, 0xc00002ffu, CIDR_V4), -1);
	assert_int_equal(range_prefix_len(0xc0000200u, 0xc00002feu, CIDR_V4), -1);
	assert_int_equal(range_prefix_len(0, top - 1, CIDR_V6), -1);
}

static void test_count_and_equal(void **state)
{
	struct rangeset a, b;
	struct cidr c;

	rangeset_init(&a);
	rangeset_init(&b);
	assert_int_equal(rangeset_count(&a), 0);
	assert_int_equal(cidr_parse("192.0.2.0/24", &c), CIDR_OK);
	assert_int_equal(rangeset_add_cidr(&a, &c), 0);
	assert_int_equal(cidr_parse("10.0.0.1", &c), CIDR_OK);
	assert_int_equal(rangeset_add_cidr(&a, &c), 0);
	rangeset_normalize(&a);
	assert_int_equal(rangeset_count(&a), 257);
	assert_int_equal(rangeset_copy(&b, &a), 0);
	assert_true(rangeset_equal(&a, &b));
	b.r[0].hi++;
	assert_false(rangeset_equal(&a, &b));
	rangeset_fini(&a);
	rangeset_fini(&b);

	rangeset_init(&a);
	assert_int_equal(cidr_parse("::/0", &c), CIDR_OK);
	assert_int_equal(rangeset_add_cidr(&a, &c), 0);
	assert_true(rangeset_count(&a) == UINT64_MAX);	/* saturated */
	rangeset_fini(&a);
	rangeset_init(&a);
	assert_int_equal(cidr_parse("0.0.0.0/0", &c), CIDR_OK);
	assert_int_equal(rangeset_add_cidr(&a, &c), 0);
	assert_true(rangeset_count(&a) == (uint64_t)1 << 32);
	rangeset_fini(&a);
}

/* xorshift64*: deterministic, so a failure reproduces */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Structural invariants of a normalized set: sorted, disjoint, non-adjacent. */
static void check_normalized(const struct rangeset *rs, enum cidr_family f)
{
	for (size_t i = 0; i < rs->n; i++) {
		assert_true(rs->r[i].lo <= rs->r[i].hi);
		assert_true(rs->r[i].hi <= cidr_max(f));
		if (i)
			assert_true(rs->r[i].lo > rs->r[i - 1].hi + 1);
	}
}

/*
 * n random prefixes confined to a 2^24-address block (base, length 32-24 or
 * 128-24 of the family), merged, then compared address by address with a
 * bitmap filled naively from the same prefixes.
 */
static void random_vs_bitmap(enum cidr_family f, u128 base, size_t n)
{
	const unsigned span_bits = 24;
	const int bits = cidr_bits(f), minlen = bits - (int)span_bits;
	uint8_t *bitmap = calloc((size_t)1 << span_bits >> 3, 1);
	struct rangeset rs;
	size_t ri = 0, covered = 0;

	assert_non_null(bitmap);
	rangeset_init(&rs);
	for (size_t i = 0; i < n; i++) {
		/* mostly long prefixes, a few short ones, so that the result has structure */
		uint64_t r = rnd();
		int plen = bits - (int)(r % 100 < 90 ? r % 5 : (r >> 8) % 13);
		uint32_t off = (uint32_t)(rnd() & ((1u << span_bits) - 1));
		uint32_t size = 1u << (bits - plen);
		struct cidr c = { f, 0, plen };

		assert_true(plen >= minlen);
		off &= ~(size - 1);
		c.addr = base + off;
		assert_int_equal(rangeset_add_cidr(&rs, &c), 0);
		for (uint32_t a = off; a < off + size; a++)
			bitmap[a >> 3] |= (uint8_t)(1u << (a & 7));
	}
	rangeset_normalize(&rs);
	check_normalized(&rs, f);
	for (uint32_t a = 0; a < (1u << span_bits); a++) {
		u128 addr = base + a;
		int in_bitmap = !!(bitmap[a >> 3] & (1u << (a & 7)));
		int in_set;

		while (ri < rs.n && rs.r[ri].hi < addr)
			ri++;
		in_set = ri < rs.n && rs.r[ri].lo <= addr;
		if (in_set != in_bitmap) {
			char buf[64];

			fprintf(stderr, "address %s: set says %d, bitmap %d\n",
				cidr_addr_str(f, addr, buf, sizeof(buf)), in_set, in_bitmap);
			fail();
		}
		covered += in_bitmap;
	}
	/* nothing outside the block */
	assert_true(rs.n == 0 || rs.r[0].lo >= base);
	assert_true(rs.n == 0 || rs.r[rs.n - 1].hi <= base + (((u128)1 << span_bits) - 1));
	assert_true(rangeset_count(&rs) == covered);
	/* a partially covered block: the test means something */
	assert_true(covered > 0 && covered < (1u << span_bits));
	assert_true(rs.n > 1000);
	rangeset_fini(&rs);
	free(bitmap);
}

static size_t big_n(void)
{
	return getenv("PL_TEST_QUICK") ? 50000 : 1000000;
}

static void test_random_v4_million(void **state)
{
	random_vs_bitmap(CIDR_V4, (u128)10 << 24, big_n());	/* 10.0.0.0/8 */
}

static void test_random_v6_million(void **state)
{
	struct cidr c;

	assert_int_equal(cidr_parse("2001:db8:0:0:ffff:ffff:ff00:0/104", &c), CIDR_OK);
	random_vs_bitmap(CIDR_V6, c.addr, big_n());
}

/* The top of the address space, where hi + 1 overflows. */
static void test_random_top_v6(void **state)
{
	struct cidr c;

	assert_int_equal(cidr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ff00:0/104", &c), CIDR_OK);
	random_vs_bitmap(CIDR_V6, c.addr, 200000);
}

static void test_random_top_v4(void **state)
{
	random_vs_bitmap(CIDR_V4, (u128)0xff000000u, 200000);	/* 255.0.0.0/8 */
}

/*
 * Full-width random ranges against an O(n^2) reference: every random probe
 * address (and every range end +-1) is inside the merged set exactly when it
 * is inside one of the input ranges.
 */
static void test_random_wide_ranges(void **state)
{
	for (int round = 0; round < 300; round++) {
		enum cidr_family f = round & 1 ? CIDR_V6 : CIDR_V4;
		size_t n = 1 + rnd() % 60;
		struct range in[64];
		struct rangeset rs;

		rangeset_init(&rs);
		for (size_t i = 0; i < n; i++) {
			u128 a = (((u128)rnd() << 64) | rnd()) & cidr_max(f);
			u128 len = rnd() % 4 ? rnd() % 1000 : ((u128)rnd() << 60) & cidr_max(f);

			if (rnd() % 10 == 0)
				a = cidr_max(f) - rnd() % 3;	/* near the top */
			if (rnd() % 10 == 0)
				a = rnd() % 3;			/* near the bottom */
			in[i].lo = a;
			in[i].hi = len > cidr_max(f) - a ? cidr_max(f) : a + len;
			assert_int_equal(rangeset_add(&rs, in[i].lo, in[i].hi), 0);
		}
		rangeset_normalize(&rs);
		check_normalized(&rs, f);
		for (size_t k = 0; k < n * 6; k++) {
			size_t i = k / 6;
			u128 probe;

			switch (k % 6) {
			case 0: probe = in[i].lo; break;
			case 1: probe = in[i].hi; break;
			case 2: probe = in[i].lo - 1; break;
			case 3: probe = in[i].hi + 1; break;
			default: probe = ((((u128)rnd() << 64) | rnd())) & cidr_max(f); break;
			}
			probe &= cidr_max(f);
			int want = 0, got = 0;

			for (size_t j = 0; j < n; j++)
				want |= in[j].lo <= probe && probe <= in[j].hi;
			for (size_t j = 0; j < rs.n; j++)
				got |= rs.r[j].lo <= probe && probe <= rs.r[j].hi;
			assert_int_equal(got, want);
		}
		/* minimal: every gap between two output ranges is uncovered by the input */
		for (size_t j = 1; j < rs.n; j++) {
			u128 gap = rs.r[j - 1].hi + 1;

			for (size_t i = 0; i < n; i++)
				assert_false(in[i].lo <= gap && gap <= in[i].hi);
		}
		rangeset_fini(&rs);
	}
}

static void test_range_str(void **state)
{
	struct range r = { 0, cidr_max(CIDR_V4) };
	char buf[100];

	assert_string_equal(range_str(CIDR_V4, &r, buf, sizeof(buf)), "0.0.0.0/0");
	r.lo = 1;
	assert_string_equal(range_str(CIDR_V4, &r, buf, sizeof(buf)), "0.0.0.1-255.255.255.255");
	r.lo = 0;
	r.hi = cidr_max(CIDR_V6);
	assert_string_equal(range_str(CIDR_V6, &r, buf, sizeof(buf)), "::/0");
	r.lo = r.hi;
	assert_string_equal(range_str(CIDR_V6, &r, buf, sizeof(buf)),
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

/* The allow_file fast path agrees with cidr_parse() on everything it accepts. */
static void test_fast_v4_matches(void **state)
{
	static const char alpha[] = "0123456789./";
	char buf[40];
	unsigned accepted = 0;

	(void)state;
	srand(11);
	for (int i = 0; i < 400000; i++) {
		struct cidr fast, slow;
		size_t n;

		if (i % 2) {
			/* canonical forms: must be accepted */
			unsigned a = (unsigned)rand() << 1 ^ (unsigned)rand();
			int plen = rand() % 34;

			if (plen == 33 || plen == 0) {
				n = (size_t)snprintf(buf, sizeof(buf), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
						     (a >> 8) & 255, a & 255);
				plen = 32;
			} else {
				a &= plen == 32 ? 0xffffffffu : ~(0xffffffffu >> plen);
				n = (size_t)snprintf(buf, sizeof(buf), "%u.%u.%u.%u/%d", a >> 24, (a >> 16) & 255,
						     (a >> 8) & 255, a & 255, plen);
			}
			assert_true(cidr_parse_v4_fast(buf, n, &fast));
			assert_int_equal(fast.plen, plen);
		} else {
			/* noise from the same alphabet */
			n = 1 + (size_t)(rand() % 20);
			for (size_t k = 0; k < n; k++)
				buf[k] = alpha[rand() % (sizeof(alpha) - 1)];
			buf[n] = '\0';
			if (!cidr_parse_v4_fast(buf, n, &fast))
				continue;
		}
		accepted++;
		if (cidr_parse(buf, &slow) != CIDR_OK)
			fail_msg("'%s': fast path accepted what cidr_parse() refuses", buf);
		assert_int_equal(slow.family, fast.family);
		assert_int_equal(slow.plen, fast.plen);
		assert_true(slow.addr == fast.addr);
	}
	assert_true(accepted >= 200000);
	/* what it leaves to the slow path */
	assert_false(cidr_parse_v4_fast("01.2.3.4", 8, &(struct cidr){ 0 }));
	assert_false(cidr_parse_v4_fast("1.2.3.4/024", 11, &(struct cidr){ 0 }));
	assert_false(cidr_parse_v4_fast("1.2.3.4/0", 9, &(struct cidr){ 0 }));
	assert_false(cidr_parse_v4_fast("1.2.3.5/24", 10, &(struct cidr){ 0 }));
	assert_false(cidr_parse_v4_fast("1.2.3.4 ", 8, &(struct cidr){ 0 }));
	assert_false(cidr_parse_v4_fast("256.1.1.1", 9, &(struct cidr){ 0 }));
	assert_false(cidr_parse_v4_fast("1.2.3", 5, &(struct cidr){ 0 }));
	assert_false(cidr_parse_v4_fast("1.2.3.4/33", 10, &(struct cidr){ 0 }));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_hostbits),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_bytes_roundtrip),
		cmocka_unit_test(test_merge_v4),
		cmocka_unit_test(test_merge_v6),
		cmocka_unit_test(test_range_prefix_len),
		cmocka_unit_test(test_count_and_equal),
		cmocka_unit_test(test_range_str),
		cmocka_unit_test(test_random_wide_ranges),
		cmocka_unit_test(test_random_v4_million),
		cmocka_unit_test(test_random_v6_million),
		cmocka_unit_test(test_random_top_v4),
		cmocka_unit_test(test_random_top_v6),
		cmocka_unit_test(test_fast_v4_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
