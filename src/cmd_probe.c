// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock probe`: what really answers on HOST:PORT. Option parsing,
 * fingerprint file lookup, --listening target list, text and JSON output,
 * --expect. The probing itself (and every peer byte) stays in the probe's
 * de-privileged child; this file only prints the escaped results.
 */
#include <ctype.h>
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
	if (r->http_status)
		printf("  http      status %u%s%s\n", r->http_status, r->http_server[0] ? ", server " : "",
		       r->http_server);
	if (r->service == PROBE_SVC_SSH)
		printf("  ssh       %s\n", r->ssh_banner);
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

/*
 * A string the probe child escaped (util_escape: \\ \' \" \r \n \xHH) as the
 * bytes the peer sent, one JSON character per byte (0x80-0xff as
 * U+0080-U+00FF), so JSON escapes it once. Anything else is kept as is.
 */
static json_t *peer_string(const char *esc)
{
	size_t n = strlen(esc), o = 0;
	char *buf = malloc(2 * n + 1);
	json_t *j;

	if (!buf)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned b = (unsigned char)esc[i];

		if (esc[i] == '\\' && i + 1 < n) {
			char c = esc[i + 1];

			if (c == 'r' || c == 'n' || c == '\\' || c == '\'' || c == '"') {
				b = c == 'r' ? '\r' : c == 'n' ? '\n' : (unsigned char)c;
				i++;
			} else if (c == 'x' && i + 3 < n && isxdigit((unsigned char)esc[i + 2]) &&
				   isxdigit((unsigned char)esc[i + 3])) {
				char hex[3] = { esc[i + 2], esc[i + 3], 0 };

				b = (unsigned)strtoul(hex, NULL, 16);
				i += 3;
			}
		}
		if (b < 0x80) {
			buf[o++] = (char)b;
		} else {
			buf[o++] = (char)(0xc0 | b >> 6);
			buf[o++] = (char)(0x80 | (b & 0x3f));
		}
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

/* fp_codes ("250 - 501 ...", one per test) as [{"test": name, "code": 250 | null}]. */
static json_t *behaviour_json(const char *codes)
{
	json_t *a = json_array();
	const char *p = codes;

	for (int i = 0; a && i < PROBE_SMTP_NTESTS && *p; i++) {
		char *end;
		long v = strtol(p, &end, 10);
		json_t *code = end > p && v > 0 && v < 1000 ? json_integer(v) : json_null();

		json_array_append_new(a, json_pack("{s:s,s:o}", "test", probe_smtp_tests[i].name,
						   "code", code));
		p = end > p ? end : p + strcspn(p, " ");
		p += strspn(p, " ");
	}
	return a;
}

static json_t *software_json(const struct probe_result *r)
{
	return r->software[0] ? json_pack("{s:o,s:i,s:s}", "name", peer_string(r->software),
					  "confidence", (int)r->confidence, "basis",
					  r->software_basis)
			      : json_null();
}

static json_t *closest_json(const struct probe_result *r)
{
	return r->closest[0] ? json_pack("{s:o,s:i,s:s}", "software", peer_string(r->closest),
					 "confidence", (int)r->closest_confidence, "basis",
					 r->software_basis)
			     : json_null();
}

static json_t *smtp_json(const struct probe_result *r)
{
	json_t *s = json_object(), *caps = json_array();

	for (uint32_t b = 1; b; b <<= 1)
		if ((r->smtp_caps & b) && probe_smtp_cap_name(b))
			json_array_append_new(caps, json_string(probe_smtp_cap_name(b)));
	json_object_set_new(s, "greeting_code", json_integer(r->smtp_code));
	json_object_set_new(s, "capabilities", caps);
	json_object_set_new(s, "keywords", json_string(r->smtp_keywords));
	json_object_set_new(s, "auth", json_string(r->smtp_auth));
	json_object_set_new(s, "size", json_integer((json_int_t)r->smtp_size));
	json_object_set_new(s, "behaviour",
			    r->fp_codes[0] ? behaviour_json(r->fp_codes) : json_null());
	return s;
}

static json_t *smpp_json(const struct probe_result *r)
{
	char st[64];
	json_t *s = json_pack("{s:s,s:I,s:s}", "pdu", probe_smpp_cmd_name(r->smpp_cmd), "status",
			      (json_int_t)r->smpp_status, "status_text",
			      smpp_status_text(r->smpp_status, st, sizeof(st)));

	json_object_set_new(s, "bind",
			    r->smpp_bind_done
				    ? json_pack("{s:s,s:I}", "pdu", probe_smpp_cmd_name(r->smpp_bind_cmd),
						"status", (json_int_t)r->smpp_bind_status)
				    : json_null());
	return s;
}

static json_t *addresses_json(const struct probe_result *r)
{
	json_t *addrs = json_array();

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
	return addrs;
}

static json_t *result_json(const struct probe_result *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "target", json_string(r->target));
	json_object_set_new(o, "address", r->addr[0] ? json_string(r->addr) : json_null());
	json_object_set_new(o, "port", json_integer(r->port));
	json_object_set_new(o, "service", json_string(probe_service_name(r->service)));
	json_object_set_new(o, "evidence", peer_string(r->evidence));
	json_object_set_new(o, "note", r->note[0] ? json_string(r->note) : json_null());
	json_object_set_new(o, "tls",
			    r->tls ? json_pack("{s:o,s:o,s:o,s:o,s:b}", "version",
					       peer_string(r->tls_version), "cipher",
					       peer_string(r->tls_cipher), "subject",
					       peer_string(r->tls_subject), "expires",
					       peer_string(r->tls_expiry), "starttls",
					       (int)r->starttls_done)
				   : json_null());
	json_object_set_new(o, "smtp", is_smtp(r->service) ? smtp_json(r) : json_null());
	json_object_set_new(o, "software", is_smtp(r->service) ? software_json(r) : json_null());
	json_object_set_new(o, "closest", is_smtp(r->service) ? closest_json(r) : json_null());
	json_object_set_new(o, "smpp", is_smpp(r->service) ? smpp_json(r) : json_null());
	json_object_set_new(o, "http",
			    r->http_status ? json_pack("{s:i,s:o}", "status", (int)r->http_status,
						       "server",
						       r->http_server[0] ? peer_string(r->http_server)
									 : json_null())
					   : json_null());
	json_object_set_new(o, "ssh",
			    r->service == PROBE_SVC_SSH
				    ? json_pack("{s:o}", "banner", peer_string(r->ssh_banner))
				    : json_null());
	json_object_set_new(o, "timing_ms",
			    json_pack("{s:i,s:i,s:i}", "connect", (int)r->connect_ms, "first_byte",
				      (int)r->first_byte_ms, "total", (int)r->total_ms));
	json_object_set_new(o, "connections", json_integer(r->nconns));
	json_object_set_new(o, "addresses", addresses_json(r));
	return o;
}

