// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * report: the scanner export parser on a real nmap -sV -oX export (made by
 * tests/shell/audit/report.sh's scan against aiosmtpd and Net::SMPP) and a
 * hand-written .nessus with the four seed checks; malformed and hostile
 * documents (billion laughs, external entities, wrong root, too large); the
 * host filter; the judgement of an entry against built port states, with
 * every fix that is config checked by the config parser. No root, no network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "config.h"
#include "diag.h"
#include "policy.h"
#include "report.h"

static char *read_data(const char *name, size_t *len)
{
	char path[512];
	char *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", PL_TEST_DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static const struct report_entry *find(const struct report *r, uint16_t port, const char *check)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].port == port && strstr(r->v[i].check, check))
			return &r->v[i];
	return NULL;
}

/* parse text, expect failure at line with msg in the message */
static void expect_refused(const char *text, int line, const char *msg)
{
	struct report r;
	struct diag d;

	diag_init(&d);
	assert_int_equal(report_parse(text, strlen(text), "t.xml", &r, &d), -EINVAL);
	assert_int_equal(r.n, 0);
	assert_null(r.v);
	assert_int_equal(diag_exit_code(&d), PL_EXIT_CONFIG);
	assert_true(d.nrecs >= 1);
	assert_string_equal(d.recs[0].file, "t.xml");
	assert_int_equal(d.recs[0].line, line);
	if (!strstr(d.recs[0].msg, msg))
		fail_msg("'%s' lacks '%s'", d.recs[0].msg, msg);
	diag_fini(&d);
}

static void test_nmap(void **state)
{
	struct report r;
	struct diag d;
	size_t len;
	char *buf = read_data("report_nmap.xml", &len);
	const struct report_entry *e;

	diag_init(&d);
	assert_int_equal(report_parse(buf, len, "scan.xml", &r, &d), 0);
	assert_int_equal(r.format, REPORT_FMT_NMAP);
	assert_int_equal(r.nhosts, 1);
	assert_int_equal(r.n, 3);
	e = find(&r, 25, "nmap -sV: smtp");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_SMTP);
	assert_string_equal(e->address, "192.0.2.1");
	assert_false(e->udp);
	assert_int_equal(e->line, 20);
	assert_non_null(strstr(e->evidence, "sent: 220 localhost Python SMTP"));
	assert_string_equal(report_finding_id(e), "smtp-standard-port");
	e = find(&r, 2525, "smtp");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_SMTP_NS);
	assert_string_equal(report_finding_id(e), "smtp-nonstandard-port");
	e = find(&r, 2775, "smpp");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_SMPP);
	/* a binary answer (generic_nack) stays escaped */
	assert_non_null(strstr(e->evidence, "\\x00\\x00\\x00\\x10\\x80"));
	report_fini(&r);
	diag_fini(&d);
	free(buf);
}

static void test_nmap_states(void **state)
{
	static const char doc[] =
		"<nmaprun>\n"
		"<host><address addr=\"2001:DB8:1:0::1\" addrtype=\"ipv6\"/><address addr=\"00:11\" addrtype=\"mac\"/>\n"
		"<hostnames><hostname name=\"mx.example.test\" type=\"PTR\"/></hostnames>\n"
		"<ports>\n"
		"<port protocol=\"tcp\" portid=\"22\"><state state=\"closed\"/><service name=\"ssh\"/></port>\n"
		"<port protocol=\"tcp\" portid=\"587\"><state state=\"open\"/><service name=\"smtp\" product=\"Postfix smtpd\" version=\"3.7\"/></port>\n"
		"<port protocol=\"tcp\" portid=\"8080\"><state state=\"open\"/><service name=\"http\" product=\"a\t\n b\xc3\xa9\"/></port>\n"
		"<port protocol=\"udp\" portid=\"53\"><state state=\"open|filtered\"/></port>\n"
		"<port protocol=\"sctp\" portid=\"9\"><state state=\"open\"/></port>\n"
		"<port protocol=\"tcp\" portid=\"70000\"><state state=\"open\"/></port>\n"
		"<port protocol=\"tcp\" portid=\"2526\"><state state=\"open\"/><service name=\"smtp\"/>"
		"<script id=\"smtp-strangeport\" output=\"Mail server on unusual port: possible malware\"/></port>\n"
		"</ports></host>\n"
		"</nmaprun>\n";
	struct report r;
	struct diag d;
	const struct report_entry *e;

	diag_init(&d);
	assert_int_equal(report_parse(doc, strlen(doc), "t.xml", &r, &d), 0);
	assert_int_equal(r.n, 3);
	e = find(&r, 587, "smtp");
	assert_non_null(e);
	assert_string_equal(e->address, "2001:db8:1::1");
	assert_string_equal(e->host, "mx.example.test");
	assert_string_equal(e->product, "Postfix smtpd 3.7");
	assert_int_equal(e->kind, REPORT_KIND_SMTP);
	e = find(&r, 8080, "http");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_OPEN);
	assert_string_equal(e->product, "a b\\xc3\\xa9");	/* non-ASCII escaped, blanks folded */
	assert_string_equal(report_finding_id(e), "open-port");
	e = find(&r, 2526, "smtp");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_SMTP_NS);
	assert_non_null(strstr(e->evidence, "smtp-strangeport: Mail server on unusual port"));
	report_fini(&r);
	diag_fini(&d);
}

