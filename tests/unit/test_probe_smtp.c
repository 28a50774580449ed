// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the SMTP reply parsers (src/probe_smtp.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "probe_smtp.h"

static int parse(const char *s, struct probe_smtp_reply *r)
{
	return probe_smtp_reply_parse(s, strlen(s), r);
}

static void test_greeting_single(void **state)
{
	struct probe_smtp_reply r;

	assert_int_equal(parse("220 mx ESMTP Postfix\r\n", &r), 1);
	assert_int_equal(r.code, 220);
	assert_int_equal(r.nlines, 1);
	assert_int_equal(r.len, 22);
	/* a bare LF ends a line too; trailing bytes are not part of the reply */
	assert_int_equal(parse("554 no\nEXTRA", &r), 1);
	assert_int_equal(r.code, 554);
	assert_int_equal(r.len, 7);
	/* code only */
	assert_int_equal(parse("220\r\n", &r), 1);
}

static void test_greeting_multiline(void **state)
{
	struct probe_smtp_reply r;

	assert_int_equal(parse("220-mx.example.net ESMTP\r\n220-second\r\n220 last\r\n", &r), 1);
	assert_int_equal(r.nlines, 3);
	assert_int_equal(parse("220-mx.example.net ESMTP\r\n220-sec", &r), 0);
	assert_int_equal(parse("220-mx\r\n250 mixed\r\n", &r), -EBADMSG);
}

static void test_incomplete(void **state)
{
	struct probe_smtp_reply r;

	assert_int_equal(parse("", &r), 0);
	assert_int_equal(parse("2", &r), 0);
	assert_int_equal(parse("22", &r), 0);
	assert_int_equal(parse("220", &r), 0);
	assert_int_equal(parse("220 mx", &r), 0);
}

static void test_garbage(void **state)
{
	struct probe_smtp_reply r;
	char longline[PROBE_SMTP_LINE_MAX + 10];

	assert_int_equal(parse("SSH-2.0-OpenSSH_9.2\r\n", &r), -EBADMSG);
	assert_int_equal(parse("HTTP/1.1 400 Bad\r\n", &r), -EBADMSG);
	assert_int_equal(parse("600 no\r\n", &r), -EBADMSG);
	assert_int_equal(parse("2x0 no\r\n", &r), -EBADMSG);
	assert_int_equal(parse("220x\r\n", &r), -EBADMSG);
	assert_int_equal(parse("22\r\n", &r), -EBADMSG);
	assert_int_equal(probe_smtp_reply_parse("220 a\0b\r\n", 9, &r), -EBADMSG);
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "220 ", 4);
	assert_int_equal(probe_smtp_reply_parse(longline, sizeof(longline), &r), -EBADMSG);
}

static void test_too_many_lines(void **state)
{
	char buf[(PROBE_SMTP_LINES_MAX + 2) * 6];
	struct probe_smtp_reply r;
	size_t o = 0;

	for (int i = 0; i < PROBE_SMTP_LINES_MAX + 1; i++) {
		memcpy(buf + o, "220-x\n", 6);
		o += 6;
	}
	assert_int_equal(probe_smtp_reply_parse(buf, o, &r), -EBADMSG);
}

static void test_ehlo_caps(void **state)
{
	const char *s = "250-mx.portlock.test Hello x [192.0.2.10]\r\n250-PIPELINING\r\n"
			"250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n"
			"250-AUTH=LOGIN\r\n250-8BITMIME\r\n250-x-bogus!\r\n250 CHUNKING\r\n";
	struct probe_smtp_caps c;

	assert_int_equal(probe_smtp_ehlo_parse(s, strlen(s), &c), 0);
	assert_true(c.flags & PROBE_SMTP_CAP_PIPELINING);
	assert_true(c.flags & PROBE_SMTP_CAP_STARTTLS);
	assert_true(c.flags & PROBE_SMTP_CAP_AUTH);
	assert_true(c.flags & PROBE_SMTP_CAP_8BITMIME);
	assert_true(c.flags & PROBE_SMTP_CAP_CHUNKING);
	assert_false(c.flags & PROBE_SMTP_CAP_DSN);
	assert_int_equal(c.size, 10240000);
	assert_string_equal(c.auth, "PLAIN LOGIN");
	assert_string_equal(c.keywords, "PIPELINING SIZE STARTTLS AUTH AUTH 8BITMIME CHUNKING");
	assert_string_equal(c.first_line, "mx.portlock.test Hello x [192.0.2.10]");
}

static void test_ehlo_refused(void **state)
{
	struct probe_smtp_caps c;

	assert_int_equal(probe_smtp_ehlo_parse("502 no\r\n", 8, &c), -ENOMSG);
	assert_int_equal(probe_smtp_ehlo_parse("garbage\r\n", 9, &c), -EBADMSG);
	assert_int_equal(probe_smtp_ehlo_parse("250-x\r\n", 7, &c), -EBADMSG);
}

static void test_ehlo_escapes(void **state)
{
	const char s[] = "250-h\x01st\r\n250 AUTH PL\x7f" "AIN 'x' GOOD\r\n";
	struct probe_smtp_caps c;

	assert_int_equal(probe_smtp_ehlo_parse(s, sizeof(s) - 1, &c), 0);
	assert_string_equal(c.first_line, "h\\x01st");
	assert_string_equal(c.auth, "GOOD");
}

static void test_reply_text(void **state)
{
	const char s[] = "214-Commands supported:\r\n214 AUTH HELO\x80\r\n";
	char out[64];

	probe_smtp_reply_text(s, sizeof(s) - 1, out, sizeof(out));
	assert_string_equal(out, "Commands supported:\nAUTH HELO?");
	probe_smtp_reply_text(s, sizeof(s) - 1, out, 5);
	assert_string_equal(out, "Comm");
}

static void test_ftp(void **state)
{
	assert_true(probe_smtp_text_looks_ftp("(vsFTPd 3.0.3)"));
	assert_true(probe_smtp_text_looks_ftp("ProFTPD Server ready"));
	assert_false(probe_smtp_text_looks_ftp("mx ESMTP Postfix"));
	assert_false(probe_smtp_text_looks_ftp("SMTP and FTP gateway"));
}

static void test_tests_table(void **state)
{
	for (int i = 0; i < PROBE_SMTP_NTESTS; i++) {
		assert_non_null(probe_smtp_tests[i].name);
		assert_non_null(probe_smtp_tests[i].cmds[0]);
	}
	assert_string_equal(probe_smtp_tests[PROBE_SMTP_NTESTS - 1].cmds[0],
			    "EHLO probe.portlock.invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_single), cmocka_unit_test(test_greeting_multiline),
		cmocka_unit_test(test_incomplete),	cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_too_many_lines),	cmocka_unit_test(test_ehlo_caps),
		cmocka_unit_test(test_ehlo_refused),	cmocka_unit_test(test_ehlo_escapes),
		cmocka_unit_test(test_reply_text),	cmocka_unit_test(test_ftp),
		cmocka_unit_test(test_tests_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
