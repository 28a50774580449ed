// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock apply`: the policy in one journaled transaction (txn.c), with
 * the --confirm deadline, the SSH guard's --force and the boot mode.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cmd.h"
#include "util.h"
#include "compile.h"
#include "diag.h"
#include "impact.h"
#include "policy.h"
#include "render_txn.h"
#include "txn.h"

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
			rc = cmd_parse_confirm(ctx, "apply", optarg, &o.confirm_s);
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
	cmd_print_compile_stats(ctx, cc);
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
