// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock log [--json] [--last N] [--verify]`: list the journal's transactions,
 * oldest first. `portlock log --show ID [--prior]`: the table a transaction
 * left (or found), rendered from the saved netlink messages and ranges. Reading takes no lock (journal.h: every journal file is
 * replaced by rename, so a reader sees whole files), so `log` works while an
 * apply runs or a --confirm watcher waits. Corrupt records are warned about on
 * stderr and skipped; the exit status stays 0.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cmd.h"
#include "journal.h"
#include "nft_model.h"
#include "render.h"
#include "snapshot.h"
#include "util.h"

#define LOG_HASH_SHORT 12

static void fmt_time(int64_t t, bool utc_iso, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!(utc_iso ? gmtime_r(&tt, &tm) : localtime_r(&tt, &tm)) ||
	    !strftime(out, len, utc_iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, len, "%" PRId64, t);
}

static int log_json(struct diag *d, struct journal_rec *recs, size_t first, size_t n)
{
	json_t *a = json_array(), *doc = json_object();
	int rc = PL_EXIT_OK;

	if (!a || !doc) {
		json_decref(a);
		json_decref(doc);
		return PL_EXIT_INTERNAL;
	}
	for (size_t i = first; i < n; i++) {
		json_t *o = journal_rec_to_json(&recs[i]);
		char iso[64];

		if (!o) {
			diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "cannot render transaction %" PRIu64
				 " as JSON", recs[i].id);
			rc = PL_EXIT_INTERNAL;
			break;
		}
		fmt_time(recs[i].time, true, iso, sizeof(iso));
		json_object_set_new(o, "time_iso", json_string(iso));
		json_array_append_new(a, o);
	}
	json_object_set_new(doc, "transactions", a);
	if (rc)
		json_decref(doc);
	else if (cmd_json_print("log", doc) < 0)
		rc = PL_EXIT_INTERNAL;
	return rc;
}

/* one line of `log`, its columns rendered */
struct log_row {
	char id[24], when[64], user[JOURNAL_USER_MAX * 4], table[JOURNAL_TABLE_MAX * 4], kind[48],
		state[96], changes[48], policy[LOG_HASH_SHORT + 1], cmdline[1024];
};

enum { COL_ID, COL_TIME, COL_USER, COL_TABLE, COL_KIND, COL_STATE, COL_CHANGES, COL_POLICY, COL_N };

static const char *log_col(const struct log_row *r, int c)
{
	switch (c) {
	case COL_ID: return r->id;
	case COL_TIME: return r->when;
	case COL_USER: return r->user;
	case COL_TABLE: return r->table;
	case COL_KIND: return r->kind;
	case COL_STATE: return r->state;
	case COL_CHANGES: return r->changes;
	default: return r->policy;
	}
}

static void log_row(const struct journal_rec *r, struct log_row *o)
{
	snprintf(o->id, sizeof(o->id), "%" PRIu64, r->id);
	fmt_time(r->time, false, o->when, sizeof(o->when));
	if (r->reverts_id)
		snprintf(o->kind, sizeof(o->kind), "%s #%" PRIu64, journal_kind_str(r->kind), r->reverts_id);
	else
		snprintf(o->kind, sizeof(o->kind), "%s", journal_kind_str(r->kind));
	if (r->state == JOURNAL_STATE_PENDING && r->confirm_deadline) {
		char dl[32];

		util_fmt_clock(r->confirm_deadline, dl, sizeof(dl));	/* the date when not today */
		snprintf(o->state, sizeof(o->state), "pending until %s", dl);
	} else {
		snprintf(o->state, sizeof(o->state), "%s", journal_state_str(r->state));
	}
	snprintf(o->changes, sizeof(o->changes), "+%" PRIu64 "/-%" PRIu64, r->added, r->removed);
	snprintf(o->policy, sizeof(o->policy), "%.*s", LOG_HASH_SHORT,
		 r->policy_sha256[0] ? r->policy_sha256 : "-");
	/* a hand-edited record may hold anything: escape before printing */
	util_escape(r->user, strlen(r->user), o->user, sizeof(o->user));
	util_escape(r->table, strlen(r->table), o->table, sizeof(o->table));
	util_escape(r->argv ? r->argv : "", r->argv ? strlen(r->argv) : 0, o->cmdline, sizeof(o->cmdline));
}

/*
 * The table: each column as wide as its widest cell (at least the usual
 * width), so that long kinds, states or names keep the columns aligned.
 */
