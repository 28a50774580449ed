// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for when fingerprint_match() names a software and when it says
 * "unknown" (FP_IDENTITY_MIN, FP_NAME_MIN, FP_MARGIN in src/fingerprint.h),
 * on signature files and inputs built here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "diag.h"
#include "fingerprint.h"
#include "probe.h"

static void load_text(const char *text, struct fp_db *db)
{
	char path[] = "/tmp/pl-fpt-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	struct diag d;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	diag_init(&d);
	assert_int_equal(fingerprint_db_load(db, path, &d), 0);
	diag_fini(&d);
	unlink(path);
}

static const int codes_a[PROBE_SMTP_NTESTS] = { 250, 501, 501, 250, 501, 501, 554, 500,
						 554, 500, 500, 500, 500, 250, 250 };
#define CODES_A "250 501 501 250 501 501 554 500 554 500 500 500 500 250 250"

/* Generic evidence (codes, keywords) never names a software, however high. */
static void test_generic_only(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	struct fp_input in = { .keywords = "PIPELINING SIZE 8BITMIME", .codes = codes_a };

	load_text("A | banner | 95 | ESMTP A-Mail\nA | ehlo | 90 | PIPELINING SIZE 8BITMIME\n"
		  "A | codes | 95 | " CODES_A "\n",
		  &db);
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	assert_int_equal(g.confidence, 0);
	assert_string_equal(g.closest, "A");
	assert_int_equal(g.closest_confidence, 99);
	assert_string_equal(g.basis, "ehlo+codes");
	assert_non_null(strstr(g.why, "no identifying match"));
	/* the banner bears the identity: named */
	in.banner = "mx ESMTP A-Mail";
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "A");
	assert_int_equal(g.confidence, 99);
	assert_string_equal(g.closest, "");
	assert_int_equal(g.closest_confidence, 0);
	assert_string_equal(g.basis, "banner+ehlo+codes");
	fingerprint_db_fini(&db);
}

/* A text signature below FP_IDENTITY_MIN is supporting evidence only. */
static void test_weak_text(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	const char *replies[PROBE_SMTP_NTESTS] = { 0 };
	struct fp_input in = { .ehlo_text = "mx Hello x [192.0.2.10], pleased to meet you",
			       .codes = codes_a, .replies = replies };

	load_text("B | ehlo-text | 59 | pleased to meet you$\n"
		  "B | codes | 85 | " CODES_A "\n"
		  "B | reply 7 | 60 | ^help text of B$\n",
		  &db);
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	assert_string_equal(g.closest, "B");
	assert_true(g.closest_confidence >= FP_NAME_MIN);
	replies[7] = "help text of B";	/* confidence 60: identity-bearing */
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "B");
	assert_string_equal(g.basis, "ehlo-text+codes+replies");
	fingerprint_db_fini(&db);
}

/* Identity-bearing, but the score stays below FP_NAME_MIN. */
static void test_below_threshold(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	struct fp_input in = { .banner = "mx ESMTP C-Mail" };

	load_text("C | banner | 69 | ESMTP C-Mail\nD | banner | 70 | ESMTP D-Mail\n", &db);
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	assert_string_equal(g.closest, "C");
	assert_int_equal(g.closest_confidence, 69);
	assert_non_null(strstr(g.why, "below 70%"));
	in.banner = "mx ESMTP D-Mail";	/* exactly FP_NAME_MIN */
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "D");
	assert_int_equal(g.confidence, 70);
	fingerprint_db_fini(&db);
}

/* Two products with identity-bearing matches: the winner needs FP_MARGIN. */
static void test_margin(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	struct fp_input in = { .banner = "mx ESMTP E-Mail F-Mail" };

	load_text("E | banner | 90 | E-Mail\nF | banner | 75 | F-Mail\n"
		  "G | banner | 90 | G-Mail\nH | banner | 71 | H-Mail\n",
		  &db);
	fingerprint_match(&db, &in, &g);	/* 90 vs 75: 15 points */
	assert_string_equal(g.software, "");
	assert_string_equal(g.closest, "E");
	assert_int_equal(g.closest_confidence, 90);
	assert_non_null(strstr(g.why, "within 20 points"));
	in.banner = "mx ESMTP G-Mail H-Mail";	/* 90 vs 71: 19 points */
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	in.banner = "mx ESMTP E-Mail H-Mail";	/* 90 vs 71... still 19 */
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	fingerprint_db_fini(&db);
	load_text("E | banner | 90 | E-Mail\nH | banner | 70 | H-Mail\n", &db);
	fingerprint_match(&db, &in, &g);	/* 90 vs 70: exactly the margin */
	assert_string_equal(g.software, "E");
	assert_int_equal(g.confidence, 90);
	fingerprint_db_fini(&db);
}

