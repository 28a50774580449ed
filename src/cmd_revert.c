// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock revert [ID]`, `portlock confirm`, `portlock recover`: the
 * journal's transactions (txn.c) undone, kept, or recovered at boot.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "compile.h"
#include "config.h"
#include "diag.h"
#include "policy.h"
#include "render_txn.h"
#include "txn.h"

/* -h and -j only: confirm, recover */
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
			rc = cmd_parse_confirm(ctx, "revert", optarg, &o.confirm_s);
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
