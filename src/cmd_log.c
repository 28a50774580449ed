// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock log [--json] [-n N] [--verify]`: list the journal's transactions,
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

static void log_text(const char *jdir, struct journal_rec *recs, size_t first, size_t n)
{
	if (first >= n) {
		printf("no transactions recorded in '%s'\n", jdir);
		return;
	}
	printf("%-6s %-19s  %-10s %-12s %-14s %-24s %-14s %-12s  %s\n", "ID", "TIME", "USER", "TABLE",
	       "KIND", "STATE", "CHANGES", "POLICY", "COMMAND");
	for (size_t i = first; i < n; i++) {
		const struct journal_rec *r = &recs[i];
		char when[64], kind[48], state[96], changes[48], user[JOURNAL_USER_MAX * 4],
			table[JOURNAL_TABLE_MAX * 4], cmdline[1024];

		fmt_time(r->time, false, when, sizeof(when));
		if (r->reverts_id)
			snprintf(kind, sizeof(kind), "%s #%" PRIu64, journal_kind_str(r->kind),
				 r->reverts_id);
		else
			snprintf(kind, sizeof(kind), "%s", journal_kind_str(r->kind));
		if (r->state == JOURNAL_STATE_PENDING && r->confirm_deadline) {
			char dl[64];

			fmt_time(r->confirm_deadline, false, dl, sizeof(dl));
			snprintf(state, sizeof(state), "pending until %s", dl + 11);
		} else {
			snprintf(state, sizeof(state), "%s", journal_state_str(r->state));
		}
		snprintf(changes, sizeof(changes), "+%" PRIu64 "/-%" PRIu64, r->added, r->removed);
		/* a hand-edited record may hold anything: escape before printing */
		util_escape(r->user, strlen(r->user), user, sizeof(user));
		util_escape(r->table, strlen(r->table), table, sizeof(table));
		util_escape(r->argv ? r->argv : "", r->argv ? strlen(r->argv) : 0, cmdline,
			    sizeof(cmdline));
		printf("%-6" PRIu64 " %-19s  %-10s %-12s %-14s %-24s %-14s %-12.*s  %s\n", r->id, when,
		       user, table, kind, state, changes, LOG_HASH_SHORT,
		       r->policy_sha256[0] ? r->policy_sha256 : "-", cmdline);
	}
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
	while ((opt = cmd_getopt(ctx, argc, argv, "hjn:", opts)) != -1) {
		char *end;

		switch (opt) {
		case 'h':
			cmd_usage(ctx, "log",
				  "  -j, --json      machine-readable output (schema portlock-log/1)\n"
				  "  -n, --last N    only the newest N transactions\n"
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
				return cmd_bad_usage(ctx, "log", "'-n' needs a positive count, not '%s'",
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
						     optopt == 'n' ? "-n" : "--show");
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
		log_text(journal_path(j), recs, first, n);
	journal_recs_free(recs, n);
	journal_close(j);
	return rc;
}
