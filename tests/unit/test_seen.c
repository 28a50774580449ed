// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for seen.c's pure parts: grouping a seen set's entries by
 * source, the exact prefix cover `observed --learn` writes, the blocks of
 * --aggregate, and the time format.
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
#include "seen.h"

static u128 v4(const char *s)
{
	struct cidr c;

	assert_int_equal(cidr_parse(s, &c), CIDR_OK);
	return c.addr;
}

static void cover_str(enum cidr_family f, const char *lo, const char *hi, const char *want)
{
	struct cidr out[300];
	char buf[2048] = "", a[64];
	size_t n = seen_cover(f, v4(lo), v4(hi), out, 300);

	for (size_t i = 0; i < n; i++) {
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s/%d", i ? " " : "",
			 cidr_addr_str(f, out[i].addr, a, sizeof(a)), out[i].plen);
		assert_int_equal(out[i].family, f);
	}
	assert_string_equal(buf, want);
}

static void test_cover(void **state)
{
	(void)state;
	cover_str(CIDR_V4, "192.0.2.20", "192.0.2.20", "192.0.2.20/32");
	cover_str(CIDR_V4, "192.0.2.20", "192.0.2.21", "192.0.2.20/31");
	/* never wider than asked: 1..6 is not 0/29 */
	cover_str(CIDR_V4, "10.0.0.1", "10.0.0.6", "10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32");
	cover_str(CIDR_V4, "10.0.0.0", "10.0.0.255", "10.0.0.0/24");
	cover_str(CIDR_V4, "0.0.0.0", "255.255.255.255", "0.0.0.0/0");
	cover_str(CIDR_V4, "255.255.255.254", "255.255.255.255", "255.255.255.254/31");
	cover_str(CIDR_V6, "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64");
	cover_str(CIDR_V6, "2001:db8::1", "2001:db8::2", "2001:db8::1/128 2001:db8::2/128");
	cover_str(CIDR_V6, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0");
}

static void test_blocks(void **state)
{
	(void)state;
	assert_true(seen_block_lo(CIDR_V4, v4("192.0.2.20"), 24) == v4("192.0.2.0"));
	assert_true(seen_block_hi(CIDR_V4, v4("192.0.2.20"), 24) == v4("192.0.2.255"));
	assert_true(seen_block_lo(CIDR_V4, v4("192.0.2.20"), 32) == v4("192.0.2.20"));
	assert_true(seen_block_hi(CIDR_V4, v4("192.0.2.20"), 32) == v4("192.0.2.20"));
	assert_true(seen_block_lo(CIDR_V6, v4("2001:db8:1::20"), 64) == v4("2001:db8:1::"));
	assert_true(seen_block_hi(CIDR_V6, v4("2001:db8:1::20"), 64) == v4("2001:db8:1::ffff:ffff:ffff:ffff"));
	assert_true(seen_block_hi(CIDR_V6, 0, 0) == cidr_max(CIDR_V6));
}

static void test_group(void **state)
{
	struct seen_entry e[] = {
		{ .family = CIDR_V6, .addr = 1, .port = 25, .packets = 1, .bytes = 60, .last_seen = 50 },
		{ .family = CIDR_V4, .addr = 7, .port = 587, .packets = 2, .bytes = 100, .last_seen = 90 },
		{ .family = CIDR_V4, .addr = 7, .port = 25, .packets = 3, .bytes = 200, .last_seen = 80 },
		{ .family = CIDR_V4, .addr = 3, .port = 25, .packets = 5, .bytes = 300, .last_seen = 10 },
	};
	struct seen_source *g;
	size_t ng;

	(void)state;
	seen_sort(e, 4);
	assert_true(e[0].addr == 3 && e[1].addr == 7 && e[1].port == 25 && e[2].port == 587);
	assert_int_equal(e[3].family, CIDR_V6);
	assert_int_equal(seen_group(e, 4, &g, &ng), 0);
	assert_int_equal(ng, 3);
	assert_true(g[0].addr == 3 && g[0].nports == 1 && g[0].packets == 5);
	assert_true(g[1].addr == 7 && g[1].first == 1 && g[1].nports == 2);
	assert_int_equal(g[1].packets, 5);
	assert_int_equal(g[1].bytes, 300);
	assert_int_equal(g[1].last_seen, 90);	/* the latest of its ports */
	assert_true(g[2].family == CIDR_V6 && g[2].first == 3);
	free(g);
	assert_int_equal(seen_group(e, 0, &g, &ng), 0);
	assert_null(g);
	assert_int_equal(ng, 0);
}

static void test_names_times(void **state)
{
	char buf[64];

	(void)state;
	seen_set_name("smpp", false, CIDR_V4, buf, sizeof(buf));
	assert_string_equal(buf, "smpp_seen4");
	seen_set_name("smpp", true, CIDR_V6, buf, sizeof(buf));
	assert_string_equal(buf, "smpp_tmp6");
	assert_string_equal(seen_time_str(0, true, buf, sizeof(buf)), "-");
	assert_string_equal(seen_time_str(1796549185, true, buf, sizeof(buf)), "2026-12-06T09:26:25Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cover),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_names_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
