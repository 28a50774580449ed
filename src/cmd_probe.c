// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock probe`: what really answers on HOST:PORT. Option parsing,
 * fingerprint file lookup, --listening target list, text and JSON output,
 * --expect. The probing itself (and every peer byte) stays in probe.c's
 * de-privileged child; this file only prints the escaped results.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "cmd.h"
#include "listen.h"
#include "fingerprint.h"
#include "probe.h"
#include "probe_smpp.h"

#define PROBE_HELP                                                                          \
	"  -j, --json              machine-readable output\n"                                 \
	"      --expect SERVICE    exit 6 unless every target is SERVICE (smtp also accepts\n" \
	"                          smtps, smpp also smpp-tls)\n"                               \
	"      --listening         also probe every local TCP listener\n"                     \
	"      --fingerprint       behavioural SMTP fingerprint (15 extra connections)\n"     \
	"      --smpp-bind         SMPP bind attempt with dummy credentials\n"                \
	"      --starttls          negotiate STARTTLS when offered\n"                         \
	"      --tls               implicit TLS on every target (default: 465 and 3550)\n"    \
	"      --source ADDR       probe from this local address\n"                           \
	"      --concurrency N     connections at a time (default 64)\n"                      \
	"      --connect-timeout MS  (default 3000)\n"                                        \
	"      --timeout MS        per reply, e.g. the greeting (default 6000)\n"             \
	"      --deadline MS       for the whole run (default 60000)\n"                       \
	"      --fingerprints FILE signature file (default: $PORTLOCK_FINGERPRINTS,\n"        \
	"                          " PORTLOCK_DATADIR "/fingerprints.conf)\n"                  \
	"  -h, --help              this help\n"

static int parse_ms(struct pl_ctx *ctx, const char *opt, const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 3600000 || s[0] == '-')
		return cmd_bad_usage(ctx, "probe", "%s '%s' is not 1..3600000", opt, s);
	*out = (unsigned)v;
	return 0;
}

/* Where the signature file is: option, environment, install dir, source tree. */

/*
 * --listening: every exposed TCP listener of this network namespace, read
 * over sock_diag (listen.c); a wildcard listener is probed on loopback.
 * Appends to *t (grown), returns 0 or -errno (recorded in d).
 */
static int add_listeners(struct probe_target **t, size_t *n, size_t *cap, struct diag *d)
{
	struct listen_set ls;
	int ret;

	listen_set_init(&ls);
	ret = listen_dump(&ls, LISTEN_F_TCP, d);
	for (size_t i = 0; !ret && i < ls.n; i++) {
		const struct listen_entry *l = &ls.v[i];
		enum cidr_family fam;
		u128 addr;
		char a[64], spec[PROBE_HOST_MAX + 16];
		bool dup = false;

		if (!listen_is_exposed(l) || (l->ifindex > 1 && !l->addr))
			continue;
		listen_connect_addr(l, &fam, &addr);
		cidr_addr_str(fam, addr, a, sizeof(a));
		snprintf(spec, sizeof(spec), fam == CIDR_V6 ? "[%s]:%u" : "%s:%u", a, l->port);
		for (size_t k = 0; k < *n; k++)
			dup = dup || !strcmp((*t)[k].spec, spec);
		if (dup)
			continue;
		if (util_grow((void **)t, cap, *n + 1, sizeof(**t)) < 0) {
			ret = -ENOMEM;
			break;
		}
		if (probe_target_parse(spec, &(*t)[*n]) == 0)
			(*n)++;
	}
	listen_set_fini(&ls);
	return ret;
}

static bool expect_ok(int want, uint32_t got)
{
	if ((int)got == want)
		return true;
	if (want == PROBE_SVC_SMTP && got == PROBE_SVC_SMTPS)
		return true;
	if (want == PROBE_SVC_SMPP && got == PROBE_SVC_SMPP_TLS)
		return true;
	return false;
}

static void caps_text(const struct probe_result *r, char *buf, size_t max)
{
	size_t o = 0;

	buf[0] = '\0';
	for (uint32_t b = 1; b; b <<= 1) {
		const char *name;

		if (!(r->smtp_caps & b) || !(name = probe_smtp_cap_name(b)))
			continue;
		if (b == PROBE_SMTP_CAP_AUTH && r->smtp_auth[0])
			o += (size_t)snprintf(buf + o, max - o, "%sAUTH(%s)", o ? " " : "",
					      r->smtp_auth);
		else if (b == PROBE_SMTP_CAP_SIZE && r->smtp_size)
			o += (size_t)snprintf(buf + o, max - o, "%sSIZE=%llu", o ? " " : "",
					      (unsigned long long)r->smtp_size);
		else
			o += (size_t)snprintf(buf + o, max - o, "%s%s", o ? " " : "", name);
		if (o >= max)
			break;
	}
}

