// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Config loader: one test per mistake an operator can make. Each asserts the
 * message AND the line it is reported at, that the load fails with -EINVAL and
 * maps to exit code 3, and that the policy is left empty (nothing else done).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cidr.h"
#include "config.h"
#include "diag.h"
#include "policy.h"
#include "util.h"

/* Scratch directory for allow_files and config files; made per test. */
struct fixture {
	char dir[64];
	struct policy p;
	struct diag d;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/pl-test-config.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	diag_init(&f->d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	policy_fini(&f->p);
	diag_fini(&f->d);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void dump(const struct diag *d)
{
	for (size_t i = 0; i < d->nrecs; i++)
		fprintf(stderr, "  [%s] %s:%d: %s\n",
			d->recs[i].lvl == DIAG_LVL_ERROR ? "error" : "warning",
			d->recs[i].file ? d->recs[i].file : "-", d->recs[i].line, d->recs[i].msg);
}

static int load(struct fixture *f, const char *text)
{
	return config_load_string(text, "t.conf", f->dir, &f->p, &f->d);
}

/* The load failed the way a bad config must: -EINVAL, exit 3, nothing kept. */
static void assert_rejected(struct fixture *f, int rc)
{
	if (rc != -EINVAL)
		dump(&f->d);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFIG);
	assert_int_equal(f->p.nsvcs, 0);
	assert_null(f->p.svcs);
	assert_null(f->p.table);
}

static void assert_accepted(struct fixture *f, int rc)
{
	if (rc != 0)
		dump(&f->d);
	assert_int_equal(rc, 0);
	assert_int_equal(f->d.nerrors, 0);
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_OK);
}

/* A record of level lvl at file:line whose text contains every given substring. */
static const struct diag_rec *find_rec(const struct diag *d, enum diag_level lvl,
				       const char *file, int line, const char *sub)
{
	for (size_t i = 0; i < d->nrecs; i++) {
		const struct diag_rec *r = &d->recs[i];

		if (r->lvl != lvl || r->line != line || !r->msg || !strstr(r->msg, sub))
			continue;
		if (file && (!r->file || strcmp(r->file, file)))
			continue;
		return r;
	}
	return NULL;
}

static void expect_msg_at(const struct diag *d, enum diag_level lvl, const char *file, int line,
			  const char *sub, int srcline)
{
	if (find_rec(d, lvl, file, line, sub))
		return;
	fprintf(stderr, "test line %d: no %s at %s:%d containing \"%s\"; got:\n", srcline,
		lvl == DIAG_LVL_ERROR ? "error" : "warning", file ? file : "*", line, sub);
	dump(d);
	fail();
}
#define expect_msg(d, lvl, file, line, sub) expect_msg_at(d, lvl, file, line, sub, __LINE__)
#define expect_err(f, line, sub) expect_msg(&(f)->d, DIAG_LVL_ERROR, "t.conf", line, sub)
#define expect_warn(f, line, sub) expect_msg(&(f)->d, DIAG_LVL_WARNING, "t.conf", line, sub)

/* ------------------------------------------------------------------------ */

