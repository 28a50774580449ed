// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for SMPP encode/decode (src/probe_smpp.c) and the probe's
 * target parser and result records (src/probe.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "probe.h"
#include "probe_smpp.h"

static void test_enquire_link(void **state)
{
	static const uint8_t want[16] = { 0, 0, 0, 0x10, 0, 0, 0, 0x15, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78 };
	uint8_t pdu[16];

	probe_smpp_encode_hdr(pdu, PROBE_SMPP_ENQUIRE_LINK, 0, 0x12345678);
	assert_memory_equal(pdu, want, 16);
}

static void test_bind(void **state)
{
	uint8_t pdu[PROBE_SMPP_BIND_MAX];
	struct probe_smpp_hdr h;
	int n = probe_smpp_encode_bind(pdu, sizeof(pdu), 7, "portlock", "probe");

	assert_int_equal(n, 16 + 9 + 6 + 1 + 3 + 1);
	assert_int_equal(probe_smpp_decode_hdr(pdu, (size_t)n, &h), 0);
	assert_int_equal(h.len, (uint32_t)n);
	assert_int_equal(h.id, PROBE_SMPP_BIND_TRANSMITTER);
	assert_int_equal(h.seq, 7);
	assert_string_equal((char *)pdu + 16, "portlock");
	assert_int_equal(pdu[n - 4], 0x34);
	assert_int_equal(probe_smpp_encode_bind(pdu, sizeof(pdu), 7, "0123456789abcdef", "x"), -EINVAL);
	assert_int_equal(probe_smpp_encode_bind(pdu, sizeof(pdu), 7, "x", "123456789"), -EINVAL);
	assert_int_equal(probe_smpp_encode_bind(pdu, 20, 7, "x", "y"), -EINVAL);
}

static void test_check_reply(void **state)
{
	struct probe_smpp_hdr h = { 16, PROBE_SMPP_ENQUIRE_LINK_RESP, 0, 42 };
	uint8_t short_buf[15] = { 0 };

	assert_int_equal(probe_smpp_decode_hdr(short_buf, sizeof(short_buf), &h), -EAGAIN);
	h = (struct probe_smpp_hdr){ 16, PROBE_SMPP_ENQUIRE_LINK_RESP, 0, 42 };
	assert_int_equal(probe_smpp_check_reply(&h, PROBE_SMPP_ENQUIRE_LINK, 42), 0);
	h.id = PROBE_SMPP_GENERIC_NACK;
	h.status = 3;
	assert_int_equal(probe_smpp_check_reply(&h, PROBE_SMPP_ENQUIRE_LINK, 42), 0);
	h.seq = 43;	/* must echo our sequence number */
	assert_int_equal(probe_smpp_check_reply(&h, PROBE_SMPP_ENQUIRE_LINK, 42), -EPROTO);
	h = (struct probe_smpp_hdr){ 0xffffffffu, PROBE_SMPP_ENQUIRE_LINK_RESP, 0, 42 };
	assert_int_equal(probe_smpp_check_reply(&h, PROBE_SMPP_ENQUIRE_LINK, 42), -EBADMSG);
	h = (struct probe_smpp_hdr){ 17, PROBE_SMPP_ENQUIRE_LINK_RESP, 0, 42 };
	assert_int_equal(probe_smpp_check_reply(&h, PROBE_SMPP_ENQUIRE_LINK, 42), -EBADMSG);
	h = (struct probe_smpp_hdr){ 0x48545450u, 0x2f312e31u, 0x20343030u, 0x20426164u };
	assert_int_equal(probe_smpp_check_reply(&h, PROBE_SMPP_ENQUIRE_LINK, 42), -EPROTO);
	h = (struct probe_smpp_hdr){ 25, PROBE_SMPP_BIND_TRANSMITTER_RESP, 0x0e, 9 };
	assert_int_equal(probe_smpp_check_reply(&h, PROBE_SMPP_BIND_TRANSMITTER, 9), 0);
	h.len = 5000;
	assert_int_equal(probe_smpp_check_reply(&h, PROBE_SMPP_BIND_TRANSMITTER, 9), -EBADMSG);
}

static void test_names(void **state)
{
	assert_string_equal(probe_smpp_cmd_name(0x80000015u), "enquire_link_resp");
	assert_string_equal(probe_smpp_cmd_name(0x12345u), "unknown");
	assert_string_equal(probe_smpp_status_name(0x0e), "ESME_RINVPASWD");
	assert_null(probe_smpp_status_name(0x77));
}

static void test_target_parse(void **state)
{
	struct probe_target t;

	assert_int_equal(probe_target_parse("192.0.2.10:2775", &t), 0);
	assert_string_equal(t.host, "192.0.2.10");
	assert_int_equal(t.port, 2775);
	assert_int_equal(probe_target_parse("[2001:db8::5]:587", &t), 0);
	assert_string_equal(t.host, "2001:db8::5");
	assert_int_equal(t.port, 587);
	assert_int_equal(probe_target_parse("mail.example.net:25", &t), 0);
	assert_string_equal(t.spec, "mail.example.net:25");
	assert_int_equal(probe_target_parse("2001:db8::5:587", &t), -EINVAL);
	assert_int_equal(probe_target_parse("host", &t), -EINVAL);
	assert_int_equal(probe_target_parse("host:", &t), -EINVAL);
	assert_int_equal(probe_target_parse(":25", &t), -EINVAL);
	assert_int_equal(probe_target_parse("host:0", &t), -ERANGE);
	assert_int_equal(probe_target_parse("host:65536", &t), -ERANGE);
	assert_int_equal(probe_target_parse("host:-1", &t), -EINVAL);
	assert_int_equal(probe_target_parse("host:25x", &t), -EINVAL);
	assert_int_equal(probe_target_parse("[::1]25", &t), -EINVAL);
	assert_int_equal(probe_target_parse("ho st:25", &t), -EINVAL);
}

static void test_service_names(void **state)
{
	for (int i = 0; i < PROBE_SVC_MAX; i++)
		assert_int_equal(probe_service_parse(probe_service_name(i)), i);
	assert_int_equal(probe_service_parse("ftp"), -EINVAL);
}

static void test_records(void **state)
{
	struct probe_result r[2], back[2];
	uint8_t buf[40000];
	bool seen[2];
	size_t o = 0;
	int n;

	memset(r, 0, sizeof(r));
	strcpy(r[0].target, "192.0.2.1:25");
	r[0].service = PROBE_SVC_SMTP;
	r[0].smtp_size = 1ull << 40;
	strcpy(r[0].evidence, "220 mx ESMTP\\r\\n");
	strcpy(r[1].target, "192.0.2.1:2775");
	r[1].service = PROBE_SVC_SMPP;
	r[1].smpp_cmd = 0x80000015u;
	for (uint32_t i = 0; i < 2; i++) {
		n = probe_result_encode(i, &r[i], buf + o, sizeof(buf) - o);
		assert_true(n > 12);
		o += (size_t)n;
	}
	memcpy(buf + o, "PLPR\xff\xff\xff\xff\0\0\0\0", 12);
	o += 12;
	assert_int_equal(probe_results_decode(buf, o, back, 2, seen), 0);
	assert_true(seen[0] && seen[1]);
	assert_memory_equal(&back[0], &r[0], sizeof(r[0]));
	assert_memory_equal(&back[1], &r[1], sizeof(r[1]));
	/* truncated, without the end record, or with a non-printable string: rejected */
	assert_int_equal(probe_results_decode(buf, o - 12, back, 2, seen), -EBADMSG);
	assert_int_equal(probe_results_decode(buf, o - 1, back, 2, seen), -EBADMSG);
	assert_int_equal(probe_results_decode(buf, o, back, 1, seen), -EBADMSG);
	buf[12 + 3] = '\n';	/* first byte of the first string field */
	assert_int_equal(probe_results_decode(buf, o, back, 2, seen), -EBADMSG);
}

/* The address list of a name (field 31): round trip and strict decoding. */
static void test_record_addrs(void **state)
{
	struct probe_result r, back;
	uint8_t buf[20000], *f;
	bool seen;
	int n;

	memset(&r, 0, sizeof(r));
	strcpy(r.target, "localhost:25");
	strcpy(r.addr, "127.0.0.1");
	r.service = PROBE_SVC_SMTP;
	r.naddrs = 2;
	strcpy(r.addrs[0].addr, "::1");
	r.addrs[0].outcome = PROBE_OUT_REFUSED;
	r.addrs[0].service = PROBE_SVC_CLOSED;
	strcpy(r.addrs[1].addr, "127.0.0.1");
	r.addrs[1].outcome = PROBE_OUT_ANSWERED;
	r.addrs[1].service = PROBE_SVC_SMTP;
	r.addrs[1].start_ms = 250;
	n = probe_result_encode(0, &r, buf, sizeof(buf));
	assert_true(n > 12);
	memcpy(buf + n, "PLPR\xff\xff\xff\xff\0\0\0\0", 12);
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), 0);
	assert_memory_equal(&back, &r, sizeof(r));

	/* the list is the record's last field: id, u16 length, count, entries */
	f = buf + n - (3 + 1 + (1 + 3 + 6) + (1 + 9 + 6));
	assert_int_equal(f[0], 31);
	assert_int_equal(f[3], 2);
	f[3] = PROBE_ADDRS_MAX + 1;	/* more than the array holds */
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), -EBADMSG);
	f[3] = 1;			/* fewer than the bytes: left over */
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), -EBADMSG);
	f[3] = 2;
	f[5] = 0x07;			/* a control byte in an address */
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), -EBADMSG);
	f[5] = ':';
	f[4] = 200;			/* an address longer than the field */
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), -EBADMSG);
	f[4] = 3;
	f[8] = PROBE_OUT_MAX;		/* outcome out of range */
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), -EBADMSG);
	f[8] = PROBE_OUT_REFUSED;
	f[9] = PROBE_SVC_MAX;		/* service out of range */
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), -EBADMSG);
	f[9] = PROBE_SVC_CLOSED;
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), 0);

	/* an unresolved name: no address at all */
	memset(&r, 0, sizeof(r));
	strcpy(r.target, "nosuch.invalid:25");
	r.service = PROBE_SVC_UNRESOLVED;
	strcpy(r.note, "cannot resolve 'nosuch.invalid': Name or service not known");
	n = probe_result_encode(0, &r, buf, sizeof(buf));
	assert_true(n > 12);
	memcpy(buf + n, "PLPR\xff\xff\xff\xff\0\0\0\0", 12);
	assert_int_equal(probe_results_decode(buf, (size_t)n + 12, &back, 1, &seen), 0);
	assert_memory_equal(&back, &r, sizeof(r));
}

static void test_outcome_names(void **state)
{
	for (int i = 0; i < PROBE_OUT_MAX; i++) {
		assert_string_not_equal(probe_outcome_name(i), "invalid");
		for (int k = 0; k < i; k++)
			assert_string_not_equal(probe_outcome_name(i), probe_outcome_name(k));
	}
	assert_string_equal(probe_outcome_name(PROBE_OUT_NOT_TRIED), "not tried");
	assert_string_equal(probe_outcome_name(PROBE_OUT_MAX), "invalid");
	assert_string_equal(probe_service_name(PROBE_SVC_UNRESOLVED), "unresolved");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enquire_link), cmocka_unit_test(test_bind),
		cmocka_unit_test(test_check_reply),  cmocka_unit_test(test_names),
		cmocka_unit_test(test_target_parse), cmocka_unit_test(test_service_names),
		cmocka_unit_test(test_records),      cmocka_unit_test(test_record_addrs),
		cmocka_unit_test(test_outcome_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