static int log_text(struct diag *d, const char *jdir, struct journal_rec *recs, size_t first, size_t n)
{
	static const char *const head[COL_N] = { "ID", "TIME", "USER", "TABLE", "KIND", "STATE", "CHANGES",
						  "POLICY" };
	static const int minw[COL_N] = { 6, 19, 10, 12, 14, 24, 14, 12 };
	int w[COL_N];
	struct log_row *rows;

	if (first >= n) {
		printf("no transactions recorded in '%s'\n", jdir);
		return PL_EXIT_OK;
	}
	rows = calloc(n - first, sizeof(*rows));
	if (!rows) {
		diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "log");
		return PL_EXIT_INTERNAL;
	}
	memcpy(w, minw, sizeof(w));
	for (size_t i = first; i < n; i++) {
		log_row(&recs[i], &rows[i - first]);
		for (int c = 0; c < COL_N; c++) {
			size_t len = strlen(log_col(&rows[i - first], c));

			if (len > (size_t)w[c])
				w[c] = (int)len;
		}
	}
	printf("%-*s %-*s  %-*s %-*s %-*s %-*s %-*s %-*s  %s\n", w[0], head[0], w[1], head[1], w[2], head[2],
	       w[3], head[3], w[4], head[4], w[5], head[5], w[6], head[6], w[7], head[7], "COMMAND");
	for (size_t i = 0; i < n - first; i++) {
		const struct log_row *r = &rows[i];

		printf("%-*s %-*s  %-*s %-*s %-*s %-*s %-*s %-*s  %s\n", w[0], r->id, w[1], r->when, w[2],
		       r->user, w[3], r->table, w[4], r->kind, w[5], r->state, w[6], r->changes, w[7],
		       r->policy, r->cmdline);
	}
	free(rows);
	return PL_EXIT_OK;
}

/* The saved content of one transaction, as `show` would print that table. */
static int log_show(struct pl_ctx *ctx, struct journal *j, uint64_t id, bool prior)
{
	struct journal_rec rec = { 0 };
	struct nm_live l = { 0 };
	char what[64];
	int rc = PL_EXIT_OK;

	snprintf(what, sizeof(what), "transaction %" PRIu64, id);
	if (journal_get(j, id, &rec, &ctx->diag) ||
	    snapshot_load(j, &rec, !prior, false, &l.t, what, &ctx->diag)) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	l.genid = prior ? rec.gen_before : rec.gen_after;
	if (ctx->json) {
		json_t *o = render_live_json(&l);

		json_object_set_new(o, "transaction", json_integer((json_int_t)id));
		json_object_set_new(o, "content", json_string(prior ? "prior" : "result"));
		/* the table as show prints it, and which transaction's it is */
		cmd_json_print("show", o);
	} else {
		printf("# transaction %" PRIu64 ": the table %s it\n", id, prior ? "before" : "after");
		render_live_text(&l, stdout);
	}
out:
	nm_live_fini(&l);
	journal_rec_fini(&rec);
	return rc;
}

int cmd_log_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "last", required_argument, NULL, 'n' },
		{ "verify", no_argument, NULL, 'V' },
		{ "show", required_argument, NULL, 's' },
		{ "prior", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long show = 0;
	bool prior = false;
	struct journal_rec *recs = NULL;
	struct journal *j = NULL;
	unsigned flags = 0;
	size_t n = 0, first = 0;
	long last = -1;
	int opt, rc;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hj", opts)) != -1) {
		char *end;

		switch (opt) {
		case 'h':
			cmd_usage(ctx, "log",
				  "  -j, --json      machine-readable output (schema portlock-log/1)\n"
				  "      --last N    only the newest N transactions\n"
				  "      --verify    also check every saved table's sha256 (slow for\n"
				  "                  large tables)\n"
				  "      --show ID   print the table as transaction ID left it\n"
				  "      --prior     with --show: the table as it was before\n"
				  "  -h, --help      this help\n");
			return PL_EXIT_OK;
		case 'j':
			ctx->json = true;
			break;
		case 'n':
			errno = 0;
			last = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || last < 1 || last > INT_MAX)
				return cmd_bad_usage(ctx, "log", "'--last' needs a positive count, not '%s'",
						     optarg);
			break;
		case 'V':
			flags |= JOURNAL_LIST_VERIFY;
			break;
		case 's':
			errno = 0;
			show = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || !show || *optarg == '-')
				return cmd_bad_usage(ctx, "log", "'--show' needs a transaction id, not '%s'",
						     optarg);
			break;
		case 'p':
			prior = true;
			break;
		default:
			if (optopt == 'n' || optopt == 's')
				return cmd_bad_usage(ctx, "log", "option '%s' needs an argument",
						     optopt == 'n' ? "--last" : "--show");
			return cmd_bad_usage(ctx, "log", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, "log", "unexpected argument '%s'", argv[optind]);

	if (prior && !show)
		return cmd_bad_usage(ctx, "log", "'--prior' goes with '--show ID'");
	rc = journal_open_readonly(&j, ctx->state_dir, &ctx->diag);
	if (rc)
		return diag_exit_code(&ctx->diag);
	if (show) {
		rc = log_show(ctx, j, show, prior);
		journal_close(j);
		return rc;
	}
	rc = journal_list(j, flags, &recs, &n, &ctx->diag);
	if (rc) {
		journal_close(j);
		return diag_exit_code(&ctx->diag);
	}
	if (last > 0 && (size_t)last < n)
		first = n - (size_t)last;
	if (ctx->json)
		rc = log_json(&ctx->diag, recs, first, n);
	else
		rc = log_text(&ctx->diag, journal_path(j), recs, first, n);
	journal_recs_free(recs, n);
	journal_close(j);
	return rc;
}