static void test_valid_full(void **state)
{
	struct fixture *f = *state;
	const struct policy_service *s;
	char buf[100];

	write_file(f->dir, "relays.txt", "# relays\n203.0.113.5\n\n2001:db8:5::/48  # v6\n");
	assert_accepted(f, load(f,
		"portlock = {\n"
		"  table = \"pl_test\";\n"
		"  action = \"reject\";\n"
		"  hooks = [\"input\"];\n"
		"  log = { prefix = \"pl\"; rate = \"5/second\"; };\n"
		"  loopback = false;\n"
		"  journal_keep = 7;\n"
		"};\n"
		"lists = { partners = [\"192.0.2.0/24\", \"2001:db8:100::/48\"]; };\n"
		"services = (\n"
		"  { name = \"smpp\"; expect = \"smpp\"; ports = [3550, 2775]; allow = [\"@partners\"]; },\n"
		"  { name = \"smtp\"; ports = [25, 465, 587]; allow = [\"198.51.100.0/24\"];\n"
		"    allow_file = \"relays.txt\"; },\n"
		"  { name = \"legacy\"; proto = \"tcp\"; ports = [2525]; allow = []; }\n"
		");\n"));
	assert_string_equal(f->p.table, "pl_test");
	assert_int_equal(f->p.action, POLICY_REJECT);
	assert_int_equal(f->p.hooks, POLICY_HOOK_INPUT);
	assert_string_equal(f->p.log_prefix, "pl");
	assert_int_equal(f->p.log_rate, 5);
	assert_int_equal(f->p.log_unit, RATE_SECOND);
	assert_false(f->p.loopback);
	assert_int_equal(f->p.journal_keep, 7);
	assert_int_equal(f->p.nsvcs, 3);

	s = &f->p.svcs[0];
	assert_string_equal(s->name, "smpp");
	assert_string_equal(s->expect, "smpp");
	assert_int_equal(s->line, 11);
	assert_int_equal(s->nports, 2);
	assert_int_equal(s->ports[0], 2775);	/* sorted */
	assert_int_equal(s->ports[1], 3550);
	assert_int_equal(s->v4.n, 1);
	assert_string_equal(range_str(CIDR_V4, &s->v4.r[0], buf, sizeof(buf)), "192.0.2.0/24");
	assert_int_equal(s->v6.n, 1);
	assert_string_equal(range_str(CIDR_V6, &s->v6.r[0], buf, sizeof(buf)),
			    "2001:db8:100::/48");

	s = &f->p.svcs[1];
	assert_int_equal(s->nsources, 3);
	assert_int_equal(s->v4.n, 2);
	assert_string_equal(range_str(CIDR_V4, &s->v4.r[1], buf, sizeof(buf)), "203.0.113.5");
	assert_string_equal(range_str(CIDR_V6, &s->v6.r[0], buf, sizeof(buf)), "2001:db8:5::/48");

	s = &f->p.svcs[2];
	assert_int_equal(s->v4.n, 0);
	assert_int_equal(s->v6.n, 0);
	assert_null(s->expect);
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;

	assert_accepted(f, load(f, "services = ( { name = \"a\"; ports = [25]; allow = []; } );\n"));
	assert_string_equal(f->p.table, "portlock");
	assert_int_equal(f->p.action, POLICY_DROP);
	assert_int_equal(f->p.hooks, POLICY_HOOK_INPUT | POLICY_HOOK_FORWARD);
	assert_true(f->p.log);
	assert_int_equal(f->p.log_rate, 10);
	assert_int_equal(f->p.log_unit, RATE_MINUTE);
	assert_true(f->p.loopback);
	assert_int_equal(f->p.journal_keep, POLICY_DEFAULT_JOURNAL_KEEP);
	assert_int_equal(f->p.svcs[0].proto, POLICY_TCP);
}

static void test_syntax_error(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"portlock = { table = \"x\"; };\n"
		"services = (\n"
		"  { name = \"a\"; ports = [25,, 26]; allow = []; }\n"
		");\n"));
	assert_int_equal(f->d.nerrors, 1);
	expect_err(f, 3, "syntax error");
}

static void test_syntax_error_mixed_array(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f, "\nservices = ( { name = \"a\"; ports = [25, \"x\"]; allow = []; } );\n"));
	expect_err(f, 2, "syntax error: mismatched element type in array");
}

static void test_syntax_error_in_file(void **state)
{
	struct fixture *f = *state;
	char path[128];
	int rc;

	write_file(f->dir, "bad.conf", "# comment\n\nservices = (\n  { name = \"a\"; ports = [25]; allow = [\"x\" = 1]; }\n);\n");
	snprintf(path, sizeof(path), "%s/bad.conf", f->dir);
	rc = config_load_file(path, &f->p, &f->d);
	assert_rejected(f, rc);
	expect_msg(&f->d, DIAG_LVL_ERROR, path, 4, "syntax error");
}

/* libconfig blames the token after a string element; config.c walks back */
static void test_line_of_last_element_in_file(void **state)
{
	struct fixture *f = *state;
	char path[128];

	write_file(f->dir, "last.conf", "services = (\n"
					"  { name = \"a\"; ports = [25];\n"
					"    allow = [\n"
					"      \"192.0.2.0/24\",\n"
					"      \"192.0.2.300\"   # typo\n"
					"\n"
					"    ];\n"
					"  }\n"
					");\n");
	snprintf(path, sizeof(path), "%s/last.conf", f->dir);
	assert_rejected(f, config_load_file(path, &f->p, &f->d));
	expect_msg(&f->d, DIAG_LVL_ERROR, path, 5, "'192.0.2.300' is not a valid prefix");
}

