// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock metrics [--output FILE]`: the counters of `show --stats` in the
 * Prometheus text exposition format (node_exporter's textfile collector
 * reads FILE, written atomically: temp file and rename), plus the time of
 * the last transaction and whether a confirm is pending.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "diag.h"
#include "nft_model.h"
#include "nft_read.h"
#include "nl.h"
#include "policy.h"
#include "seen.h"
#include "snapshot.h"
#include "stats.h"

static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const struct stats_row *r, unsigned long long v)
{
	fprintf(f, "%s{service=\"", name);
	label(f, r->service);
	fprintf(f, "\",family=\"%s\"} %llu\n", r->family == 4 ? "ipv4" : r->family == 6 ? "ipv6" : "any", v);
}

static void write_metrics(FILE *f, const char *table, const struct nm_live *l, const struct stats *st,
			  const struct stats_journal *sj)
{
	static const char *const help[STATS_WHAT_MAX] = {
		[STATS_ALLOWED] = "accepted from the service's allowlist",
		[STATS_TEMP] = "accepted from the service's temporary access (portlock allow)",
		[STATS_REFUSED] = "refused (enforce mode): outside the allowlist",
		[STATS_OBSERVED] = "outside the allowlist, accepted and recorded (observe mode)",
	};
	char name[96], text[160];

	for (int w = 0; w < STATS_WHAT_MAX; w++) {
		for (int unit = 0; unit < 2; unit++) {
			snprintf(name, sizeof(name), "portlock_%s_%s_total", stats_what_str(w),
				 unit ? "bytes" : "packets");
			snprintf(text, sizeof(text), "%s %s", unit ? "Bytes" : "Packets", help[w]);
			head(f, name, "counter", text);
			for (size_t i = 0; i < st->nrows; i++)
				if (st->rows[i].c[w].present)
					sample(f, name, &st->rows[i],
					       unit ? st->rows[i].c[w].bytes : st->rows[i].c[w].packets);
		}
	}
	head(f, "portlock_seen_sources", "gauge",
	     "Distinct sources in the service's seen set (refused, or observed, within the retention)");
	for (size_t i = 0; i < st->nrows; i++)
		if (st->rows[i].seen_set)
			sample(f, "portlock_seen_sources", &st->rows[i], st->rows[i].seen_sources);
	head(f, "portlock_temporary_grants", "gauge", "Temporary-access ranges in force (portlock allow)");
	for (size_t i = 0; i < st->nrows; i++)
		if (st->rows[i].tmp_set)
			sample(f, "portlock_temporary_grants", &st->rows[i], st->rows[i].grants);
	head(f, "portlock_table_present", "gauge", "1 when the managed table exists in the kernel");
	fputs("portlock_table_present{table=\"", f);
	label(f, table);
	fprintf(f, "\"} %d\n", l->t.exists ? 1 : 0);
	head(f, "portlock_last_transaction_timestamp_seconds", "gauge",
	     "Unix time of the newest journaled transaction of the table");
	if (sj->has_last)
		fprintf(f, "portlock_last_transaction_timestamp_seconds %lld\n", (long long)sj->last_time);
	head(f, "portlock_confirm_pending", "gauge",
	     "1 while a transaction applied with --confirm waits for 'portlock confirm'");
	fprintf(f, "portlock_confirm_pending %d\n", sj->pending ? 1 : 0);
	head(f, "portlock_confirm_deadline_timestamp_seconds", "gauge",
	     "Unix time at which the pending transaction reverts unless confirmed");
	if (sj->pending && sj->pending_deadline)
		fprintf(f, "portlock_confirm_deadline_timestamp_seconds %lld\n", (long long)sj->pending_deadline);
}

int cmd_metrics_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL;
	struct policy p = { 0 };
	struct nl_sock *s = NULL;
	struct nm_live live = { 0 };
	struct nft_read_cache cache = { 0 };
	struct stats st = { 0 };
	struct stats_journal sj;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int opt, rc;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "ho:", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "metrics",
				  "  -o, --output FILE  write to FILE atomically (temp file, rename) instead of stdout\n"
				  "  -h, --help         this help\n");
			return PL_EXIT_OK;
		case 'o': output = optarg; break;
		default:
			return cmd_bad_usage(ctx, "metrics", "unknown option or missing argument '%s'",
					     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, "metrics", "unexpected argument '%s'", argv[optind]);
	rc = cmd_load_policy(ctx, &p);
	if (rc)
		return rc;
	for (size_t i = 0; i < p.nsvcs; i++)
		if (stats_add_service(&st, p.svcs[i].name) < 0) {
			rc = diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "metrics");
			goto out;
		}
	livecache_load(ctx->state_dir, p.table, &cache);
	if (nl_open(&s, &ctx->diag) < 0 || nft_read(s, p.table, false, &cache, &live, &ctx->diag) < 0 ||
	    stats_collect(s, &live, 0, &st, &ctx->diag) < 0 ||
	    stats_journal(ctx->state_dir, p.table, &sj, &ctx->diag) < 0) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		rc = diag_err(&ctx->diag, DIAG_INTERNAL, NULL, errno, "metrics");
		goto out;
	}
	write_metrics(f, p.table, &live, &st, &sj);
	if (fclose(f) != 0) {
		rc = diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "metrics");
		goto out;
	}
	if (output) {
		if (seen_write_atomic(output, buf, len, &ctx->diag) < 0)
			rc = diag_exit_code(&ctx->diag);
	} else {
		fwrite(buf, 1, len, stdout);
	}
out:
	free(buf);
	cmd_live_release(&st, &live, &cache, s, &p);
	return rc;
}