/* What the command line asked for. */
struct probe_cli {
	struct probe_opts o;
	int expect;			/* enum probe_service, or -1 */
	bool listening;
	const char *fpopt;		/* --fingerprints */
	struct probe_target *t;
	size_t n, cap;
	struct fp_db db;
	bool have_db;
};

/* Options, in any order with the targets (getopt_long permutes). Returns -1 to go on. */
static int parse_options(struct pl_ctx *ctx, int argc, char **argv, struct probe_cli *cli)
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
	struct probe_opts *o = &cli->o;
	unsigned char tmp[16];
	unsigned conc;
	int opt;

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
			cli->expect = probe_service_parse(optarg);
			if (cli->expect != PROBE_SVC_SMTP && cli->expect != PROBE_SVC_SMTPS &&
			    cli->expect != PROBE_SVC_SMPP && cli->expect != PROBE_SVC_SMPP_TLS)
				return cmd_bad_usage(ctx, "probe",
						     "--expect '%s': use smtp, smtps, smpp or smpp-tls",
						     optarg);
			break;
		case O_LISTENING: cli->listening = true; break;
		case O_FP: o->fingerprint = true; break;
		case O_BIND: o->smpp_bind = true; break;
		case O_STARTTLS: o->starttls = true; break;
		case O_TLS: o->tls = true; break;
		case O_SOURCE:
			if (inet_pton(AF_INET, optarg, tmp) != 1 && inet_pton(AF_INET6, optarg, tmp) != 1)
				return cmd_bad_usage(ctx, "probe", "--source '%s' is not an IP address",
						     optarg);
			o->source = optarg;
			break;
		case O_CONC:
			if (parse_ms(ctx, "--concurrency", optarg, &conc))
				return PL_EXIT_USAGE;
			if (conc > 1024)
				return cmd_bad_usage(ctx, "probe", "--concurrency '%s' is above 1024",
						     optarg);
			o->concurrency = conc;
			break;
		case O_CTIMEOUT:
			if (parse_ms(ctx, "--connect-timeout", optarg, &o->connect_ms))
				return PL_EXIT_USAGE;
			break;
		case O_TIMEOUT:
			if (parse_ms(ctx, "--timeout", optarg, &o->read_ms))
				return PL_EXIT_USAGE;
			break;
		case O_DEADLINE:
			if (parse_ms(ctx, "--deadline", optarg, &o->deadline_ms))
				return PL_EXIT_USAGE;
			break;
		case O_FPFILE: cli->fpopt = optarg; break;
		default:
			if (optopt && optopt < 256)
				return cmd_bad_usage(ctx, "probe", "unknown option '-%c'", optopt);
			return cmd_bad_usage(ctx, "probe", "option '%s' is unknown or needs an argument",
					     argv[optind - 1]);
		}
	}
	return -1;
}