static void test_missing_config_file(void **state)
{
	struct fixture *f = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/nope.conf", f->dir);
	assert_int_equal(config_load_file(path, &f->p, &f->d), -ENOENT);
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFIG);
	expect_msg(&f->d, DIAG_LVL_ERROR, path, 0, "cannot read config: No such file or directory");
	assert_null(f->p.table);
}

static void test_unknown_key_did_you_mean(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"portlock = {\n"
		"  actoin = \"drop\";\n"
		"  log = { prefx = \"x\"; };\n"
		"};\n"
		"services = (\n"
		"  { name = \"a\"; ports = [25]; alow = []; allow = []; }\n"
		");\n"
		"service = ();\n"));
	expect_err(f, 2, "unknown key 'actoin' in 'portlock'; did you mean 'action'?");
	expect_err(f, 3, "unknown key 'prefx' in 'log'; did you mean 'prefix'?");
	expect_err(f, 6, "unknown key 'alow' in service; did you mean 'allow'?");
	expect_err(f, 8, "unknown key 'service' in the top level; did you mean 'services'?");
	assert_int_equal(f->d.nerrors, 4);
}

static void test_unknown_key_no_hint(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"frobnicate = 1;\n"
		"services = ( { name = \"a\"; ports = [25]; allow = []; } );\n"));
	expect_err(f, 1, "unknown key 'frobnicate' in the top level");
	assert_null(strstr(f->d.recs[0].msg, "did you mean"));
}

static void test_wrong_types(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"portlock = {\n"
		"  table = 5;\n"
		"  loopback = \"yes\";\n"
		"  hooks = \"input\";\n"
		"  journal_keep = \"many\";\n"
		"  log = 3;\n"
		"};\n"
		"lists = { partners = \"192.0.2.0/24\"; };\n"
		"services = (\n"
		"  { name = \"a\";\n"
		"    ports = 25;\n"
		"    allow = \"192.0.2.0/24\"; },\n"
		"  { name = 7; ports = [26]; allow = [1]; },\n"
		"  \"c\"\n"
		");\n"));
	expect_err(f, 2, "portlock 'table' must be a string, not an integer");
	expect_err(f, 3, "portlock 'loopback' must be true or false, not a string");
	expect_err(f, 4, "'hooks' must be an array of strings, not a string");
	expect_err(f, 5, "'journal_keep' must be an integer, not a string");
	expect_err(f, 6, "'log' must be a group");
	expect_err(f, 8, "list 'partners' must be an array of prefixes, not a string");
	expect_err(f, 11, "service 'a': 'ports' must be an array such as [25, 587]");
	expect_err(f, 12, "service 'a': 'allow' must be an array of prefixes or @lists, not a string");
	expect_err(f, 13, "service 'name' must be a string, not an integer");
	expect_err(f, 13, "'allow' entries must be strings, not an integer");
	expect_err(f, 14, "service #3 must be a group");
}

static void test_services_not_a_list(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f, "\n\nservices = { name = \"a\"; };\n"));
	expect_err(f, 3, "'services' must be a list ( { ... }, { ... } ), not a group");
}

static void test_bad_enum_values(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"portlock = {\n"
		"  action = \"deny\";\n"
		"  hooks = [\"input\", \"output\"];\n"
		"  log = { rate = \"fast\"; };\n"
		"  journal_keep = 0;\n"
		"};\n"
		"services = ( { name = \"a\"; expect = \"http\"; proto = \"sctp\"; ports = [25]; allow = []; } );\n"));
	expect_err(f, 2, "action 'deny' is not 'drop' or 'reject'");
	expect_err(f, 3, "hook 'output' is not 'input' or 'forward'");
	expect_err(f, 4, "log rate 'fast' is not of the form N/second");
	expect_err(f, 5, "'journal_keep' 0 is out of range (1 to 100000)");
	expect_err(f, 7, "service 'a': expect 'http' is not one of smtp, smtps, smpp, smpp-tls");
	expect_err(f, 7, "service 'a': proto 'sctp' is not 'tcp' or 'udp'");
}

