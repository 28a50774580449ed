// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock plan` (dry run: the diff apply would make) and `portlock apply`
 * (make it, atomically). Both run the same engine (sync.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "cmd.h"
#include "util.h"
#include "compile.h"
#include "config.h"
#include "diag.h"
#include "impact.h"
#include "policy.h"
#include "render.h"
#include "render_txn.h"
#include "render_impact.h"
#include "snapshot.h"
#include "sync.h"
#include "txn.h"

#define PLAN_ELEM_LINES 20

static void print_json(const struct pl_ctx *ctx, const struct sync_result *r, const char *mode,
		       json_t *auto_reverted, json_t *impact)
{
	json_t *o = render_plan_json(&r->plan);

	json_object_set_new(o, "mode", json_string(mode));
	json_object_set_new(o, "generation", json_integer(r->gen_before));
	if (r->committed) {
		json_object_set_new(o, "applied", json_true());
		json_object_set_new(o, "generation_after", json_integer(r->gen_after));
	} else {
		json_object_set_new(o, "applied", json_false());
	}
	json_object_set_new(o, "messages", json_integer((json_int_t)nl_batch_count_of(&r->plan)));
	json_object_set_new(o, "bytes", json_integer((json_int_t)r->bytes));
	json_object_set_new(o, "attempts", json_integer(r->attempts));
	/* the policy was applied and auto-reverted as unconfirmed: apply refuses it (exit 5) */
	json_object_set_new(o, "auto_reverted", auto_reverted ? auto_reverted : json_null());
	/* a --confirm transaction past its deadline, not reverted yet (nothing here reverts it) */
	if (ctx->overdue_id) {
		json_t *od = json_object();

		json_object_set_new(od, "transaction", json_integer((json_int_t)ctx->overdue_id));
		json_object_set_new(od, "confirm_deadline", ctx->overdue_deadline
								    ? json_integer(ctx->overdue_deadline)
								    : json_null());
		json_object_set_new(o, "overdue", od);
	} else {
		json_object_set_new(o, "overdue", json_null());
	}
	/* what the change would cut; null when there is no change */
	json_object_set_new(o, "impact", impact ? impact : json_null());
	cmd_json_print("plan", o);
}

/* -v: what the compile cache did */
static void print_compile_stats(const struct pl_ctx *ctx, const struct compile *cc)
{
	const struct compile_stats *st;

	if (ctx->verbose <= 0 || !cc)
		return;
	st = compile_stats(cc);
	fprintf(stderr,
		"portlock: compile: %zu service%s (%zu from scratch); allow_files: %zu unchanged, %zu changed, "
		"%zu read whole; %zu line%s read; %zu shard%s, %zu computed\n",
		st->services, st->services == 1 ? "" : "s", st->services_full, st->files_unchanged,
		st->files_delta, st->files_full, st->lines_parsed, st->lines_parsed == 1 ? "" : "s",
		st->shards, st->shards == 1 ? "" : "s", st->shards_fresh);
}

static int run(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "exit-code", no_argument, NULL, 'e' },
		{ "check", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = "plan";
	const bool apply = false;
	struct sync_opts so = { .mode = SYNC_PLAN };
	struct sync_result r;
	struct nft_read_cache cache = { 0 };
	struct policy p;
	struct compile *cc = NULL;
	json_t *auto_reverted = NULL;
	struct impact im;
	bool exit_code = false;
	int opt, rc = PL_EXIT_OK, ret;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, apply ? "hj" : "hjeC", opts)) != -1) {
		switch (opt) {
		case 'h':
			if (apply)
				cmd_usage(ctx, name, "  -j, --json       machine-readable output\n"
						     "  -h, --help       this help\n");
			else
				cmd_usage(ctx, name, "  -e, --exit-code  exit 1 when changes are pending or a --confirm\n"
						     "                   transaction is overdue, 0 when in sync\n"
						     "  -C, --check      also let the kernel validate the batch (nothing changes)\n"
						     "  -j, --json       machine-readable output\n"
						     "  -h, --help       this help\n");
			return PL_EXIT_OK;
		case 'j': ctx->json = true; break;
		case 'e': exit_code = true; break;
		case 'C': so.mode = SYNC_CHECK; break;
		default:
			return cmd_bad_usage(ctx, name, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, name, "unexpected argument '%s'", argv[optind]);
	if (compile_load(ctx->config_path, ctx->state_dir, 0, &p, &cc, &ctx->diag) < 0)
		return diag_exit_code(&ctx->diag);
	print_compile_stats(ctx, cc);
	so.max_elem_lines = ctx->verbose > 0 ? 0 : PLAN_ELEM_LINES;
	livecache_load(ctx->state_dir, p.table, &cache);
	cache.lazy_ok = true;
	so.cache = &cache;
	impact_init(&im);
	ret = sync_run(&p, &so, &r, &ctx->diag);
	if (ret) {
		if (so.mode == SYNC_CHECK && r.plan.batch && !ctx->json)
			render_plan_text(&r.plan, stdout);
		if (!apply || !r.committed)
			diag_note(&ctx->diag, NULL, "nothing was changed");
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	if (!plan_empty(&r.plan)) {
		char hash[65], why[256];
		struct diag q;

		/* what the change would cut: judged against the table read for the plan */
		diag_init(&q);
		if (impact_run(&p, &r.live.t, &im, &q) < 0)
			diag_warn(&ctx->diag, NULL, "cannot list the established connections: %s",
				  q.nrecs ? q.recs[0].msg : "unknown error");
		diag_fini(&q);
		uint64_t applied_id = 0, auto_id = 0;

		/* say why the policy is not in force when apply would refuse it */
		if (policy_hash(&p, hash) == 0 &&
		    txn_auto_reverted(ctx, hash, why, sizeof(why), &applied_id, &auto_id)) {
			diag_warn(&ctx->diag, NULL,
				  "%s: the policy is not in force, and 'apply' refuses it without --force (or --confirm SECONDS)",
				  why);
			auto_reverted = json_pack("{s:I,s:I,s:s}", "transaction", (json_int_t)applied_id,
						  "auto_revert", (json_int_t)auto_id, "message", why);
		}
	}
	if (ctx->json) {
		print_json(ctx, &r, apply ? "apply" : so.mode == SYNC_CHECK ? "check" : "plan", auto_reverted,
			   im.judged ? render_impact_json(&p, &im) : NULL);
		auto_reverted = NULL;
	} else if (plan_empty(&r.plan)) {
		printf("no changes: table inet %s matches %s (generation %u)\n", p.table, p.source,
		       r.gen_before);
	} else if (apply) {
		char counts[400];

		if (ctx->verbose >= 0)
			render_plan_text(&r.plan, stdout);
		render_plan_counts(&r.plan, counts, sizeof(counts));
		printf("applied to table inet %s: %s (generation %u -> %u)\n", p.table, counts,
		       r.gen_before, r.gen_after);
	} else {
		printf("plan for table inet %s from %s (generation %u):\n", p.table, p.source,
		       r.gen_before);
		render_plan_text(&r.plan, stdout);
		if (im.judged)
			render_impact_text(&p, &im, (int64_t)time(NULL), false, stdout);
		if (so.mode == SYNC_CHECK)
			printf("the kernel validated the batch; nothing was changed\n");
	}
	if (ctx->verbose > 0 && !ctx->json)
		fprintf(stderr, "portlock: batch of %zu messages, %zu bytes, %d attempt%s\n",
			nl_batch_count_of(&r.plan), r.bytes, r.attempts, r.attempts == 1 ? "" : "s");
	if (!apply && exit_code && (!plan_empty(&r.plan) || ctx->overdue_id))
		rc = PL_EXIT_PENDING;
out:
	json_decref(auto_reverted);
	impact_fini(&im);
	sync_result_fini(&r);
	livecache_fini(&cache);
	policy_fini(&p);
	compile_free(cc);
	return rc;
}

int cmd_plan_main(struct pl_ctx *ctx, int argc, char **argv)
{
	return run(ctx, argc, argv);
}

/* --confirm S: 1 s to a week */
static int parse_confirm(struct pl_ctx *ctx, const char *name, const char *arg, unsigned *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || end == arg || v < 1 || v > 7 * 86400)
		return cmd_bad_usage(ctx, name, "--confirm '%s' is not a number of seconds (1 to 604800)", arg);
	*out = (unsigned)v;
	return PL_EXIT_OK;
}

int cmd_apply_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "confirm", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ "no-journal-ok", no_argument, NULL, 'N' },
		{ "boot", no_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct txn_opts o = { 0 };
	struct policy p;
	struct compile *cc = NULL;
	struct impact im;
	bool damaged = false;
	struct txn_result res;
	int opt, rc;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hjf", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "apply",
				  "      --confirm S  revert by itself after S seconds unless 'portlock confirm'\n"
				  "  -f, --force      apply even if it cuts this SSH session, a transaction is pending,\n"
				  "                   or this policy was just auto-reverted\n"
				  "      --no-journal-ok  when the state dir cannot be written, apply anyway without\n"
				  "                   a journal record (exit 7); without it only an absent table is\n"
				  "                   enforced that way\n"
				  "      --boot       for the boot unit: --no-journal-ok, the SSH guard only warns, and\n"
				  "                   a pending or auto-reverted state in the journal is put back\n"
				  "                   instead of the policy (never leaves the table absent)\n"
				  "  -j, --json       machine-readable output\n"
				  "  -h, --help       this help\n");
			return PL_EXIT_OK;
		case 'j': ctx->json = true; break;
		case 'f': o.force = true; break;
		case 'N': o.no_journal_ok = true; break;
		case 'B': o.boot = o.no_journal_ok = true; break;
		case 'c':
			rc = parse_confirm(ctx, "apply", optarg, &o.confirm_s);
			if (rc)
				return rc;
			break;
		default:
			return cmd_bad_usage(ctx, "apply", "unknown option or missing argument '%s'",
					     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, "apply", "unexpected argument '%s'", argv[optind]);
	if (o.boot && o.confirm_s)
		return cmd_bad_usage(ctx, "apply", "--boot and --confirm do not go together");
	if (compile_load(ctx->config_path, ctx->state_dir, COMPILE_WRITE, &p, &cc, &ctx->diag) < 0)
		return diag_exit_code(&ctx->diag);
	util_mark("policy compiled");
	print_compile_stats(ctx, cc);
	o.cache_damaged = &damaged;
	impact_init(&im);
	o.impact = &im;
	rc = txn_apply(ctx, &p, &o, &res);
	if (damaged && cc) {
		/*
		 * Fail safe: saved content the compile cache uses is damaged;
		 * enforcing the policy does not depend on it. What was said
		 * becomes warnings, and the policy is compiled from its files.
		 */
		struct diag old = ctx->diag;

		diag_init(&ctx->diag);
		for (size_t i = 0; i < old.nrecs; i++)
			if (old.recs[i].lvl != DIAG_LVL_NOTE)
				diag_warn(&ctx->diag, NULL, "%s", old.recs[i].msg);
		diag_fini(&old);
		diag_warn(&ctx->diag, NULL, "compiling %s again without the compile cache", ctx->config_path);
		compile_free(cc);
		cc = NULL;
		policy_fini(&p);
		if (compile_load(ctx->config_path, NULL, 0, &p, &cc, &ctx->diag) < 0) {
			impact_fini(&im);
			return diag_exit_code(&ctx->diag);
		}
		o.cache_damaged = NULL;
		txn_result_fini(&res);
		rc = txn_apply(ctx, &p, &o, &res);
	}
	render_txn(ctx, &res);
	txn_result_fini(&res);
	util_mark("txn done");
	impact_fini(&im);
	/* the cache is what this policy compiles to, whatever the kernel said */
	compile_save(cc, &ctx->diag);
	util_mark("compile cache saved");
	compile_free(cc);
	policy_fini(&p);
	util_mark("freed");
	return rc;
}

