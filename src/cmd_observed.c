// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock observed [SERVICE] [--json] [--learn FILE [--aggregate /N]]`:
 * per service, every source the seen sets recorded (refused, or in observe
 * mode would have been): packets, bytes, last seen, whether the current
 * policy allows it, and which ports. --learn writes them as allow_file
 * lines: merged prefixes, one comment line per source.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidr.h"
#include "cmd.h"
#include "diag.h"
#include "nl.h"
#include "policy.h"
#include "seen.h"
#include "util.h"

#define OBSERVED_SCHEMA "portlock-observed/1"

struct svc_seen {
	const struct policy_service *svc;
	struct seen_entry *e;
	size_t n;
	struct seen_source *g;
	size_t ng;
	bool recorded;		/* at least one of its seen sets exists */
};

static void svc_seen_fini(struct svc_seen *v)
{
	free(v->e);
	free(v->g);
}

/* Both families of one service's seen sets, sorted and grouped by source. */
static int read_service(struct nl_sock *s, const char *table, struct svc_seen *v, struct diag *d)
{
	static const enum cidr_family fams[] = { CIDR_V4, CIDR_V6 };

	for (size_t k = 0; k < 2; k++) {
		struct seen_entry *e;
		size_t n;
		int ret = seen_read(s, table, v->svc->name, fams[k], &e, &n, d);

		if (ret == -ENOENT)
			continue;
		if (ret)
			return ret;
		v->recorded = true;
		if (n) {
			struct seen_entry *all = realloc(v->e, (v->n + n) * sizeof(*all));

			if (!all) {
				free(e);
				return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "observed");
			}
			memcpy(all + v->n, e, n * sizeof(*e));
			v->e = all;
			v->n += n;
		}
		free(e);
	}
	seen_sort(v->e, v->n);
	if (seen_group(v->e, v->n, &v->g, &v->ng) < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "observed");
	return 0;
}

static const char *fam_str(enum cidr_family f)
{
	return f == CIDR_V4 ? "ipv4" : "ipv6";
}

static void print_text(const char *table, const struct svc_seen *v, size_t nv)
{
	for (size_t i = 0; i < nv; i++) {
		const struct policy_service *svc = v[i].svc;

		printf("%s%s (%s, %s): ", i ? "\n" : "", svc->name, policy_proto_str(svc->proto),
		       svc->mode == POLICY_MODE_OBSERVE ? "observe" : "enforce");
		if (!v[i].recorded) {
			printf("no seen set in table inet %s (the policy is not applied yet)\n", table);
			continue;
		}
		printf("%zu source%s seen\n", v[i].ng, v[i].ng == 1 ? "" : "s");
		if (!v[i].ng)
			continue;
		printf("  %-39s %10s %12s  %-19s  %-7s  %s\n", "SOURCE", "PACKETS", "BYTES", "LAST SEEN",
		       "ALLOWED", "PORTS");
		for (size_t k = 0; k < v[i].ng; k++) {
			const struct seen_source *g = &v[i].g[k];
			char a[64], t[64];

			cidr_addr_str(g->family, g->addr, a, sizeof(a));
			printf("  %-39s %10" PRIu64 " %12" PRIu64 "  %-19s  %-7s  ", a, g->packets, g->bytes,
			       seen_time_str(g->last_seen, false, t, sizeof(t)),
			       policy_service_allows(svc, g->family, g->addr) ? "yes" : "no");
			for (size_t p = 0; p < g->nports; p++)
				printf("%s%u", p ? "," : "", v[i].e[g->first + p].port);
			putchar('\n');
		}
	}
}

/* A JSON string (service and table names are checked by config.c; escaped anyway). */
static void jstr(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			putc(*s, f);
	}
	putc('"', f);
}

static void jtime(FILE *f, int64_t t)
{
	if (t)
		fprintf(f, "%lld", (long long)t);
	else
		fputs("null", f);
}

/*
 * Written as it goes, not built as a jansson tree: 100,000 sources would
 * cost seconds in objects (the layout is the one json_dumpf(JSON_INDENT(2))
 * gives the other commands).
 */