static void test_nessus(void **state)
{
	struct report r;
	struct diag d;
	size_t len, nopen = 0;
	char *buf = read_data("report_seed.nessus", &len);
	const struct report_entry *e;

	diag_init(&d);
	assert_int_equal(report_parse(buf, len, "scan.nessus", &r, &d), 0);
	assert_int_equal(r.format, REPORT_FMT_NESSUS);
	assert_int_equal(r.nhosts, 2);
	/* 31132, 10263 x2, 18391, 11421, open 2776; open 22 of the other host */
	assert_int_equal(r.n, 7);
	e = find(&r, 2775, "SMPP Server Detection");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_SMPP);
	assert_string_equal(e->plugin_id, "31132");
	assert_string_equal(e->service, "smpp");
	assert_int_equal(e->line, 16);
	assert_string_equal(e->evidence, "The remote SMPP server answered an enquire_link request.");
	e = find(&r, 2525, "SMTP Server Detection");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_SMTP);
	assert_string_equal(report_finding_id(e), "smtp-nonstandard-port");
	assert_string_equal(e->evidence, "Remote SMTP server banner : 220 pls ESMTP Python SMTP 1.4.4");
	e = find(&r, 2525, "Non-standard");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_SMTP_NS);
	e = find(&r, 25, "smtpscan");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_SMTP_FP);
	assert_string_equal(report_finding_id(e), "smtp-fingerprint");
	/* the SYN scanner on 2775 is covered by the seed entry; 2776 is one open-port entry */
	for (size_t i = 0; i < r.n; i++)
		nopen += r.v[i].kind == REPORT_KIND_OPEN;
	assert_int_equal(nopen, 2);
	e = find(&r, 2776, "open port");
	assert_non_null(e);
	assert_string_equal(e->plugin_id, "");
	assert_string_equal(e->evidence, "Nessus: Nessus SYN scanner (11219), Service Detection (22964)");
	e = find(&r, 22, "open port");
	assert_non_null(e);
	assert_string_equal(e->address, "198.51.100.7");
	report_fini(&r);
	diag_fini(&d);
	free(buf);
}