/* `portlock revert [ID]`, `portlock confirm`, `portlock recover`: journal transactions. */
static int simple_opts(struct pl_ctx *ctx, int argc, char **argv, const char *name,
		       const char *help)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hj", opts)) != -1) {
		if (opt == 'h') {
			cmd_usage(ctx, name, help);
			return -1;
		}
		if (opt == 'j') {
			ctx->json = true;
			continue;
		}
		return cmd_bad_usage(ctx, name, "unknown option '%s'", argv[optind - 1]);
	}
	return 0;
}

int cmd_revert_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "exit-code", no_argument, NULL, 'e' },
		{ "confirm", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct txn_opts o = { 0 };
	unsigned long long id = 0;
	char table[72];		/* table names: at most 64 (config.c) */
	struct policy p;
	struct compile *cc = NULL;
	bool loaded = false;
	struct txn_result res;
	int opt, rc;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hjnef", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "revert",
				  "  -n, --dry-run    show the diff the revert would make; change nothing\n"
				  "  -e, --exit-code  with --dry-run: exit 1 when the revert would change something\n"
				  "      --confirm S  undo the revert by itself after S seconds unless 'portlock confirm'\n"
				  "  -f, --force      revert even an auto-revert (re-installs the change nobody confirmed)\n"
				  "  -j, --json       machine-readable output\n"
				  "  -h, --help       this help\n");
			return PL_EXIT_OK;
		case 'j': ctx->json = true; break;
		case 'n': o.dry_run = true; break;
		case 'e': o.exit_code = true; break;
		case 'f': o.force = true; break;
		case 'c':
			rc = parse_confirm(ctx, "revert", optarg, &o.confirm_s);
			if (rc)
				return rc;
			break;
		default:
			return cmd_bad_usage(ctx, "revert", "unknown option or missing argument '%s'",
					     argv[optind - 1]);
		}
	}
	if (optind < argc) {
		char *end;

		id = strtoull(argv[optind], &end, 10);
		if (*end || id == 0 || argv[optind][0] == '-')
			return cmd_bad_usage(ctx, "revert", "'%s' is not a transaction id (see 'portlock log')",
					     argv[optind]);
		if (optind + 1 < argc)
			return cmd_bad_usage(ctx, "revert", "unexpected argument '%s'", argv[optind + 1]);
	}
	if (o.exit_code && !o.dry_run)
		return cmd_bad_usage(ctx, "revert", "--exit-code needs --dry-run");
	if (o.confirm_s && o.dry_run)
		return cmd_bad_usage(ctx, "revert", "--confirm and --dry-run exclude each other");
	if (!o.dry_run) {
		/*
		 * The current config's policy: without an ID, its table is the one
		 * reverted; and the SSH lockout guard judges a restored table that
		 * is this policy (txn_opts.policy). A config that cannot be read
		 * leaves both out.
		 */
		struct diag quiet;

		diag_init(&quiet);
		if (compile_load(ctx->config_path, ctx->state_dir, 0, &p, &cc, &quiet) == 0) {
			loaded = true;
			o.policy = &p;
		}
		diag_fini(&quiet);
	} else if (!id) {
		/* without an ID: the table of the current config (its allow_files are not read) */
		struct diag quiet;

		diag_init(&quiet);
		if (config_load_file_flags(ctx->config_path, &p, &quiet, CONFIG_DEFER_ALLOW_FILES) == 0)
			loaded = true;
		diag_fini(&quiet);
	}
	if (loaded && !id) {
		snprintf(table, sizeof(table), "%s", p.table);
		o.table = table;
	}
	rc = txn_revert(ctx, id, &o, &res);
	render_txn(ctx, &res);
	txn_result_fini(&res);
	if (loaded)
		policy_fini(&p);
	compile_free(cc);
	return rc;
}

int cmd_confirm_main(struct pl_ctx *ctx, int argc, char **argv)
{
	struct txn_result res;
	int rc = simple_opts(ctx, argc, argv, "confirm", "  -j, --json   machine-readable output\n"
							  "  -h, --help   this help\n");

	if (rc)
		return rc < 0 ? PL_EXIT_OK : rc;
	if (optind < argc)
		return cmd_bad_usage(ctx, "confirm", "unexpected argument '%s'", argv[optind]);
	rc = txn_confirm(ctx, &res);
	render_txn(ctx, &res);
	txn_result_fini(&res);
	return rc;
}

int cmd_recover_main(struct pl_ctx *ctx, int argc, char **argv)
{
	int rc = simple_opts(ctx, argc, argv, "recover", "  -h, --help   this help\n");

	if (rc)
		return rc < 0 ? PL_EXIT_OK : rc;
	if (optind < argc)
		return cmd_bad_usage(ctx, "recover", "unexpected argument '%s'", argv[optind]);
	return txn_recover(ctx, false);
}
