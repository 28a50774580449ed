// SPDX-License-Identifier: GPL-2.0-or-later
/* `portlock show`: the managed table as the kernel has it, in nft syntax or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"
#include "nft_model.h"
#include "nft_read.h"
#include "nl.h"
#include "policy.h"
#include "render.h"
#include "snapshot.h"

int cmd_show_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "table", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *table = NULL;
	struct nl_sock *s = NULL;
	struct nm_live live = { 0 };
	struct nft_read_cache cache = { 0 };
	struct policy p = { 0 };
	int opt, rc = PL_EXIT_OK;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hjt:", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "show", "  -t, --table NAME  read table inet NAME instead of the config's\n"
					       "  -j, --json        machine-readable output\n"
					       "  -h, --help        this help\n");
			return PL_EXIT_OK;
		case 'j': ctx->json = true; break;
		case 't': table = optarg; break;
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
	}
	livecache_load(ctx->state_dir, table, &cache);
	if (nl_open(&s, &ctx->diag) < 0 || nft_read(s, table, false, &cache, &live, &ctx->diag) < 0) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	if (ctx->json) {
		json_t *o = render_live_json(&live);

		/* a --confirm transaction past its deadline, not reverted yet (show never reverts) */
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
		cmd_json_print("show", o);
	} else {
		render_live_text(&live, stdout);
	}
out:
	nm_live_fini(&live);
	livecache_fini(&cache);
	nl_close(s);
	policy_fini(&p);
	return rc;
}