/* mode, retention and critical: inherited from the portlock group, overridden per service */
static void test_mode_retention_critical(void **state)
{
	struct fixture *f = *state;

	assert_accepted(f, load(f,
		"portlock = { mode = \"observe\"; retention = \"1d12h\"; };\n"
		"services = (\n"
		"  { name = \"a\"; ports = [25]; allow = []; },\n"
		"  { name = \"b\"; ports = [26]; allow = []; mode = \"enforce\"; retention = 90;\n"
		"    critical = true; }\n"
		");\n"));
	assert_int_equal(f->p.nsvcs, 2);
	assert_int_equal(f->p.mode, POLICY_MODE_OBSERVE);
	assert_int_equal(f->p.svcs[0].mode, POLICY_MODE_OBSERVE);
	assert_int_equal(f->p.svcs[0].retention, 36 * 3600);
	assert_false(f->p.svcs[0].critical);
	assert_int_equal(f->p.svcs[1].mode, POLICY_MODE_ENFORCE);
	assert_int_equal(f->p.svcs[1].retention, 90);
	assert_true(f->p.svcs[1].critical);
}

static void test_mode_defaults(void **state)
{
	struct fixture *f = *state;

	assert_accepted(f, load(f, "services = ( { name = \"a\"; ports = [25]; allow = []; } );\n"));
	assert_int_equal(f->p.svcs[0].mode, POLICY_MODE_ENFORCE);
	assert_int_equal(f->p.svcs[0].retention, POLICY_DEFAULT_RETENTION);
	assert_false(f->p.svcs[0].critical);
}

static void test_bad_mode_retention_critical(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"portlock = { mode = \"learn\"; retention = \"30m1h\"; };\n"
		"services = (\n"
		"  { name = \"a\"; ports = [25]; allow = []; mode = 1; retention = 0; critical = \"yes\"; },\n"
		"  { name = \"b\"; ports = [26]; allow = []; retention = \"3651d\"; }\n"
		");\n"));
	expect_err(f, 1, "portlock mode 'learn' is not \"enforce\" or \"observe\"");
	expect_err(f, 1, "portlock retention '30m1h' is not a duration");
	expect_err(f, 3, "service 'mode' must be a string");
	expect_err(f, 3, "service retention 0 s is out of range");
	expect_err(f, 3, "service 'critical' must be true or false");
	expect_err(f, 4, "service retention 315446400 s is out of range");
}

static void test_parse_duration(void **state)
{
	static const struct { const char *s; int rc; uint64_t v; } cases[] = {
		{ "90", 0, 90 }, { "30d", 0, 30 * 86400 }, { "1h30m", 0, 5400 },
		{ "1w1d1h1m1s", 0, 604800 + 86400 + 3600 + 60 + 1 }, { "0s", 0, 0 },
		{ "", -EINVAL, 0 }, { "d", -EINVAL, 0 }, { "1x", -EINVAL, 0 },
		{ "30m1h", -EINVAL, 0 }, { "1h1h", -EINVAL, 0 }, { "1h30", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 }, { " 1", -EINVAL, 0 }, { "4294967296", -ERANGE, 0 },
		{ "99999999999999999999d", -ERANGE, 0 }, { "4294967295", 0, 4294967295u },
		{ "50000d", -ERANGE, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int rc = util_parse_duration(cases[i].s, &v);

		if (rc != cases[i].rc)
			fprintf(stderr, "duration '%s': rc %d, want %d\n", cases[i].s, rc, cases[i].rc);
		assert_int_equal(rc, cases[i].rc);
		if (!rc)
			assert_int_equal(v, cases[i].v);
	}
}

static void test_bad_log_prefix(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"portlock = { log = {\n"
		"  prefix = \"cost $5\"; }; };\n"
		"services = ( { name = \"a\"; ports = [25]; allow = []; } );\n"));
	expect_err(f, 2, "log prefix must be at most 64 printable characters without");
	diag_fini(&f->d);
	diag_init(&f->d);
	assert_rejected(f, load(f,
		"portlock = { log = {\n"
		"  prefix = \"a\\\"b\"; }; };\n"
		"services = ( { name = \"a\"; ports = [25]; allow = []; } );\n"));
	expect_err(f, 2, "log prefix must be");
	diag_fini(&f->d);
	diag_init(&f->d);
	assert_rejected(f, load(f,
		"portlock = { log = {\n"
		"  prefix = \"01234567890123456789012345678901234567890123456789012345678901234\"; }; };\n"
		"services = ( { name = \"a\"; ports = [25]; allow = []; } );\n"));
	expect_err(f, 2, "log prefix must be");
}

