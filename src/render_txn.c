// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Text and JSON of a transaction's result (render_txn.h): one function per
 * outcome, the text and the JSON side by side. The engine (txn.c, sync.c)
 * only fills struct txn_result.
 */
#include "render_txn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cmd.h"
#include "diag.h"
#include "render.h"
#include "render_impact.h"
#include "txn.h"
#include "util.h"

void render_time(int64_t t, char *buf, size_t len)
{
	util_fmt_clock(t, buf, len);	/* with the date when not today */
}

/* One document with its "schema" key (cmd_json_print()). */
static void put_json(const char *doc, json_t *jo)
{
	cmd_json_print(doc, jo);
}

static void deadline_line(uint64_t id, int64_t deadline)
{
	char t[32];

	render_time(deadline, t, sizeof(t));
	printf("transaction %llu reverts at %s unless 'portlock confirm' comes first\n",
	       (unsigned long long)id, t);
}

/* A refusal: the command's own keys (jo, consumed) and an "error" object. */
static void refusal_json(const char *doc, json_t *jo, const struct txn_result *res)
{
	json_object_set_new(jo, "error", json_pack("{s:s,s:s,s:I,s:I,s:i}", "reason", "auto-reverted",
						   "message", res->why, "transaction",
						   (json_int_t)res->target_id, "auto_revert",
						   (json_int_t)res->auto_id, "exit_code", PL_EXIT_CONFLICT));
	put_json(doc, jo);
}

/* what the change cuts (null: nothing was judged) */
static json_t *impact_json(const struct txn_result *res)
{
	return res->impact ? render_impact_json(res->impact_policy, res->impact) : json_null();
}

/* apply, applied or in sync: the same keys either way */
static void apply_json(const struct txn_result *res)
{
	const struct sync_result *r = &res->sync;
	bool applied = res->outcome == TXN_APPLIED;
	json_t *jo = render_plan_json(&r->plan);

	json_object_set_new(jo, "applied", json_boolean(applied));
	json_object_set_new(jo, "transaction", res->id ? json_integer((json_int_t)res->id) : json_null());
	json_object_set_new(jo, "journaled", json_boolean(res->journaled));
	json_object_set_new(jo, "generation", json_integer(r->gen_before));
	json_object_set_new(jo, "generation_after", json_integer(applied ? r->gen_after : r->gen_before));
	json_object_set_new(jo, "messages", json_integer((json_int_t)r->nmsgs));
	json_object_set_new(jo, "bytes", json_integer((json_int_t)r->bytes));
	json_object_set_new(jo, "kernel_ms", json_real((double)r->kernel_us / 1000.0));
	json_object_set_new(jo, "attempts", json_integer(r->attempts));
	json_object_set_new(jo, "confirm_deadline",
			    res->confirm_deadline ? json_integer(res->confirm_deadline) : json_null());
	json_object_set_new(jo, "impact", impact_json(res));
	put_json("apply", jo);
}

static void apply_text(const struct pl_ctx *ctx, const struct txn_result *res)
{
	const struct sync_result *r = &res->sync;
	char counts[400];

	if (res->outcome == TXN_IN_SYNC) {
		printf("no changes: table inet %s matches %s (generation %u)\n", res->table, res->source,
		       r->gen_before);
		return;
	}
	render_plan_counts(&r->plan, counts, sizeof(counts));
	if (ctx->verbose >= 0)
		render_plan_text(&r->plan, stdout);
	if (res->id)
		printf("transaction %llu applied to table inet %s: %s (generation %u -> %u)\n",
		       (unsigned long long)res->id, res->table, counts, r->gen_before, r->gen_after);
	else
		printf("applied to table inet %s WITHOUT a journal record: %s (generation %u -> %u)\n",
		       res->table, counts, r->gen_before, r->gen_after);
	if (res->confirm_deadline)
		deadline_line(res->id, res->confirm_deadline);
	if (res->impact && ctx->verbose >= 0)
		render_impact_text(res->impact_policy, res->impact, (int64_t)time(NULL), true, stdout);
}

static void restored(const struct pl_ctx *ctx, const struct txn_result *res)
{
	if (ctx->json) {
		json_t *jo = render_plan_json(&res->sync.plan);

		json_object_set_new(jo, "applied", json_boolean(res->changed));
		json_object_set_new(jo, "restored_from", json_integer((json_int_t)res->target_id));
		json_object_set_new(jo, "transaction",
				    res->id ? json_integer((json_int_t)res->id) : json_null());
		put_json("apply", jo);
	} else if (ctx->verbose >= 0) {
		char counts[400];

		render_plan_counts(&res->sync.plan, counts, sizeof(counts));
		printf("table inet %s %s as transaction %llu left it: %s\n", res->table,
		       res->changed ? "restored" : "already", (unsigned long long)res->target_id, counts);
	}
}