static int print_json(const char *table, const struct svc_seen *v, size_t nv)
{
	FILE *f = stdout;
	char a[64], t[64];

	fputs("{\n  \"schema\": \"" OBSERVED_SCHEMA "\",\n  \"table\": ", f);
	jstr(f, table);
	fprintf(f, ",\n  \"time\": %lld,\n  \"services\": [", (long long)time(NULL));
	for (size_t i = 0; i < nv; i++) {
		fprintf(f, "%s\n    {\n      \"name\": ", i ? "," : "");
		jstr(f, v[i].svc->name);
		fprintf(f, ",\n      \"protocol\": \"%s\",\n      \"mode\": \"%s\",\n      \"recorded\": %s,\n      \"sources\": [",
			policy_proto_str(v[i].svc->proto),
			v[i].svc->mode == POLICY_MODE_OBSERVE ? "observe" : "enforce",
			v[i].recorded ? "true" : "false");
		for (size_t k = 0; k < v[i].ng; k++) {
			const struct seen_source *g = &v[i].g[k];

			fprintf(f, "%s\n        {\n          \"source\": \"%s\",\n          \"family\": \"%s\",\n"
				"          \"allowed\": %s,\n          \"packets\": %" PRIu64 ",\n          \"bytes\": %" PRIu64
				",\n          \"last_seen\": ",
				k ? "," : "", cidr_addr_str(g->family, g->addr, a, sizeof(a)), fam_str(g->family),
				policy_service_allows(v[i].svc, g->family, g->addr) ? "true" : "false", g->packets,
				g->bytes);
			jtime(f, g->last_seen);
			fputs(",\n          \"last_seen_iso\": ", f);
			if (g->last_seen)
				fprintf(f, "\"%s\"", seen_time_str(g->last_seen, true, t, sizeof(t)));
			else
				fputs("null", f);
			fputs(",\n          \"ports\": [", f);
			for (size_t p = 0; p < g->nports; p++) {
				const struct seen_entry *e = &v[i].e[g->first + p];

				fprintf(f, "%s\n            {\n              \"port\": %u,\n              \"packets\": %" PRIu64
					",\n              \"bytes\": %" PRIu64 ",\n              \"last_seen\": ",
					p ? "," : "", e->port, e->packets, e->bytes);
				jtime(f, e->last_seen);
				fputs(",\n              \"expires\": ", f);
				jtime(f, e->expires_at);
				fputs("\n            }", f);
			}
			fputs(g->nports ? "\n          ]\n        }" : "]\n        }", f);
		}
		fputs(v[i].ng ? "\n      ]\n    }" : "]\n    }", f);
	}
	fputs(nv ? "\n  ]\n}\n" : "]\n}\n", f);
	return ferror(f) ? PL_EXIT_INTERNAL : PL_EXIT_OK;
}

/* ---- --learn: allow_file lines ---- */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void bprintf(struct buf *b, const char *fmt, ...) __printf(2, 3);
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || util_grow((void **)&b->p, &b->cap, b->len + (size_t)n + 1, 1) < 0) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The comment line of one source. */
static void learn_comment(struct buf *b, const struct svc_seen *v, const struct seen_source *g)
{
	char a[64], t[64];

	bprintf(b, "# %s: %" PRIu64 " packets, %" PRIu64 " bytes, port%s ",
		cidr_addr_str(g->family, g->addr, a, sizeof(a)), g->packets, g->bytes,
		g->nports == 1 ? "" : "s");
	for (size_t p = 0; p < g->nports; p++)
		bprintf(b, "%s%u", p ? "," : "", v->e[g->first + p].port);
	bprintf(b, ", last seen %s%s\n", seen_time_str(g->last_seen, true, t, sizeof(t)),
		policy_service_allows(v->svc, g->family, g->addr) ? " (already allowed)" : "");
}

/*
 * The learned lines of one family: each source widened to its block (agg),
 * blocks merged, each merged range written as the fewest prefixes that cover
 * exactly it, each prefix after the comment lines of its sources.
 */