/*
 * A product that matches only on shared evidence but scores above the named
 * one contradicts it: unknown. Below it, it does not matter (aiosmtpd and
 * Python's smtpd share every code).
 */
static void test_generic_outscores(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	struct fp_input in = { .banner = "mx ESMTP I-Mail", .codes = codes_a };

	load_text("I | banner | 80 | I-Mail\nJ | codes | 90 | " CODES_A "\n", &db);
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	assert_string_equal(g.closest, "J");
	assert_non_null(strstr(g.why, "outscored by J"));
	fingerprint_db_fini(&db);
	load_text("I | banner | 80 | I-Mail\nI | codes | 80 | " CODES_A "\n"
		  "J | codes | 90 | " CODES_A "\n",
		  &db);
	fingerprint_match(&db, &in, &g);	/* I: 96, J: 90 */
	assert_string_equal(g.software, "I");
	assert_int_equal(g.confidence, 96);
	fingerprint_db_fini(&db);
}

/* A lying banner (counts half when behaviour does not back it) names nothing. */
static void test_unbacked_banner(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	struct fp_input in = { .banner = "mx ESMTP K-Mail", .keywords = "X Y Z" };

	load_text("K | banner | 95 | K-Mail\nK | ehlo | 70 | A B C\n", &db);
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	assert_string_equal(g.closest, "K");
	assert_int_equal(g.closest_confidence, 48);
	fingerprint_db_fini(&db);
}

/* Nothing matched: neither a name nor a closest match. */
static void test_nothing(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	struct fp_input in = { .banner = "mx ESMTP" };

	load_text("L | banner | 95 | L-Mail\n", &db);
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	assert_string_equal(g.closest, "");
	assert_int_equal(g.confidence, 0);
	assert_int_equal(g.closest_confidence, 0);
	assert_string_equal(g.why, "");
	fingerprint_db_fini(&db);
	fingerprint_match(NULL, &in, &g);
	assert_string_equal(g.closest, "");
}

/* The closest match crosses from the probe child to the parent, checked. */
static void test_records_closest(void **state)
{
	struct probe_result r, back;
	uint8_t buf[40000];
	bool seen;
	int n;

	memset(&r, 0, sizeof(r));
	strcpy(r.target, "192.0.2.1:2527");
	r.service = PROBE_SVC_SMTP;
	strcpy(r.closest, "Exim");
	r.closest_confidence = 73;
	strcpy(r.software_basis, "ehlo+codes(3 differ)");
	n = probe_result_encode(0, &r, buf, sizeof(buf));
	assert_true(n > 12);
	memcpy(buf + n, "PLPR\xff\xff\xff\xff\0\0\0\0", 12);
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), 0);
	assert_true(seen);
	assert_memory_equal(&back, &r, sizeof(r));
	/* out of bounds, or a name and a closest match at once: rejected */
	r.closest_confidence = 101;
	n = probe_result_encode(0, &r, buf, sizeof(buf));
	memcpy(buf + n, "PLPR\xff\xff\xff\xff\0\0\0\0", 12);
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), -EBADMSG);
	r.closest_confidence = 73;
	strcpy(r.software, "Postfix");
	r.confidence = 90;
	n = probe_result_encode(0, &r, buf, sizeof(buf));
	memcpy(buf + n, "PLPR\xff\xff\xff\xff\0\0\0\0", 12);
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generic_only),	  cmocka_unit_test(test_weak_text),
		cmocka_unit_test(test_below_threshold),	  cmocka_unit_test(test_margin),
		cmocka_unit_test(test_generic_outscores), cmocka_unit_test(test_unbacked_banner),
		cmocka_unit_test(test_nothing),		  cmocka_unit_test(test_records_closest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