static void test_bad_prefixes(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"services = ( { name = \"a\"; ports = [25]; allow = [\n"
		"  \"10.0.0.0/33\",\n"
		"  \"300.1.1.1\",\n"
		"  \"2001:db8::/129\",\n"
		"  \"192.0.2.0/\",\n"
		"  \"relay.example.com\",\n"
		"  \"192.0.2.0/-1\",\n"
		"  \" 192.0.2.1\",\n"
		"  \"2001:db8:::1\"\n"
		"]; } );\n"));
	expect_err(f, 2, "'10.0.0.0/33' is not a valid prefix: prefix length out of range");
	expect_err(f, 3, "'300.1.1.1' is not a valid prefix: not an IPv4 or IPv6 address");
	expect_err(f, 4, "'2001:db8::/129' is not a valid prefix: prefix length out of range");
	expect_err(f, 5, "'192.0.2.0/' is not a valid prefix: prefix length out of range");
	expect_err(f, 6, "'relay.example.com' is not a valid prefix");
	expect_err(f, 7, "'192.0.2.0/-1' is not a valid prefix: prefix length out of range");
	expect_err(f, 8, "' 192.0.2.1' is not a valid prefix");
	expect_err(f, 9, "'2001:db8:::1' is not a valid prefix");
	assert_int_equal(f->d.nerrors, 8);
}

static void test_host_bits_normalized(void **state)
{
	struct fixture *f = *state;
	char buf[100];

	assert_accepted(f, load(f,
		"services = ( { name = \"a\"; ports = [25]; allow = [\n"
		"  \"192.0.2.77/24\",\n"
		"  \"2001:db8::1/32\"\n"
		"]; } );\n"));
	expect_warn(f, 2, "'192.0.2.77/24' has host bits set; using 192.0.2.0/24");
	expect_warn(f, 3, "'2001:db8::1/32' has host bits set; using 2001:db8::/32");
	assert_int_equal(f->d.nwarnings, 2);
	assert_string_equal(range_str(CIDR_V4, &f->p.svcs[0].v4.r[0], buf, sizeof(buf)),
			    "192.0.2.0/24");
	assert_string_equal(range_str(CIDR_V6, &f->p.svcs[0].v6.r[0], buf, sizeof(buf)),
			    "2001:db8::/32");
}

static void test_allow_everything_warns(void **state)
{
	struct fixture *f = *state;

	assert_accepted(f, load(f,
		"services = ( { name = \"a\"; ports = [25];\n"
		"  allow = [\"0.0.0.0/0\", \"::/0\"]; } );\n"));
	expect_warn(f, 2, "'0.0.0.0/0' allows every IPv4 source");
	expect_warn(f, 2, "'::/0' allows every IPv6 source");
}

static void test_ports_out_of_range(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"services = ( { name = \"a\"; allow = [];\n"
		"  ports = (0,\n"
		"           65536,\n"
		"           -25,\n"
		"           99999999999L,\n"
		"           65535) } );\n"));
	expect_err(f, 2, "service 'a': port 0 is out of range (1 to 65535)");
	expect_err(f, 3, "service 'a': port 65536 is out of range (1 to 65535)");
	expect_err(f, 4, "service 'a': port -25 is out of range (1 to 65535)");
	expect_err(f, 5, "service 'a': port 99999999999 is out of range (1 to 65535)");
	assert_int_equal(f->d.nerrors, 4);
}

static void test_ports_not_numbers(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"services = ( { name = \"a\"; allow = [];\n"
		"  ports = (\"smtp\",\n"
		"           \"25x\",\n"
		"           \"\",\n"
		"           2.5,\n"
		"           \"587\") } );\n"));
	expect_err(f, 2, "service 'a': port 'smtp' is not a number");
	expect_err(f, 3, "service 'a': port '25x' is not a number");
	expect_err(f, 4, "service 'a': port '' is not a number");
	expect_err(f, 5, "service 'a': ports must be numbers, not a number");
	assert_int_equal(f->d.nerrors, 4);
}