static int learn_family(struct buf *b, const struct svc_seen *v, enum cidr_family f, int agg,
			size_t *nprefixes)
{
	struct rangeset rs;
	size_t k = 0;

	rangeset_init(&rs);
	for (size_t i = 0; i < v->ng; i++) {
		const struct seen_source *g = &v->g[i];

		if (g->family == f &&
		    rangeset_add(&rs, seen_block_lo(f, g->addr, agg), seen_block_hi(f, g->addr, agg)) < 0) {
			rangeset_fini(&rs);
			return -ENOMEM;
		}
	}
	rangeset_normalize(&rs);
	while (k < v->ng && v->g[k].family != f)
		k++;
	for (size_t r = 0; r < rs.n; r++) {
		struct cidr pfx[256];
		size_t np = seen_cover(f, rs.r[r].lo, rs.r[r].hi, pfx, ARRAY_SIZE(pfx));

		for (size_t x = 0; x < np; x++) {
			u128 last = seen_block_hi(f, pfx[x].addr, pfx[x].plen);
			char a[64];

			while (k < v->ng && v->g[k].family == f && v->g[k].addr <= last)
				learn_comment(b, v, &v->g[k++]);
			cidr_addr_str(f, pfx[x].addr, a, sizeof(a));
			if (pfx[x].plen == cidr_bits(f))
				bprintf(b, "%s\n", a);
			else
				bprintf(b, "%s/%d\n", a, pfx[x].plen);
			(*nprefixes)++;
		}
	}
	rangeset_fini(&rs);
	return b->oom ? -ENOMEM : 0;
}

/* The prefix lines of an allow_file (comments and blanks left out), for comparison. */
static char *prefix_lines(const char *text, size_t len)
{
	struct buf b = { 0 };
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *h = memchr(p, '#', (size_t)(e - p));
		const char *s = p, *t = h ? h : e;

		while (s < t && (*s == ' ' || *s == '\t'))
			s++;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r'))
			t--;
		if (t > s)
			bprintf(&b, "%.*s\n", (int)(t - s), s);
		p = nl ? nl + 1 : end;
	}
	if (!b.p && !b.oom)
		bprintf(&b, "%s", "");
	return b.oom ? (free(b.p), NULL) : b.p;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	struct buf b = { 0 };
	char chunk[65536];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bprintf(&b, "%.*s", (int)n, chunk);
	fclose(f);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (!b.p)
		bprintf(&b, "%s", "");
	*len = b.len;
	return b.p;
}

static int learn(struct pl_ctx *ctx, const char *table, const char *path, const struct svc_seen *v,
		 int agg4, int agg6)
{
	struct buf b = { 0 };
	char t[64], *old = NULL, *oldp = NULL, *newp = NULL;
	size_t n4 = 0, n6 = 0, oldlen = 0;
	int rc = PL_EXIT_OK;

	bprintf(&b, "# learned by 'portlock observed --learn' from table inet %s, service %s, %s\n",
		table, v->svc->name,
		seen_time_str((int64_t)time(NULL), true, t, sizeof(t)));
	bprintf(&b, "# %zu source%s; aggregated to /%d (IPv4) and /%d (IPv6)\n", v->ng,
		v->ng == 1 ? "" : "s", agg4, agg6);
	if (learn_family(&b, v, CIDR_V4, agg4, &n4) < 0 || learn_family(&b, v, CIDR_V6, agg6, &n6) < 0 ||
	    b.oom) {
		rc = diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "observed --learn");
		goto out;
	}
	newp = prefix_lines(b.p, b.len);
	old = read_all(path, &oldlen);
	if (old)
		oldp = prefix_lines(old, oldlen);
	if (!newp) {
		rc = diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "observed --learn");
		goto out;
	}
	/* the same prefixes already: keep the file (its dates and counts are the reviewed ones) */
	if (oldp && !strcmp(oldp, newp)) {
		if (!ctx->json)
			printf("%s: unchanged, it already lists these %zu prefix%s\n", path, n4 + n6,
			       n4 + n6 == 1 ? "" : "es");
		goto out;
	}
	if (seen_write_atomic(path, b.p, b.len, &ctx->diag) < 0) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	if (!ctx->json)
		printf("%s: %zu prefix%s (%zu IPv4, %zu IPv6) from %zu source%s of service %s\n", path,
		       n4 + n6, n4 + n6 == 1 ? "" : "es", n4, n6, v->ng, v->ng == 1 ? "" : "s",
		       v->svc->name);