static const char *smpp_status_text(uint32_t st, char *buf, size_t max)
{
	const char *n = probe_smpp_status_name(st);

	snprintf(buf, max, "0x%08x%s%s%s", st, n ? " (" : "", n ? n : "", n ? ")" : "");
	return buf;
}

static bool is_smtp(uint32_t s)
{
	return s == PROBE_SVC_SMTP || s == PROBE_SVC_SMTPS;
}

static bool is_smpp(uint32_t s)
{
	return s == PROBE_SVC_SMPP || s == PROBE_SVC_SMPP_TLS;
}

static void print_text(const struct probe_result *r)
{
	char buf[600], st[64];

	printf("%s", r->target);
	if (r->addr[0] && strcmp(r->addr, r->target) && !strstr(r->target, r->addr))
		printf(" (%s)", r->addr);
	printf("  %s", probe_service_name(r->service));
	if (r->software[0])
		printf("  %s (confidence %u%%, %s)", r->software, r->confidence, r->software_basis);
	else if (r->closest[0])
		printf("  unknown (closest: %s, %u%%, %s)", r->closest, r->closest_confidence,
		       r->software_basis);
	if (r->service == PROBE_SVC_UNRESOLVED)
		putchar('\n');
	else
		printf("  %u ms\n", r->total_ms);
	if (r->evidence[0])
		printf("  evidence  %s\n", r->evidence);
	if (r->note[0])
		printf("  note      %s\n", r->note);
	if (r->naddrs > 1) {
		printf("  addresses");
		for (uint32_t i = 0; i < r->naddrs; i++)
			printf("%s%s %s", i ? ", " : " ", r->addrs[i].addr,
			       probe_outcome_name(r->addrs[i].outcome));
		putchar('\n');
	}
	if (r->tls) {
		printf("  tls       %s %s%s\n", r->tls_version, r->tls_cipher,
		       r->starttls_done ? " (after STARTTLS)" : "");
		if (r->tls_subject[0])
			printf("  cert      subject '%s', expires %s\n", r->tls_subject,
			       r->tls_expiry[0] ? r->tls_expiry : "?");
	}
	if (is_smtp(r->service)) {
		caps_text(r, buf, sizeof(buf));
		printf("  smtp      greeting %u; %s\n", r->smtp_code,
		       buf[0] ? buf : "no ESMTP capabilities");
		if (r->smtp_keywords[0])
			printf("  ehlo      %s\n", r->smtp_keywords);
		if (r->fp_codes[0])
			printf("  behaviour %s\n", r->fp_codes);
	}
	if (is_smpp(r->service)) {
		printf("  smpp      %s status %s\n", probe_smpp_cmd_name(r->smpp_cmd),
		       smpp_status_text(r->smpp_status, st, sizeof(st)));
		if (r->smpp_bind_done)
			printf("  smpp      bind: %s status %s\n", probe_smpp_cmd_name(r->smpp_bind_cmd),
			       smpp_status_text(r->smpp_bind_status, st, sizeof(st)));
	}
	if (r->connect_ms)
		printf("  timing    connect %u ms, first byte %u ms, %u connection%s\n", r->connect_ms,
		       r->first_byte_ms, r->nconns, r->nconns == 1 ? "" : "s");
}

