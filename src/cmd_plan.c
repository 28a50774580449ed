// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock plan`: dry run, the diff apply would make (cmd_apply.c makes
 * it). Both run the same engine (sync.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "cmd.h"
#include "util.h"
#include "compile.h"
#include "diag.h"
#include "impact.h"
#include "policy.h"
#include "render.h"
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
	json_object_set_new(o, "applied", json_false());	/* a plan changes nothing */
	json_object_set_new(o, "messages", json_integer((json_int_t)nl_batch_count_of(&r->plan)));
	json_object_set_new(o, "bytes", json_integer((json_int_t)r->bytes));
	json_object_set_new(o, "attempts", json_integer(r->attempts));
	/* the policy was applied and auto-reverted as unconfirmed: apply refuses it (exit 5) */
	json_object_set_new(o, "auto_reverted", auto_reverted ? auto_reverted : json_null());
	/* a --confirm transaction past its deadline, not reverted yet (nothing here reverts it) */
	json_object_set_new(o, "overdue", cmd_overdue_json(ctx));
	/* what the change would cut; null when there is no change */
	json_object_set_new(o, "impact", impact ? impact : json_null());
	cmd_json_print("plan", o);
}

/* Options into *so and *exit_code; returns -1 to go on, else the exit status. */
static int parse_opts(struct pl_ctx *ctx, int argc, char **argv, struct sync_opts *so, bool *exit_code)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "exit-code", no_argument, NULL, 'e' },
		{ "check", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hjeC", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "plan", "  -e, --exit-code  exit 1 when changes are pending or a --confirm\n"
					       "                   transaction is overdue, 0 when in sync\n"
					       "  -C, --check      also let the kernel validate the batch (nothing changes)\n"
					       "  -j, --json       machine-readable output\n"
					       "  -h, --help       this help\n");
			return PL_EXIT_OK;
		case 'j': ctx->json = true; break;
		case 'e': *exit_code = true; break;
		case 'C': so->mode = SYNC_CHECK; break;
		default:
			return cmd_bad_usage(ctx, "plan", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, "plan", "unexpected argument '%s'", argv[optind]);
	return -1;
}

/*
 * What a non-empty plan would do beyond its diff: the connections it would
 * cut (*im), and why the policy is not in force when apply would refuse it
 * (returned as JSON, NULL when it would not).
 */
static json_t *judge(struct pl_ctx *ctx, const struct policy *p, const struct sync_result *r,
		     struct impact *im)
{
	char hash[65], why[256];
	uint64_t applied_id = 0, auto_id = 0;
	struct diag q;

	diag_init(&q);
	if (impact_run(p, &r->live.t, im, &q) < 0)
		diag_warn(&ctx->diag, NULL, "cannot list the established connections: %s",
			  q.nrecs ? q.recs[0].msg : "unknown error");
	diag_fini(&q);
	if (policy_hash(p, hash) < 0 || !txn_auto_reverted(ctx, hash, why, sizeof(why), &applied_id, &auto_id))
		return NULL;
	diag_warn(&ctx->diag, NULL,
		  "%s: the policy is not in force, and 'apply' refuses it without --force (or --confirm SECONDS)", why);
	return json_pack("{s:I,s:I,s:s}", "transaction", (json_int_t)applied_id,
			 "auto_revert", (json_int_t)auto_id, "message", why);
}

static void print_text(const struct pl_ctx *ctx, const struct policy *p, const struct sync_opts *so,
		       const struct sync_result *r, const struct impact *im)
{
	if (plan_empty(&r->plan)) {
		printf("no changes: table inet %s matches %s (generation %u)\n", p->table, p->source,
		       r->gen_before);
	} else {
		printf("plan for table inet %s from %s (generation %u):\n", p->table, p->source, r->gen_before);
		render_plan_text(&r->plan, stdout);
		if (im->judged)
			render_impact_text(p, im, (int64_t)time(NULL), false, stdout);
		if (so->mode == SYNC_CHECK)
			printf("the kernel validated the batch; nothing was changed\n");
	}
	if (ctx->verbose > 0)
		fprintf(stderr, "portlock: batch of %zu messages, %zu bytes, %d attempt%s\n",
			nl_batch_count_of(&r->plan), r->bytes, r->attempts, r->attempts == 1 ? "" : "s");
}

int cmd_plan_main(struct pl_ctx *ctx, int argc, char **argv)
{
	struct sync_opts so = { .mode = SYNC_PLAN };
	struct sync_result r;
	struct nft_read_cache cache = { 0 };
	struct policy p;
	struct compile *cc = NULL;
	json_t *auto_reverted = NULL;
	struct impact im;
	bool exit_code = false;
	int rc;

	rc = parse_opts(ctx, argc, argv, &so, &exit_code);
	if (rc >= 0)
		return rc;
	rc = PL_EXIT_OK;
	if (compile_load(ctx->config_path, ctx->state_dir, 0, &p, &cc, &ctx->diag) < 0)
		return diag_exit_code(&ctx->diag);
	cmd_print_compile_stats(ctx, cc);
	so.max_elem_lines = ctx->verbose > 0 ? 0 : PLAN_ELEM_LINES;
	livecache_load(ctx->state_dir, p.table, &cache);
	cache.lazy_ok = true;
	so.cache = &cache;
	impact_init(&im);
	if (sync_run(&p, &so, &r, &ctx->diag)) {
		if (so.mode == SYNC_CHECK && r.plan.batch && !ctx->json)
			render_plan_text(&r.plan, stdout);
		diag_note(&ctx->diag, NULL, "nothing was changed");
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	if (!plan_empty(&r.plan))
		auto_reverted = judge(ctx, &p, &r, &im);
	if (ctx->json) {
		print_json(ctx, &r, so.mode == SYNC_CHECK ? "check" : "plan", auto_reverted,
			   im.judged ? render_impact_json(&p, &im) : NULL);
		auto_reverted = NULL;
	} else {
		print_text(ctx, &p, &so, &r, &im);
	}
	if (exit_code && (!plan_empty(&r.plan) || ctx->overdue_id))
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