static void test_ports_empty_or_missing(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"services = (\n"
		"  { name = \"a\"; ports = []; allow = []; },\n"
		"  { name = \"b\"; allow = []; },\n"
		"  { name = \"c\"; ports = [26]; }\n"
		");\n"));
	expect_err(f, 2, "service 'a' has no ports");
	expect_err(f, 3, "service 'b' has no 'ports'");
	expect_err(f, 4, "service 'c' has no 'allow'");
}

static void test_port_twice_in_service_warns(void **state)
{
	struct fixture *f = *state;

	assert_accepted(f, load(f,
		"services = ( { name = \"a\"; allow = [];\n"
		"  ports = [25,\n"
		"           25] } );\n"));
	expect_warn(f, 3, "service 'a': port 25 listed twice");
	assert_int_equal(f->p.svcs[0].nports, 1);
}

static void test_same_port_two_services(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"services = (\n"
		"  { name = \"smtp\"; ports = [25, 587]; allow = []; },\n"
		"  { name = \"relay\"; ports = [2525, 587]; allow = []; },\n"
		"  { name = \"dns\"; proto = \"udp\"; ports = [25]; allow = []; }\n"
		");\n"));
	expect_err(f, 3, "port 587/tcp of service 'relay' is already in service 'smtp' (line 2)");
	assert_int_equal(f->d.nerrors, 1);	/* 25/udp is another port than 25/tcp */
}

static void test_duplicate_service_names(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"services = (\n"
		"  { name = \"smtp\"; ports = [25]; allow = []; },\n"
		"  { name = \"smpp\"; ports = [2775]; allow = []; },\n"
		"  { name = \"smtp\"; ports = [587]; allow = []; }\n"
		");\n"));
	expect_err(f, 4, "service name 'smtp' is already used at line 2");
	assert_int_equal(f->d.nerrors, 1);
}

static void test_bad_service_name(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"services = (\n"
		"  { name = \"smtp relay\"; ports = [25]; allow = []; },\n"
		"  { ports = [26]; allow = []; }\n"
		");\n"));
	expect_err(f, 2, "service name 'smtp relay' must start with a letter");
	expect_err(f, 3, "service #2 has no 'name'");
}

static void test_missing_list(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"lists = { partners = [\"192.0.2.0/24\"]; };\n"
		"services = ( { name = \"a\"; ports = [25];\n"
		"  allow = [\"@partners\",\n"
		"           \"@partner\"]; } );\n"));
	expect_err(f, 4, "service 'a': list 'partner' does not exist (define it under 'lists')");
	assert_int_equal(f->d.nerrors, 1);
}

static void test_list_refers_to_list(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"lists = { a = [\"192.0.2.0/24\"];\n"
		"  b = [\"@a\"]; };\n"
		"services = ( { name = \"s\"; ports = [25]; allow = [\"@a\", \"@b\"]; } );\n"));
	expect_err(f, 2, "list 'b': '@a': a list cannot refer to another list");
}

static void test_unused_list_warns(void **state)
{
	struct fixture *f = *state;

	assert_accepted(f, load(f,
		"lists = {\n"
		"  spare = [\"192.0.2.0/24\"];\n"
		"};\n"
		"services = ( { name = \"s\"; ports = [25]; allow = []; } );\n"));
	expect_warn(f, 2, "list 'spare' is not used by any service");
}

static void test_v4_mapped_v6(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"lists = { p = [\"::ffff:192.0.2.1\"]; };\n"
		"services = ( { name = \"s\"; ports = [25];\n"
		"  allow = [\"@p\", \"::ffff:0:0/96\"]; } );\n"));
	expect_err(f, 1, "'::ffff:192.0.2.1' is not a valid prefix: IPv4-mapped IPv6 address; write the IPv4 address instead");
	expect_err(f, 3, "'::ffff:0:0/96' is not a valid prefix: IPv4-mapped IPv6 address");
}

static void test_allow_file_missing(void **state)
{
	struct fixture *f = *state;
	char want[160];

	assert_rejected(f, load(f,
		"services = ( { name = \"smtp\"; ports = [25];\n"
		"  allow_file = \"relays.txt\"; } );\n"));
	snprintf(want, sizeof(want), "service 'smtp': cannot read allow_file '%s/relays.txt': No such file or directory",
		 f->dir);
	expect_err(f, 2, want);
}

