// SPDX-License-Identifier: GPL-2.0-or-later
/* `portlock export`: print the nft script apply would load. No kernel needed. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cmd.h"
#include "export.h"
#include "policy.h"
#include "statestore.h"

int cmd_export_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct policy p;
	int opt, rc;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "h", opts)) != -1) {
		if (opt == 'h') {
			cmd_usage(ctx, "export", "  -h, --help   this help\n");
			return PL_EXIT_OK;
		}
		return cmd_bad_usage(ctx, "export", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, "export", "unexpected argument '%s'", argv[optind]);
	rc = cmd_load_policy(ctx, &p);
	if (rc)
		return rc;
	/*
	 * The table's comment is the marker apply would give it: that of the
	 * state dir when it exists and is trusted (read only), else the bare one.
	 */
	{
		char id[STATESTORE_ID_LEN + 1];
		int sfd = ctx->state_dir ? statestore_open(ctx->state_dir, STATESTORE_QUIET, NULL) : -1;

		if (sfd >= 0) {
			statestore_id(sfd, false, id, NULL);
			close(sfd);
		}
	}
	if (export_render(&p, stdout) < 0)
		rc = PL_EXIT_INTERNAL;
	policy_fini(&p);
	return rc;
}