static json_t *result_json(const struct probe_result *r)
{
	json_t *o = json_object(), *caps = json_array(), *addrs;
	char st[64];

	json_object_set_new(o, "target", json_string(r->target));
	json_object_set_new(o, "address", r->addr[0] ? json_string(r->addr) : json_null());
	json_object_set_new(o, "port", json_integer(r->port));
	json_object_set_new(o, "service", json_string(probe_service_name(r->service)));
	json_object_set_new(o, "evidence", json_string(r->evidence));
	json_object_set_new(o, "note", r->note[0] ? json_string(r->note) : json_null());
	if (r->tls)
		json_object_set_new(o, "tls",
				    json_pack("{s:s,s:s,s:s,s:s,s:b}", "version", r->tls_version,
					      "cipher", r->tls_cipher, "subject", r->tls_subject,
					      "expires", r->tls_expiry, "starttls",
					      (int)r->starttls_done));
	else
		json_object_set_new(o, "tls", json_null());
	if (is_smtp(r->service)) {
		json_t *s = json_object();

		for (uint32_t b = 1; b; b <<= 1)
			if ((r->smtp_caps & b) && probe_smtp_cap_name(b))
				json_array_append_new(caps, json_string(probe_smtp_cap_name(b)));
		json_object_set_new(s, "greeting_code", json_integer(r->smtp_code));
		json_object_set_new(s, "capabilities", caps);
		caps = NULL;
		json_object_set_new(s, "keywords", json_string(r->smtp_keywords));
		json_object_set_new(s, "auth", json_string(r->smtp_auth));
		json_object_set_new(s, "size", json_integer((json_int_t)r->smtp_size));
		json_object_set_new(s, "behaviour", r->fp_codes[0] ? json_string(r->fp_codes)
								   : json_null());
		json_object_set_new(o, "smtp", s);
		json_object_set_new(o, "software",
				    r->software[0]
					    ? json_pack("{s:s,s:i,s:s}", "name", r->software,
							"confidence", (int)r->confidence, "basis",
							r->software_basis)
					    : json_null());
		json_object_set_new(o, "closest",
				    r->closest[0]
					    ? json_pack("{s:s,s:i,s:s}", "software", r->closest,
							"confidence", (int)r->closest_confidence,
							"basis", r->software_basis)
					    : json_null());
	} else {
		json_object_set_new(o, "smtp", json_null());
		json_object_set_new(o, "software", json_null());
		json_object_set_new(o, "closest", json_null());
	}
	if (is_smpp(r->service)) {
		json_t *s = json_pack("{s:s,s:i,s:s}", "pdu", probe_smpp_cmd_name(r->smpp_cmd),
				      "status", (json_int_t)r->smpp_status, "status_text",
				      smpp_status_text(r->smpp_status, st, sizeof(st)));

		if (r->smpp_bind_done)
			json_object_set_new(s, "bind",
					    json_pack("{s:s,s:i}", "pdu",
						      probe_smpp_cmd_name(r->smpp_bind_cmd), "status",
						      (json_int_t)r->smpp_bind_status));
		json_object_set_new(o, "smpp", s);
	} else {
		json_object_set_new(o, "smpp", json_null());
	}
	json_object_set_new(o, "timing_ms",
			    json_pack("{s:i,s:i,s:i}", "connect", (int)r->connect_ms, "first_byte",
				      (int)r->first_byte_ms, "total", (int)r->total_ms));
	json_object_set_new(o, "connections", json_integer(r->nconns));
	addrs = json_array();
	for (uint32_t i = 0; i < r->naddrs; i++) {
		const struct probe_addr *a = &r->addrs[i];
		bool tried = a->outcome != PROBE_OUT_NOT_TRIED;

		json_array_append_new(
			addrs, json_pack("{s:s,s:s,s:o,s:o}", "address", a->addr, "outcome",
					 probe_outcome_name(a->outcome), "service",
					 tried && a->outcome != PROBE_OUT_CANCELLED
						 ? json_string(probe_service_name(a->service))
						 : json_null(),
					 "start_ms", tried ? json_integer(a->start_ms) : json_null()));
	}
	json_object_set_new(o, "addresses", addrs);
	json_decref(caps);
	return o;
}