static void test_allow_file_unreadable(void **state)
{
	struct fixture *f = *state;
	char path[128];

	/* root reads mode 000 files, so use things no one can read as a list */
	snprintf(path, sizeof(path), "%s/adir", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_rejected(f, load(f,
		"services = ( { name = \"smtp\"; ports = [25];\n"
		"  allow_file = \"adir\"; },\n"
		"  { name = \"b\"; ports = [26]; allow_file = \"/dev/zero\"; },\n"
		"  { name = \"c\"; ports = [27]; allow_file = 5; } );\n"));
	expect_err(f, 2, "service 'smtp': allow_file");
	expect_err(f, 2, "adir' is not a regular file");
	expect_err(f, 3, "service 'b': allow_file '/dev/zero' is not a regular file");
	expect_err(f, 4, "service 'c': 'allow_file' must be a path string, not an integer");
}

static void test_allow_file_bad_lines(void **state)
{
	struct fixture *f = *state;
	char path[128], longline[700];

	memset(longline, '1', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	write_file(f->dir, "relays.txt", "# trusted relays\n"
					  "192.0.2.1\n"
					  "\n"
					  "relay.example.com\n"
					  "  198.51.100.7/24   # host bits\n"
					  "2001:db8::/129\n"
					  "::ffff:10.0.0.1\n");
	write_file(f->dir, "long.txt", longline);
	snprintf(path, sizeof(path), "%s/relays.txt", f->dir);
	assert_rejected(f, load(f,
		"\n"
		"services = ( { name = \"smtp\"; ports = [25];\n"
		"  allow_file = [\"relays.txt\", \"long.txt\"]; } );\n"));
	expect_msg(&f->d, DIAG_LVL_ERROR, path, 4, "'relay.example.com' is not a valid prefix");
	expect_msg(&f->d, DIAG_LVL_WARNING, path, 5, "'198.51.100.7/24' has host bits set");
	expect_msg(&f->d, DIAG_LVL_ERROR, path, 6, "'2001:db8::/129' is not a valid prefix");
	expect_msg(&f->d, DIAG_LVL_ERROR, path, 7, "IPv4-mapped IPv6 address");
	snprintf(path, sizeof(path), "%s/long.txt", f->dir);
	expect_msg(&f->d, DIAG_LVL_ERROR, path, 1, "line too long");
	assert_int_equal(f->d.nerrors, 4);
}

static void test_allow_file_absolute_and_relative(void **state)
{
	struct fixture *f = *state;
	char text[512];

	write_file(f->dir, "a.txt", "192.0.2.0/25\n");
	write_file(f->dir, "b.txt", "192.0.2.128/25\n");
	snprintf(text, sizeof(text),
		 "services = ( { name = \"s\"; ports = [25]; allow = [\"192.0.3.0/24\"];\n"
		 "  allow_file = [\"a.txt\", \"%s/b.txt\"]; } );\n", f->dir);
	assert_accepted(f, load(f, text));
	/* 192.0.2.0/25 + 192.0.2.128/25 + 192.0.3.0/24 merge into one range */
	assert_int_equal(f->p.svcs[0].v4.n, 1);
	assert_int_equal(f->p.svcs[0].nsources, 3);
}

static void test_table_names(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "add", "table", "1abc", "with space", "", "a.b",
					   "x\"y", "inet" };
	static const char *const good[] = { "portlock", "pl_test", "_x", "fw-1" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(config_valid_table_name(bad[i]));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(config_valid_table_name(good[i]));
	assert_false(config_valid_table_name(
		"a123456789012345678901234567890123456789012345678901234567890123456789"));

	assert_rejected(f, load(f,
		"portlock = {\n"
		"  table = \"add\";\n"
		"};\n"
		"services = ( { name = \"s\"; ports = [25]; allow = []; } );\n"));
	expect_err(f, 2, "table name 'add' is not accepted by nft");
}

static void test_no_services(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f, "portlock = { };\n"));
	expect_err(f, 0, "no 'services' list: nothing to enforce");
	diag_fini(&f->d);
	diag_init(&f->d);
	assert_rejected(f, load(f, "portlock = { };\n\nservices = ();\n"));
	expect_err(f, 3, "'services' is empty: nothing to enforce");
}

