// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the fingerprint loader and matcher (src/fingerprint.c),
 * including the shipped data/fingerprints.conf. */
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

static const int postfix_codes[PROBE_SMTP_NTESTS] = { 250, 501, 501, 250, 501, 501, 554, 500,
						      554, 500, 500, 500, 500, 250, 250 };
static const int exim_codes[PROBE_SMTP_NTESTS] = { 503, 501, 500, 250, 501, 501, 501, 214,
						   501, 550, 500, 500, 500, 250, 250 };

static void load_shipped(struct fp_db *db)
{
	struct diag d;

	diag_init(&d);
	assert_int_equal(fingerprint_db_load(db, PL_SOURCE_DIR "/data/fingerprints.conf", &d), 0);
	assert_int_equal(d.nerrors, 0);
	assert_true(db->n > 10);
	diag_fini(&d);
}

static void test_shipped_banner(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	struct fp_input in = { .banner = "mx.example.net ESMTP Postfix (Debian/GNU)" };

	load_shipped(&db);
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "Postfix");
	assert_int_equal(g.confidence, 95);
	assert_string_equal(g.basis, "banner");
	in.banner = "mx ESMTP Exim 4.96 Mon, 23 Nov 2026";
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "Exim");
	in.banner = "mx ESMTP ready";
	fingerprint_match(&db, &in, &g);
	assert_int_equal(g.confidence, 0);
	assert_string_equal(g.software, "");
	fingerprint_db_fini(&db);
}

static void test_shipped_behaviour(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	int codes[PROBE_SMTP_NTESTS];
	const char *replies[PROBE_SMTP_NTESTS] = { 0 };
	struct fp_input in = {
		.banner = "mx ESMTP Exim 4.96",	/* a lie */
		.keywords = "PIPELINING SIZE VRFY ETRN STARTTLS ENHANCEDSTATUSCODES 8BITMIME DSN "
			    "SMTPUTF8 CHUNKING",
	};

	load_shipped(&db);
	/*
	 * keywords alone outweigh the lying banner (which counts half), but a
	 * keyword set is shared by many MTAs: unknown, Postfix only the closest
	 */
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	assert_int_equal(g.confidence, 0);
	assert_string_equal(g.closest, "Postfix");
	assert_string_equal(g.basis, "ehlo");
	memcpy(codes, postfix_codes, sizeof(codes));
	codes[6] = 250;	/* a relay policy that differs: tolerated */
	in.codes = codes;
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	assert_string_equal(g.closest, "Postfix");
	assert_true(g.closest_confidence >= 95);
	/* Postfix's own reply text names it */
	replies[7] = "5.5.2 Error: command not recognized";
	in.replies = replies;
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "Postfix");
	assert_true(g.confidence >= 95);
	assert_string_equal(g.basis, "ehlo+codes(1 differ)+replies");
	/* Exim's behaviour with no banner and no keywords: codes alone */
	in.banner = "mx ESMTP";
	in.keywords = NULL;
	in.codes = exim_codes;
	in.replies = NULL;
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "");
	assert_string_equal(g.closest, "Exim");
	replies[7] = "Commands supported:";
	in.replies = replies;
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "Exim");
	fingerprint_db_fini(&db);
}

static void test_ehlo_text(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	struct fp_input in = { .ehlo_text = "mx Hello probe.portlock.invalid [192.0.2.10]\nSIZE 52428800" };

	load_shipped(&db);
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "Exim");
	assert_string_equal(g.basis, "ehlo-text");
	fingerprint_db_fini(&db);
}

static void test_replies(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	const char *replies[PROBE_SMTP_NTESTS] = { 0 };
	int codes[PROBE_SMTP_NTESTS] = { 503, 501, 501, 250, 250, 250, 250, 250,
					 252, 502, 500, 500, 500, 250, 250 };
	struct fp_input in = { .codes = codes, .replies = replies };

	load_shipped(&db);
	replies[7] = "Supported commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY";
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "Python smtpd");
	replies[7] = "Supported commands: AUTH DATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET VRFY";
	fingerprint_match(&db, &in, &g);
	assert_string_equal(g.software, "aiosmtpd");
	fingerprint_db_fini(&db);
}

static int load_text(const char *text, struct fp_db *db, struct diag *d)
{
	char path[] = "/tmp/pl-fp-XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f = fdopen(fd, "w");

	fputs(text, f);
	fclose(f);
	rc = fingerprint_db_load(db, path, d);
	unlink(path);
	return rc;
}

static void test_bad_lines(void **state)
{
	struct fp_db db;
	struct diag d;

	diag_init(&d);
	assert_int_equal(load_text("# comment\n\nA | banner | 50 | x\n"
				   "B | nope | 50 | x\n"
				   "C | banner | 0 | x\n"
				   "D | banner | 50 | (unclosed\n"
				   "E | codes | 50 | 250 250\n"
				   "F | reply 15 | 50 | x\n"
				   "G | banner | 50 |\n"
				   "no bars here\n",
				   &db, &d),
			 -EINVAL);
	assert_int_equal(d.nerrors, 7);
	assert_int_equal(d.recs[0].line, 4);
	assert_string_equal(d.recs[0].msg, "unknown kind 'nope'");
	assert_int_equal(db.n, 0);
	diag_fini(&d);
	diag_init(&d);
	assert_int_equal(fingerprint_db_load(&db, "/nonexistent/fp.conf", &d), -ENOENT);
	assert_int_equal(d.nerrors, 0);
	diag_fini(&d);
}

static void test_ehlo_optional(void **state)
{
	struct fp_db db;
	struct fp_guess g;
	struct diag d;
	struct fp_input in = { .keywords = "A C D" };

	diag_init(&d);
	assert_int_equal(load_text("S | ehlo | 80 | A B? C D?\n", &db, &d), 0);
	fingerprint_match(&db, &in, &g);
	assert_int_equal(g.closest_confidence, 80);
	assert_string_equal(g.software, "");	/* keywords never name alone */
	in.keywords = "C A D";	/* out of order: a partial match at most */
	fingerprint_match(&db, &in, &g);
	assert_true(g.closest_confidence < 80);
	in.keywords = "A B D";	/* C is required */
	fingerprint_match(&db, &in, &g);
	assert_true(g.closest_confidence < 80);
	in.keywords = "A C D X Y Z";	/* unknown keywords: no full match */
	fingerprint_match(&db, &in, &g);
	assert_int_equal(g.closest_confidence, 0);
	fingerprint_db_fini(&db);
	diag_fini(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_banner), cmocka_unit_test(test_shipped_behaviour),
		cmocka_unit_test(test_ehlo_text),      cmocka_unit_test(test_replies),
		cmocka_unit_test(test_bad_lines),      cmocka_unit_test(test_ehlo_optional),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