int cmd_probe_main(struct pl_ctx *ctx, int argc, char **argv)
{
	enum { O_EXPECT = 256, O_LISTENING, O_FP, O_BIND, O_STARTTLS, O_TLS, O_SOURCE, O_CONC,
	       O_CTIMEOUT, O_TIMEOUT, O_DEADLINE, O_FPFILE };
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "listening", no_argument, NULL, O_LISTENING },
		{ "fingerprint", no_argument, NULL, O_FP },
		{ "smpp-bind", no_argument, NULL, O_BIND },
		{ "starttls", no_argument, NULL, O_STARTTLS },
		{ "tls", no_argument, NULL, O_TLS },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "connect-timeout", required_argument, NULL, O_CTIMEOUT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "deadline", required_argument, NULL, O_DEADLINE },
		{ "fingerprints", required_argument, NULL, O_FPFILE },
		{ NULL, 0, NULL, 0 },
	};
	struct probe_opts o = { 0 };
	struct probe_target *t = NULL;
	struct probe_result *res = NULL;
	struct fp_db db = { 0 };
	const char *fpopt = NULL;
	bool listening = false, have_db = false, explicit_fp;
	size_t n = 0, cap = 0;
	int opt, expect = -1, rc = PL_EXIT_OK;
	char *fppath = NULL;
	unsigned conc;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hj", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "probe", PROBE_HELP);
			return PL_EXIT_OK;
		case 'j':
			ctx->json = true;
			break;
		case O_EXPECT:
			expect = probe_service_parse(optarg);
			if (expect < 0 || expect == PROBE_SVC_CLOSED || expect == PROBE_SVC_FILTERED ||
			    expect == PROBE_SVC_TIMEOUT || expect == PROBE_SVC_UNKNOWN ||
			    expect == PROBE_SVC_UNRESOLVED)
				return cmd_bad_usage(ctx, "probe",
						     "--expect '%s': use smtp, smtps, smpp or smpp-tls",
						     optarg);
			break;
		case O_LISTENING: listening = true; break;
		case O_FP: o.fingerprint = true; break;
		case O_BIND: o.smpp_bind = true; break;
		case O_STARTTLS: o.starttls = true; break;
		case O_TLS: o.tls = true; break;
		case O_SOURCE: {
			unsigned char tmp[16];

			if (inet_pton(AF_INET, optarg, tmp) != 1 && inet_pton(AF_INET6, optarg, tmp) != 1)
				return cmd_bad_usage(ctx, "probe", "--source '%s' is not an IP address",
						     optarg);
			o.source = optarg;
			break;
		}
		case O_CONC:
			if (parse_ms(ctx, "--concurrency", optarg, &conc))
				return PL_EXIT_USAGE;
			if (conc > 1024)
				return cmd_bad_usage(ctx, "probe", "--concurrency '%s' is above 1024",
						     optarg);
			o.concurrency = conc;
			break;
		case O_CTIMEOUT:
			if (parse_ms(ctx, "--connect-timeout", optarg, &o.connect_ms))
				return PL_EXIT_USAGE;
			break;
		case O_TIMEOUT:
			if (parse_ms(ctx, "--timeout", optarg, &o.read_ms))
				return PL_EXIT_USAGE;
			break;
		case O_DEADLINE:
			if (parse_ms(ctx, "--deadline", optarg, &o.deadline_ms))
				return PL_EXIT_USAGE;
			break;
		case O_FPFILE: fpopt = optarg; break;
		default:
			if (optopt && optopt < 256)
				return cmd_bad_usage(ctx, "probe", "unknown option '-%c'", optopt);
			return cmd_bad_usage(ctx, "probe", "option '%s' is unknown or needs an argument",
					     argv[optind - 1]);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (util_grow((void **)&t, &cap, n + 1, sizeof(*t)) < 0) {
			diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "probe");
			rc = PL_EXIT_INTERNAL;
			goto out;
		}
		if ((rc = probe_target_parse(argv[i], &t[n])) < 0) {
			rc = cmd_bad_usage(ctx, "probe", rc == -ERANGE ?
					   "target '%s': the port is out of range (1 to 65535)" :
					   "target '%s' is not HOST:PORT, ADDRESS:PORT or [IPV6]:PORT",
					   argv[i]);
			goto out;
		}
		n++;
	}
	if (listening && add_listeners(&t, &n, &cap, &ctx->diag) < 0) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	if (!n && !listening) {
		rc = cmd_bad_usage(ctx, "probe", "no target given");
		goto out;
	}
	fppath = fingerprint_path(fpopt, &explicit_fp);
	if (fppath) {
		int lrc = fingerprint_db_load(&db, fppath, &ctx->diag);

		if (lrc == -ENOENT && explicit_fp) {
			diag_err(&ctx->diag, DIAG_CONFIG, NULL, ENOENT, "fingerprints '%s'", fppath);
			rc = PL_EXIT_CONFIG;
			goto out;
		}
		if (lrc < 0 && lrc != -ENOENT) {
			rc = diag_exit_code(&ctx->diag);
			goto out;
		}
		have_db = lrc == 0;
	}
	if (!have_db)
		diag_warn(&ctx->diag, NULL, "no fingerprint file found: no SMTP software guesses");
	o.fp = have_db ? &db : NULL;
	res = calloc(n ? n : 1, sizeof(*res));
	if (!res) {
		diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "probe");
			rc = PL_EXIT_INTERNAL;
		goto out;
	}
	if (n && probe_run(t, n, &o, res, &ctx->diag) < 0) {
		rc = PL_EXIT_INTERNAL;
		goto out;
	}
	if (ctx->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, result_json(&res[i]));
		if (json_dumpf(a, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
			rc = PL_EXIT_INTERNAL;
		putchar('\n');
		json_decref(a);
	} else {
		for (size_t i = 0; i < n; i++)
			print_text(&res[i]);
	}
	/* a name without an address: an error of its own (exit 8), not a mismatch */
	for (size_t i = 0; i < n; i++)
		if (res[i].service == PROBE_SVC_UNRESOLVED)
			diag_err(&ctx->diag, DIAG_UNRESOLVED, NULL, 0, "probe %s: %s", res[i].target,
				 res[i].note[0] ? res[i].note : "cannot resolve the host name");
	for (size_t i = 0; expect >= 0 && i < n; i++)
		if (res[i].service != PROBE_SVC_UNRESOLVED && !expect_ok(expect, res[i].service))
			diag_err(&ctx->diag, DIAG_MISMATCH, NULL, 0,
				 "probe %s: expected %s, found '%s'%s%s", res[i].target,
				 probe_service_name(expect), probe_service_name(res[i].service),
				 res[i].evidence[0] ? ": " : "", res[i].evidence);
out:
	if (have_db)
		fingerprint_db_fini(&db);
	free(fppath);
	free(res);
	free(t);
	return rc;
}