static void test_all_errors_in_one_run(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f,
		"portlock = { actoin = \"drop\"; table = \"add\"; };\n"
		"services = (\n"
		"  { name = \"a\"; ports = [70000]; allow = [\"10.0.0.0/33\"]; },\n"
		"  { name = \"a\"; ports = [\"x\"]; allow = [\"@nope\", \"::ffff:1.2.3.4\"]; },\n"
		"  { name = \"c\"; ports = [26]; allow = []; allow_file = \"missing.txt\"; }\n"
		");\n"));
	expect_err(f, 1, "unknown key 'actoin'");
	expect_err(f, 1, "table name 'add'");
	expect_err(f, 3, "port 70000 is out of range");
	expect_err(f, 3, "'10.0.0.0/33' is not a valid prefix");
	expect_err(f, 4, "port 'x' is not a number");
	expect_err(f, 4, "list 'nope' does not exist");
	expect_err(f, 4, "IPv4-mapped");
	expect_err(f, 4, "service name 'a' is already used at line 3");
	expect_err(f, 5, "cannot read allow_file");
	assert_int_equal(f->d.nerrors, 9);
}

static void test_reload_after_error_is_clean(void **state)
{
	struct fixture *f = *state;

	assert_rejected(f, load(f, "services = ( { name = \"a\"; ports = [0]; allow = []; } );\n"));
	diag_fini(&f->d);
	diag_init(&f->d);
	assert_accepted(f, load(f, "services = ( { name = \"a\"; ports = [1]; allow = []; } );\n"));
	assert_int_equal(f->p.svcs[0].ports[0], 1);
}

/* A 1,000,000-line allow_file (generated here) loads and merges. */
static void test_allow_file_million_lines(void **state)
{
	struct fixture *f = *state;
	char path[128];
	FILE *fp;
	unsigned n = getenv("PL_TEST_QUICK") ? 20000 : 1000000, j = 0;

	snprintf(path, sizeof(path), "%s/big.txt", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "# generated: every other /32 of 10.0.0.0/8, then one IPv6 /64 each\n");
	for (unsigned i = 0; i < n; i++) {
		if (i % 4 == 3)
			fprintf(fp, "2001:db8:%x:%x::/64\n", j >> 16, j & 0xffff), j++;
		else
			fprintf(fp, "10.%u.%u.%u\n", (i * 2) >> 16 & 0xff, (i * 2) >> 8 & 0xff,
				(i * 2) & 0xff);
	}
	assert_int_equal(fclose(fp), 0);
	assert_accepted(f, load(f, "services = ( { name = \"s\"; ports = [25]; allow_file = \"big.txt\"; } );\n"));
	assert_int_equal(f->p.svcs[0].nsources, n);
	assert_int_equal(f->p.svcs[0].v4.n, n - n / 4);	/* every other address: no merging */
	assert_int_equal(f->p.svcs[0].v6.n, 1);		/* consecutive /64s merge */
	assert_int_equal(f->d.nwarnings, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_valid_full),
		T(test_defaults),
		T(test_syntax_error),
		T(test_syntax_error_mixed_array),
		T(test_syntax_error_in_file),
		T(test_line_of_last_element_in_file),
		T(test_missing_config_file),
		T(test_unknown_key_did_you_mean),
		T(test_unknown_key_no_hint),
		T(test_wrong_types),
		T(test_services_not_a_list),
		T(test_bad_enum_values),
		T(test_mode_retention_critical),
		T(test_mode_defaults),
		T(test_bad_mode_retention_critical),
		T(test_parse_duration),
		T(test_bad_log_prefix),
		T(test_bad_prefixes),
		T(test_host_bits_normalized),
		T(test_allow_everything_warns),
		T(test_ports_out_of_range),
		T(test_ports_not_numbers),
		T(test_ports_empty_or_missing),
		T(test_port_twice_in_service_warns),
		T(test_same_port_two_services),
		T(test_duplicate_service_names),
		T(test_bad_service_name),
		T(test_missing_list),
		T(test_list_refers_to_list),
		T(test_unused_list_warns),
		T(test_v4_mapped_v6),
		T(test_allow_file_missing),
		T(test_allow_file_unreadable),
		T(test_allow_file_bad_lines),
		T(test_allow_file_absolute_and_relative),
		T(test_table_names),
		T(test_no_services),
		T(test_all_errors_in_one_run),
		T(test_reload_after_error_is_clean),
		T(test_allow_file_million_lines),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