out:
	free(b.p);
	free(old);
	free(oldp);
	free(newp);
	return rc;
}

static int parse_aggregate(const char *s, int *agg4, int *agg6)
{
	char *end;
	long n;

	if (*s == '/')
		s++;
	n = strtol(s, &end, 10);
	if (end == s || *end || n < 1 || n > 128)
		return -EINVAL;
	if (n <= 32)
		*agg4 = (int)n;
	else
		*agg6 = (int)n;
	return 0;
}

int cmd_observed_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "learn", required_argument, NULL, 'l' },
		{ "aggregate", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *service = NULL, *learn_path = NULL;
	int agg4 = 32, agg6 = 128, opt, rc = PL_EXIT_OK;
	bool agg_given = false;
	struct policy p = { 0 };
	struct nl_sock *s = NULL;
	struct svc_seen *v = NULL;
	size_t nv = 0;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hj", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "observed",
				  "  -j, --json            machine-readable output\n"
				  "      --learn FILE      write the sources as allow_file lines to FILE\n"
				  "      --aggregate /N    --learn: widen IPv4 sources to /N (N <= 32) or\n"
				  "                        IPv6 sources to /N (N > 32); repeat for both\n"
				  "  -h, --help            this help\n");
			return PL_EXIT_OK;
		case 'j': ctx->json = true; break;
		case 'l': learn_path = optarg; break;
		case 'a':
			if (parse_aggregate(optarg, &agg4, &agg6) < 0)
				return cmd_bad_usage(ctx, "observed",
						     "--aggregate '%s': expected /N, N from 1 to 32 (IPv4) or 33 to 128 (IPv6)",
						     optarg);
			agg_given = true;
			break;
		default:
			return cmd_bad_usage(ctx, "observed", "unknown option or missing argument '%s'",
					     argv[optind - 1]);
		}
	}
	if (optind < argc)
		service = argv[optind++];
	if (optind < argc)
		return cmd_bad_usage(ctx, "observed", "unexpected argument '%s'", argv[optind]);
	if (agg_given && !learn_path)
		return cmd_bad_usage(ctx, "observed", "--aggregate goes with --learn FILE");
	rc = cmd_load_policy(ctx, &p);
	if (rc)
		return rc;
	if (service) {
		size_t i;

		for (i = 0; i < p.nsvcs && strcmp(p.svcs[i].name, service); i++)
			;
		if (i == p.nsvcs) {
			rc = cmd_bad_usage(ctx, "observed", "no service '%s' in %s", service, p.source);
			goto out;
		}
	} else if (learn_path && p.nsvcs != 1) {
		rc = cmd_bad_usage(ctx, "observed",
				   "--learn writes the allow_file of one service: name it (%zu services in %s)",
				   p.nsvcs, p.source);
		goto out;
	}
	v = calloc(p.nsvcs ? p.nsvcs : 1, sizeof(*v));
	if (!v) {
		rc = diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "observed");
		goto out;
	}
	if (nl_open(&s, &ctx->diag) < 0) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	util_mark("observed: policy loaded");
	for (size_t i = 0; i < p.nsvcs; i++) {
		if (service && strcmp(p.svcs[i].name, service))
			continue;
		v[nv].svc = &p.svcs[i];
		if (read_service(s, p.table, &v[nv++], &ctx->diag) < 0) {
			rc = diag_exit_code(&ctx->diag);
			goto out;
		}
	}
	util_mark("observed: sets read");
	if (learn_path) {
		rc = learn(ctx, p.table, learn_path, &v[0], agg4, agg6);
		if (rc || !ctx->json)
			goto out;
	}
	if (ctx->json)
		rc = print_json(p.table, v, nv);
	else
		print_text(p.table, v, nv);
	util_mark("observed: printed");
out:
	for (size_t i = 0; i < nv; i++)
		svc_seen_fini(&v[i]);
	free(v);
	nl_close(s);
	policy_fini(&p);
	return rc;
}