/* seed checks matched by name under another plugin id; hosts known by name only */
static void test_nessus_names(void **state)
{
	static const char doc[] =
		"<?xml version=\"1.0\"?>\n"
		"<NessusClientData_v2><Report name=\"x\">\n"
		"<ReportHost name=\"mail.example.test\"><HostProperties><tag name=\"host-fqdn\">mail.example.test</tag></HostProperties>\n"
		"<ReportItem port=\"2775\" protocol=\"tcp\" pluginID=\"99999\" pluginName=\"smpp server detection\"/>\n"
		"<ReportItem port=\"0\" protocol=\"tcp\" pluginID=\"31132\" pluginName=\"SMPP Server Detection\"/>\n"
		"<ReportItem port=\"161\" protocol=\"udp\" pluginID=\"10550\" pluginName=\"SNMP\"/>\n"
		"<ReportItem port=\"x\" protocol=\"tcp\" pluginID=\"10263\" pluginName=\"SMTP Server Detection\"/>\n"
		"</ReportHost></Report></NessusClientData_v2>\n";
	struct report r;
	struct report_hosts h;
	struct diag d;
	const struct report_entry *e;

	diag_init(&d);
	assert_int_equal(report_parse(doc, strlen(doc), "t.nessus", &r, &d), 0);
	assert_int_equal(r.n, 2);
	e = find(&r, 2775, "smpp");
	assert_non_null(e);
	assert_int_equal(e->kind, REPORT_KIND_SMPP);
	assert_string_equal(e->plugin_id, "99999");
	assert_string_equal(e->address, "");
	assert_string_equal(e->host, "mail.example.test");
	e = find(&r, 161, "open port");
	assert_non_null(e);
	assert_true(e->udp);

	report_hosts_init(&h);
	assert_int_equal(report_hosts_add(&h, "192.0.2.1"), 0);
	report_keep(&r, &h);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.nskipped, 2);
	report_fini(&r);
	assert_int_equal(report_parse(doc, strlen(doc), "t.nessus", &r, &d), 0);
	assert_int_equal(report_hosts_add(&h, "MAIL.example.test"), 0);
	report_keep(&r, &h);
	assert_int_equal(r.n, 2);
	report_hosts_fini(&h);
	report_fini(&r);
	diag_fini(&d);
}

static void test_malformed(void **state)
{
	expect_refused("<?xml version=\"1.0\"?>\n<nmaprun>\n<host>\n</hosts>\n</nmaprun>\n", 4,
		       "not a well-formed XML document: Opening and ending tag mismatch");
	expect_refused("<NessusClientData_v2>\n<Report>\n", 3, "not a well-formed XML document");
	expect_refused("", 1, "not a well-formed XML document");
	expect_refused("\n\n<nmaprun a=\"1\" a=\"2\"/>", 3, "not a well-formed XML document");
	expect_refused("<nmaprun>&undefined;</nmaprun>", 1, "not a well-formed XML document");
	expect_refused("<?xml version=\"1.0\"?>\n<!-- c -->\n<html/>\n", 3,
		       "root element <html> is neither <nmaprun>");
}

static void test_entities(void **state)
{
	char bomb[4096];
	size_t o = 0;
	struct timespec t0, t1;
	long ms;

	o += (size_t)snprintf(bomb + o, sizeof(bomb) - o,
			      "<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun [\n <!ENTITY lol \"lol\">\n");
	for (int i = 1; i < 10; i++) {
		o += (size_t)snprintf(bomb + o, sizeof(bomb) - o, " <!ENTITY lol%d \"", i);
		for (int k = 0; k < 10; k++)
			o += (size_t)snprintf(bomb + o, sizeof(bomb) - o, i == 1 ? "&lol;" : "&lol%d;", i - 1);
		o += (size_t)snprintf(bomb + o, sizeof(bomb) - o, "\">\n");
	}
	snprintf(bomb + o, sizeof(bomb) - o, "]>\n<nmaprun><host><address addr=\"&lol9;\"/></host></nmaprun>\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_refused(bomb, 3, "entity declaration in a scanner export: refused");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 1000);
	/* external entities (a local file, the network), parameter entities */
	expect_refused("<?xml version=\"1.0\"?>\n<!DOCTYPE r [\n<!ENTITY x SYSTEM \"file:///etc/passwd\">\n]>\n"
		       "<NessusClientData_v2>&x;</NessusClientData_v2>\n",
		       3, "entity declaration");
	expect_refused("<!DOCTYPE r [ <!ENTITY % p SYSTEM \"http://192.0.2.9/x.dtd\"> %p; ]>\n<nmaprun/>\n", 1,
		       "entity declaration");
	/* an external DTD is neither loaded nor fetched: nmap's own DOCTYPE is harmless */
	{
		static const char doc[] = "<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun SYSTEM \"http://192.0.2.9/n.dtd\">\n<nmaprun/>\n";
		struct report r;
		struct diag d;

		diag_init(&d);
		assert_int_equal(report_parse(doc, strlen(doc), "t.xml", &r, &d), 0);
		assert_int_equal(r.n, 0);
		report_fini(&r);
		diag_fini(&d);
	}
}

static void test_too_large(void **state)
{
	static const char doc[] = "<nmaprun/>";
	struct report r;
	struct diag d;

	diag_init(&d);
	/* refused on the length alone, before a byte is read */
	assert_int_equal(report_parse(doc, (size_t)REPORT_MAX_BYTES + 1, "big.xml", &r, &d), -EINVAL);
	assert_int_equal(diag_exit_code(&d), PL_EXIT_CONFIG);
	assert_non_null(strstr(d.recs[0].msg, "larger than 64 MiB"));
	diag_fini(&d);
	diag_init(&d);
	assert_int_equal(report_load("/nonexistent/scan.xml", &r, &d), -ENOENT);
	assert_int_equal(diag_exit_code(&d), PL_EXIT_CONFIG);
	diag_fini(&d);
}

static void test_hosts(void **state)
{
	struct report_hosts h;
	struct report_entry e = { .address = "2001:db8:1::1" };
	struct diag d;

	diag_init(&d);
	report_hosts_init(&h);
	assert_int_equal(report_hosts_add(&h, "2001:DB8:1:0:0::1"), 0);
	assert_int_equal(report_hosts_add(&h, "2001:db8:1::1"), 0);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.v[0], "2001:db8:1::1");
	assert_true(report_hosts_match(&h, &e));
	snprintf(e.address, sizeof(e.address), "192.0.2.1");
	assert_false(report_hosts_match(&h, &e));
	/* the interfaces: loopback at least */
	assert_int_equal(report_hosts_local(&h, &d), 0);
	snprintf(e.address, sizeof(e.address), "127.0.0.1");
	assert_true(report_hosts_match(&h, &e));
	report_hosts_fini(&h);
	diag_fini(&d);
}