static void revert_json(const struct txn_result *res)
{
	json_t *jo = json_object();

	json_object_set_new(jo, "reverted", json_integer((json_int_t)res->target_id));
	json_object_set_new(jo, "transaction", res->changed ? json_integer((json_int_t)res->id) : json_null());
	json_object_set_new(jo, "changed", json_boolean(res->changed));
	json_object_set_new(jo, "dry_run", json_boolean(res->dry_run));
	json_object_set_new(jo, "table", json_string(res->table));
	json_object_set_new(jo, "confirm_deadline",
			    res->changed && res->confirm_deadline ? json_integer(res->confirm_deadline)
								  : json_null());
	json_object_set_new(jo, "diff", render_plan_json(&res->sync.plan));
	/* --dry-run: what restoring the table would cut */
	json_object_set_new(jo, "impact", impact_json(res));
	put_json("revert", jo);
}

static void revert_dry_run_text(const struct txn_result *res)
{
	const struct plan *pl = &res->sync.plan;

	if (plan_empty(pl)) {
		printf("table inet %s already matches its state before transaction %llu: the revert would change nothing\n",
		       res->table, (unsigned long long)res->target_id);
		return;
	}
	printf("revert of transaction %llu on table inet %s (generation %u), dry run:\n",
	       (unsigned long long)res->target_id, res->table, res->sync.gen_before);
	render_plan_text(pl, stdout);
	if (res->impact)
		render_impact_text(res->impact_policy, res->impact, (int64_t)time(NULL), false, stdout);
	printf("nothing was changed (dry run)\n");
}

static void reverted_text(const struct pl_ctx *ctx, const struct txn_result *res)
{
	char counts[400];

	render_plan_counts(&res->sync.plan, counts, sizeof(counts));
	if (res->changed && res->show_plan && ctx->verbose >= 0)
		render_plan_text(&res->sync.plan, stdout);
	if (res->changed && !res->journaled)
		printf("transaction %llu reverted on table inet %s without a journal record: %s\n",
		       (unsigned long long)res->target_id, res->table, counts);
	else if (res->changed)
		printf("transaction %llu reverted transaction %llu on table inet %s: %s\n",
		       (unsigned long long)res->id, (unsigned long long)res->target_id, res->table, counts);
	else
		printf("table inet %s already matches its state before transaction %llu; %s\n", res->table,
		       (unsigned long long)res->target_id,
		       res->unmarked ? "its record could not be marked reverted" : "marked reverted");
	if (res->changed && res->confirm_deadline)
		deadline_line(res->id, res->confirm_deadline);
}

void render_txn(struct pl_ctx *ctx, const struct txn_result *res)
{
	const struct sync_result *r = &res->sync;

	switch (res->outcome) {
	case TXN_NONE:
		return;
	case TXN_IN_SYNC:
	case TXN_APPLIED:
		if (ctx->json)
			apply_json(res);
		else
			apply_text(ctx, res);
		if (res->outcome == TXN_APPLIED && ctx->verbose > 0)
			fprintf(stderr, "portlock: batch of %zu messages, %zu bytes, %d attempt%s, %.1f ms in the kernel\n",
				r->nmsgs, r->bytes, r->attempts, r->attempts == 1 ? "" : "s",
				(double)r->kernel_us / 1000.0);
		break;
	case TXN_RESTORED:
		restored(ctx, res);
		break;
	case TXN_APPLY_REFUSED:
		if (ctx->json)
			refusal_json("apply", json_pack("{s:b,s:b,s:n}", "applied", 0, "in_sync", 0,
							"transaction"), res);
		break;
	case TXN_REVERT_REFUSED:
		if (ctx->json)
			refusal_json("revert", json_pack("{s:n,s:n,s:b,s:b}", "reverted", "transaction",
							 "changed", 0, "dry_run", res->dry_run), res);
		break;
	case TXN_REVERT_DRY_RUN:
		if (ctx->json)
			revert_json(res);
		else
			revert_dry_run_text(res);
		break;
	case TXN_REVERTED:
		if (ctx->json)
			revert_json(res);
		else
			reverted_text(ctx, res);
		break;
	case TXN_CONFIRMED:
		if (ctx->json)
			put_json("confirm", json_pack("{s:I}", "confirmed", (json_int_t)res->id));
		else
			printf("transaction %llu confirmed: it stays\n", (unsigned long long)res->id);
		break;
	}
	if (res->outcome == TXN_APPLIED && (fflush(stdout) != 0 || ferror(stdout)))
		diag_warn(&ctx->diag, NULL, "cannot write the output (%s): the change stands as reported in the journal",
			  strerror(errno));
}
