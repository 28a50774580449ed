// SPDX-License-Identifier: GPL-2.0-or-later
/* `portlock show`: the managed table as the kernel has it, in nft syntax or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"
#include "nft_model.h"
#include "nft_read.h"
#include "nl.h"
#include "policy.h"
#include "render.h"
#include "seen.h"
#include "snapshot.h"
#include "stats.h"

#define SHOW_TOP_DEFAULT 10

static const char *row_family(const struct stats_row *r)
{
	return r->family == 4 ? "ipv4" : r->family == 6 ? "ipv6" : "any";
}

static json_t *count_json(const struct stats_count *c)
{
	return c->present ? json_pack("{s:I,s:I}", "packets", (json_int_t)c->packets, "bytes",
				      (json_int_t)c->bytes)
			  : json_null();
}

static json_t *stats_json(const struct nm_live *l, const struct stats *st)
{
	json_t *o = json_object(), *rows = json_array();
	char a[64], t[64];

	json_object_set_new(o, "table", json_string(l->t.name));
	json_object_set_new(o, "exists", json_boolean(l->t.exists));
	json_object_set_new(o, "generation", json_integer(l->genid));
	json_object_set_new(o, "time", json_integer((json_int_t)time(NULL)));
	for (size_t i = 0; i < st->nrows; i++) {
		const struct stats_row *r = &st->rows[i];
		json_t *ro = json_object(), *top = json_array();

		json_object_set_new(ro, "service", json_string(r->service));
		json_object_set_new(ro, "family", json_string(row_family(r)));
		for (int w = 0; w < STATS_WHAT_MAX; w++)
			json_object_set_new(ro, stats_what_str(w), count_json(&r->c[w]));
		json_object_set_new(ro, "seen_sources", r->seen_set ? json_integer((json_int_t)r->seen_sources) : json_null());
		json_object_set_new(ro, "seen_entries", r->seen_set ? json_integer((json_int_t)r->seen_entries) : json_null());
		json_object_set_new(ro, "grants", r->tmp_set ? json_integer((json_int_t)r->grants) : json_null());
		for (size_t k = 0; k < r->ntop; k++) {
			const struct stats_top *tp = &r->top[k];

			json_array_append_new(top, json_pack("{s:s,s:I,s:I,s:i,s:I,s:o}", "source",
				cidr_addr_str(tp->family, tp->addr, a, sizeof(a)), "packets", (json_int_t)tp->packets,
				"bytes", (json_int_t)tp->bytes, "port", tp->port, "ports", (json_int_t)tp->nports,
				"last_seen", tp->last_seen ? json_string(seen_time_str(tp->last_seen, true, t, sizeof(t)))
							   : json_null()));
		}
		json_object_set_new(ro, "top_sources", top);
		json_array_append_new(rows, ro);
	}
	json_object_set_new(o, "services", rows);
	return o;
}

static void count_text(const struct stats_count *c, char *buf, size_t len)
{
	if (c->present)
		snprintf(buf, len, "%llu/%llu", (unsigned long long)c->packets, (unsigned long long)c->bytes);
	else
		snprintf(buf, len, "-");
}

static void stats_text(const struct nm_live *l, const struct stats *st)
{
	char c[STATS_WHAT_MAX][48], a[64], t[64];
	bool any_top = false;

	if (!l->t.exists) {
		printf("table inet %s does not exist\n", l->t.name);
		return;
	}
	printf("table inet %s (generation %u); counters in packets/bytes\n", l->t.name, l->genid);
	printf("%-16s %-6s %-20s %-20s %-20s %-20s %8s %6s\n", "SERVICE", "FAMILY", "ALLOWED", "TEMPORARY",
	       "REFUSED", "OBSERVED", "SEEN", "GRANTS");
	for (size_t i = 0; i < st->nrows; i++) {
		const struct stats_row *r = &st->rows[i];
		char seen[24], grants[24];

		for (int w = 0; w < STATS_WHAT_MAX; w++)
			count_text(&r->c[w], c[w], sizeof(c[w]));
		snprintf(seen, sizeof(seen), r->seen_set ? "%zu" : "-", r->seen_sources);
		snprintf(grants, sizeof(grants), r->tmp_set ? "%zu" : "-", r->grants);
		printf("%-16s %-6s %-20s %-20s %-20s %-20s %8s %6s\n", r->service, row_family(r),
		       c[STATS_ALLOWED], c[STATS_TEMP], c[STATS_REFUSED], c[STATS_OBSERVED], seen, grants);
		any_top |= r->ntop > 0;
	}
	if (!any_top)
		return;
	printf("\ntop sources in the seen sets (refused, or in observe mode accepted):\n");
	printf("  %-16s %-39s %10s %12s %6s  %s\n", "SERVICE", "SOURCE", "PACKETS", "BYTES", "PORT", "LAST SEEN");
	for (size_t i = 0; i < st->nrows; i++)
		for (size_t k = 0; k < st->rows[i].ntop; k++) {
			const struct stats_top *tp = &st->rows[i].top[k];

			printf("  %-16s %-39s %10llu %12llu %6u  %s\n", st->rows[i].service,
			       cidr_addr_str(tp->family, tp->addr, a, sizeof(a)), (unsigned long long)tp->packets,
			       (unsigned long long)tp->bytes, tp->port,
			       seen_time_str(tp->last_seen, false, t, sizeof(t)));
		}
}

int cmd_show_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "table", required_argument, NULL, 't' },
		{ "stats", no_argument, NULL, 's' },
		{ "top", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *table = NULL;
	struct nl_sock *s = NULL;
	struct nm_live live = { 0 };
	struct nft_read_cache cache = { 0 };
	struct policy p = { 0 };
	struct stats st = { 0 };
	bool stats = false;
	long top = SHOW_TOP_DEFAULT;
	char *end;
	int opt, rc = PL_EXIT_OK;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hjs", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "show", "      --table NAME  read table inet NAME instead of the config's\n"
					       "  -s, --stats       counters per service and family, top sources seen\n"
					       "      --top N       --stats: sources listed per service and family (default 10)\n"
					       "  -j, --json        machine-readable output\n"
					       "  -h, --help        this help\n");
			return PL_EXIT_OK;
		case 'j': ctx->json = true; break;
		case 't': table = optarg; break;
		case 's': stats = true; break;
		case 'T':
			top = strtol(optarg, &end, 10);
			if (*end || end == optarg || top < 0 || top > 100000)
				return cmd_bad_usage(ctx, "show", "--top '%s' is not a number from 0 to 100000",
						     optarg);
			break;
		default:
			return cmd_bad_usage(ctx, "show", "unknown option or missing argument '%s'",
					     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, "show", "unexpected argument '%s'", argv[optind]);
	if (table && !config_valid_table_name(table))
		return cmd_bad_usage(ctx, "show", "'%s' is not a valid table name", table);
	if (!table) {
		rc = cmd_load_policy(ctx, &p);
		if (rc)
			return rc;
		table = p.table;
		for (size_t i = 0; stats && i < p.nsvcs; i++)
			if (stats_add_service(&st, p.svcs[i].name) < 0) {
				rc = diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "show");
				goto out;
			}
	}
	livecache_load(ctx->state_dir, table, &cache);
	if (nl_open(&s, &ctx->diag) < 0 || nft_read(s, table, false, &cache, &live, &ctx->diag) < 0) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	if (stats) {
		if (stats_collect(s, &live, (size_t)top, &st, &ctx->diag) < 0) {
			rc = diag_exit_code(&ctx->diag);
			goto out;
		}
		if (ctx->json) {
			cmd_json_print("show-stats", stats_json(&live, &st));
		} else {
			stats_text(&live, &st);
		}
	} else if (ctx->json) {
		json_t *o = render_live_json(&live);

		/* a --confirm transaction past its deadline, not reverted yet (show never reverts) */
		json_object_set_new(o, "overdue", cmd_overdue_json(ctx));
		cmd_json_print("show", o);
	} else {
		render_live_text(&live, stdout);
	}
out:
	cmd_live_release(&st, &live, &cache, s, &p);
	return rc;
}