static void test_port_keys(void **state)
{
	struct report_entry v[4] = {
		{ .port = 25 }, { .port = 25 }, { .port = 25, .udp = true }, { .port = 2775 },
	};
	struct report r = { .v = v, .n = 4 };
	struct audit_port_key *k;
	size_t n;

	struct audit_port states[3];

	assert_int_equal(report_port_keys(&r, &k, &n), 0);
	assert_int_equal(n, 3);
	/* sorted: TCP first, by port */
	assert_int_equal(k[0].port, 25);
	assert_false(k[0].udp);
	assert_int_equal(k[1].port, 2775);
	assert_false(k[1].udp);
	assert_int_equal(k[2].port, 25);
	assert_true(k[2].udp);
	for (size_t i = 0; i < n; i++)
		states[i] = (struct audit_port){ .key = k[i] };
	for (size_t i = 0; i < 4; i++) {
		const struct audit_port *a = report_port_find(states, n, &v[i]);

		assert_non_null(a);
		assert_int_equal(a->key.port, v[i].port);
		assert_int_equal(a->key.udp, v[i].udp);
	}
	v[0].port = 26;
	assert_null(report_port_find(states, n, &v[0]));
	assert_null(report_port_find(states, 0, &v[0]));
	free(k);
}

/* ---- judgement ---- */

static struct audit_port port_now(uint16_t port, bool l4, bool l6, enum audit_reach r4, enum audit_reach r6)
{
	struct audit_port p = { .key = { .port = port } };

	p.listening[0] = l4;
	p.listening[1] = l6;
	p.reach[0].state = r4;
	p.reach[1].state = r6;
	return p;
}

/* every "services = ( ... );" or "{ name = ... }" in a fix parses as config */
static void fix_checks(const char *fix)
{
	const char *a = strstr(fix, "{ name = ");
	const char *b = a ? strstr(a, "; }") : NULL;
	char text[512];
	struct policy p;
	struct diag d;

	assert_non_null(a);
	assert_non_null(b);
	snprintf(text, sizeof(text), "services = ( %.*s );\n", (int)(b + 3 - a), a);
	diag_init(&d);
	if (config_load_string(text, "fix.conf", NULL, &p, &d) != 0) {
		diag_print(&d, stderr);
		fail_msg("fix does not parse: %s", text);
	}
	policy_fini(&p);
	diag_fini(&d);
}