/* The operands, then --listening. Returns -1 to go on, or the exit code. */
static int collect_targets(struct pl_ctx *ctx, int argc, char **argv, struct probe_cli *cli)
{
	for (int i = optind; i < argc; i++) {
		int prc;

		if (util_grow((void **)&cli->t, &cli->cap, cli->n + 1, sizeof(*cli->t)) < 0) {
			diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "probe");
			return PL_EXIT_INTERNAL;
		}
		prc = probe_target_parse(argv[i], &cli->t[cli->n]);
		if (prc == -ERANGE)
			return cmd_bad_usage(ctx, "probe",
					     "target '%s': port %s is out of range (1 to 65535)",
					     argv[i], strrchr(argv[i], ':') + 1);
		if (prc < 0)
			return cmd_bad_usage(ctx, "probe",
					     "target '%s' is not HOST:PORT, ADDRESS:PORT or [IPV6]:PORT",
					     argv[i]);
		cli->n++;
	}
	if (cli->listening && add_listeners(&cli->t, &cli->n, &cli->cap, &ctx->diag) < 0)
		return diag_exit_code(&ctx->diag);
	if (!cli->n && !cli->listening)
		return cmd_bad_usage(ctx, "probe", "no target given");
	return -1;
}

/* The signature file: a missing default is a warning, a missing --fingerprints an error. */
static int load_fingerprints(struct pl_ctx *ctx, struct probe_cli *cli)
{
	bool explicit_fp;
	char *path = fingerprint_path(cli->fpopt, &explicit_fp);
	int lrc = path ? fingerprint_db_load(&cli->db, path, &ctx->diag) : -ENOENT;
	int rc = -1;

	if (lrc == -ENOENT && explicit_fp) {
		diag_err(&ctx->diag, DIAG_CONFIG, NULL, ENOENT, "fingerprints '%s'", path);
		rc = PL_EXIT_CONFIG;
	} else if (lrc < 0 && lrc != -ENOENT) {
		rc = diag_exit_code(&ctx->diag);
	} else {
		cli->have_db = lrc == 0;
		if (!cli->have_db)
			diag_warn(&ctx->diag, NULL,
				  "no fingerprint file found: no SMTP software guesses");
		cli->o.fp = cli->have_db ? &cli->db : NULL;
	}
	free(path);
	return rc;
}

static int render(const struct pl_ctx *ctx, const struct probe_result *res, size_t n)
{
	json_t *a, *doc;
	int rc = PL_EXIT_OK;

	if (!ctx->json) {
		for (size_t i = 0; i < n; i++)
			print_text(&res[i]);
		return rc;
	}
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, result_json(&res[i]));
	doc = json_pack("{s:s,s:o}", "schema", "portlock-probe/1", "results", a);
	if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) < 0)
		rc = PL_EXIT_INTERNAL;
	putchar('\n');
	json_decref(doc);
	return rc;
}

/* Unresolved names (exit 8) and --expect mismatches (exit 6), after the output. */
static void report_problems(struct pl_ctx *ctx, const struct probe_cli *cli,
			    const struct probe_result *res)
{
	for (size_t i = 0; i < cli->n; i++)
		if (res[i].service == PROBE_SVC_UNRESOLVED)
			diag_err(&ctx->diag, DIAG_UNRESOLVED, NULL, 0, "probe %s: %s", res[i].target,
				 res[i].note[0] ? res[i].note : "cannot resolve the host name");
	for (size_t i = 0; cli->expect >= 0 && i < cli->n; i++)
		if (res[i].service != PROBE_SVC_UNRESOLVED && !expect_ok(cli->expect, res[i].service))
			diag_err(&ctx->diag, DIAG_MISMATCH, NULL, 0,
				 "probe %s: expected %s, found '%s'%s%s", res[i].target,
				 probe_service_name(cli->expect), probe_service_name(res[i].service),
				 res[i].evidence[0] ? ": " : "", res[i].evidence);
}

int cmd_probe_main(struct pl_ctx *ctx, int argc, char **argv)
{
	struct probe_cli cli = { .expect = -1 };
	struct probe_result *res = NULL;
	int rc;

	rc = parse_options(ctx, argc, argv, &cli);
	if (rc < 0)
		rc = collect_targets(ctx, argc, argv, &cli);
	if (rc < 0)
		rc = load_fingerprints(ctx, &cli);
	if (rc < 0) {
		res = calloc(cli.n ? cli.n : 1, sizeof(*res));
		if (!res) {
			diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "probe");
			rc = PL_EXIT_INTERNAL;
		}
	}
	if (rc < 0 && cli.n && probe_run(cli.t, cli.n, &cli.o, res, &ctx->diag) < 0)
		rc = PL_EXIT_INTERNAL;
	if (rc < 0) {
		rc = render(ctx, res, cli.n);
		report_problems(ctx, &cli, res);
	}
	if (cli.have_db)
		fingerprint_db_fini(&cli.db);
	free(res);
	free(cli.t);
	return rc;
}