static void test_judge(void **state)
{
	struct report_entry smpp = { .address = "192.0.2.1", .port = 2775, .kind = REPORT_KIND_SMPP };
	struct report_entry ns = { .address = "192.0.2.1", .port = 2525, .kind = REPORT_KIND_SMTP_NS };
	struct report_entry fp = { .address = "2001:db8:1::1", .port = 25, .kind = REPORT_KIND_SMTP_FP };
	struct report_entry udp = { .host = "mx", .port = 161, .udp = true, .kind = REPORT_KIND_OPEN };
	struct audit_port now;
	struct audit_finding live = { .id = "smpp-exposed", .sev = AUDIT_HIGH, .evidence = "SMPP generic_nack" };
	struct report_outcome o;

	/* nothing listens */
	now = port_now(2775, false, false, AUDIT_REACH_OPEN, AUDIT_REACH_OPEN);
	report_judge(&smpp, &now, NULL, NULL, "/etc/portlock/portlock.conf", "portlock", &o);
	assert_int_equal(o.state, REPORT_CLOSED);
	assert_int_equal(o.sev, AUDIT_INFO);
	assert_string_equal(o.finding, "smpp-exposed");
	assert_non_null(strstr(o.evidence, "nothing listens on 2775/tcp"));
	assert_non_null(strstr(o.fix, "none"));

	/* open: the live finding's severity and evidence; a fix that parses */
	now = port_now(2775, true, false, AUDIT_REACH_OPEN, AUDIT_REACH_OPEN);
	snprintf(now.probed, sizeof(now.probed), "smpp");
	report_judge(&smpp, &now, &live, NULL, "/etc/portlock/portlock.conf", "portlock", &o);
	assert_int_equal(o.state, REPORT_STILL_OPEN);
	assert_int_equal(o.sev, AUDIT_HIGH);
	assert_non_null(strstr(o.evidence, "no table drops 2775/tcp"));
	assert_non_null(strstr(o.evidence, "smpp answers now"));
	assert_non_null(strstr(o.evidence, "audit: SMPP generic_nack"));
	assert_non_null(strstr(o.fix, "write services = ( { name = \"smpp_2775\"; expect = \"smpp\";"));
	assert_non_null(strstr(o.fix, " ); to /etc/portlock/portlock.conf"));
	fix_checks(o.fix);

	/* restricted for IPv4; the IPv6 state does not matter for an IPv4 entry */
	now = port_now(2775, true, true, AUDIT_REACH_RESTRICTED, AUDIT_REACH_OPEN);
	now.reach[0].nranges = 2;
	snprintf(now.reach[0].sources, sizeof(now.reach[0].sources), "192.0.2.10, 192.0.2.11");
	snprintf(now.reach[0].by, sizeof(now.reach[0].by), "table inet portlock chain input: x");
	snprintf(now.reach[0].service, sizeof(now.reach[0].service), "smpp");
	report_judge(&smpp, &now, &live, NULL, NULL, "portlock", &o);
	assert_int_equal(o.state, REPORT_RESTRICTED);
	assert_int_equal(o.nsources, 2);
	assert_int_equal(o.sev, AUDIT_INFO);
	assert_non_null(strstr(o.evidence, "accepted only from 2 source ranges (192.0.2.10, 192.0.2.11; table inet portlock chain input: x; service 'smpp')"));
	assert_non_null(strstr(o.fix, "none, as long as the allowlist (2 sources) holds only the partners"));
	/* ... but a name-only entry takes both families: still open over IPv6 */
	smpp.address[0] = '\0';
	report_judge(&smpp, &now, NULL, NULL, NULL, "portlock", &o);
	assert_int_equal(o.state, REPORT_STILL_OPEN);
	assert_int_equal(o.sev, AUDIT_HIGH);

	/* closed by the table */
	now = port_now(2525, true, true, AUDIT_REACH_CLOSED, AUDIT_REACH_CLOSED);
	snprintf(now.reach[0].service, sizeof(now.reach[0].service), "legacy");
	snprintf(now.reach[0].by, sizeof(now.reach[0].by), "table inet portlock chain input: y");
	report_judge(&ns, &now, NULL, NULL, NULL, "portlock", &o);
	assert_int_equal(o.state, REPORT_CLOSED);
	assert_non_null(strstr(o.evidence, "2525/tcp is dropped for every remote source (table inet portlock chain input: y; service 'legacy')"));
	/* not evaluated: never open, never closed */
	now.reach[0].state = AUDIT_REACH_UNKNOWN;
	snprintf(now.reach[0].unknown, sizeof(now.reach[0].unknown), "table inet fw chain in: meta iifname \"eth0\"");
	report_judge(&ns, &now, NULL, NULL, NULL, "portlock", &o);
	assert_int_equal(o.state, REPORT_NOT_EVALUATED);
	assert_int_equal(o.sev, AUDIT_MEDIUM);
	assert_non_null(strstr(o.evidence, "IPv4: not evaluated: table inet fw"));
	/* an allowlist that covers everything is open */
	now.reach[0].state = AUDIT_REACH_ALL;
	report_judge(&ns, &now, NULL, NULL, NULL, "portlock", &o);
	assert_int_equal(o.state, REPORT_STILL_OPEN);
	assert_int_equal(o.sev, AUDIT_HIGH);
	assert_non_null(strstr(o.fix, "name = \"stray_smtp_2525\""));
	fix_checks(o.fix);

	/* IPv6 entry, listener takes IPv4 only: closed */
	now = port_now(25, true, false, AUDIT_REACH_OPEN, AUDIT_REACH_OPEN);
	report_judge(&fp, &now, NULL, NULL, NULL, "portlock", &o);
	assert_int_equal(o.state, REPORT_CLOSED);
	assert_non_null(strstr(o.evidence, "IPv6: no listener takes 25/tcp over IPv6"));
	now.listening[1] = true;
	report_judge(&fp, &now, NULL, NULL, NULL, "portlock", &o);
	assert_int_equal(o.state, REPORT_STILL_OPEN);
	assert_int_equal(o.sev, AUDIT_MEDIUM);
	assert_non_null(strstr(o.fix, "expect = \"smtp\""));
	assert_non_null(strstr(o.fix, "fingerprints"));
	fix_checks(o.fix);

	/* UDP, unknown state */
	report_judge(&udp, NULL, NULL, NULL, NULL, "portlock", &o);
	assert_int_equal(o.state, REPORT_STILL_OPEN);
	assert_int_equal(o.sev, AUDIT_LOW);
	assert_string_equal(o.finding, "open-port");
	assert_non_null(strstr(o.fix, "proto = \"udp\""));
	fix_checks(o.fix);
}

static void test_judge_policy(void **state)
{
	static const char conf[] =
		"services = ( { name = \"smpp\"; expect = \"smpp\"; ports = [2775]; allow = [\"192.0.2.10\"]; } );\n";
	struct report_entry smpp = { .address = "192.0.2.1", .port = 2775, .kind = REPORT_KIND_SMPP };
	struct report_entry other = { .address = "192.0.2.1", .port = 2776, .kind = REPORT_KIND_OPEN };
	struct audit_port now = port_now(2775, true, true, AUDIT_REACH_OPEN, AUDIT_REACH_OPEN);
	struct report_outcome o;
	struct policy p;
	struct diag d;

	diag_init(&d);
	assert_int_equal(config_load_string(conf, "p.conf", NULL, &p, &d), 0);
	report_judge(&smpp, &now, NULL, &p, "p.conf", "portlock", &o);
	assert_int_equal(o.state, REPORT_STILL_OPEN);
	assert_non_null(strstr(o.fix, "the policy already covers 2775/tcp (service 'smpp', p.conf:1)"));
	assert_non_null(strstr(o.fix, "portlock apply"));
	now.key.port = 2776;
	report_judge(&other, &now, NULL, &p, "p.conf", "portlock", &o);
	assert_non_null(strstr(o.fix, "insert { name = \"port_2776\"; ports = [2776]; allow = []; }, right after \"services = (\" in p.conf"));
	fix_checks(o.fix);
	policy_fini(&p);
	diag_fini(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nmap),
		cmocka_unit_test(test_nmap_states),
		cmocka_unit_test(test_nessus),
		cmocka_unit_test(test_nessus_names),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_entities),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_port_keys),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_judge_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
