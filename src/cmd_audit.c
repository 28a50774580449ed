// SPDX-License-Identifier: GPL-2.0-or-later
/* `portlock audit`: what is exposed, to whom, and what it is. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "cmd.h"
#include "policy.h"

int cmd_audit_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "fail-on", required_argument, NULL, 'f' },
		{ "no-probe", no_argument, NULL, 'n' },
		{ "strict", no_argument, NULL, 's' },
		{ "fingerprints", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_opts o = { .probe = true };
	struct audit_report r;
	struct policy p;
	bool have_policy = false, strict = false;
	int opt, rc, fail_on = -1;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hjf:nsF:", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "audit",
				  "  -f, --fail-on SEV   exit 1 when a finding is at or above SEV (info, low, medium, high)\n"
				  "  -n, --no-probe      listeners and ruleset only; do not connect to anything\n"
				  "  -s, --strict        exit 6 when a port does not answer as the policy expects\n"
				  "  -F, --fingerprints FILE  SMTP signature file\n"
				  "  -j, --json          one JSON document (schema portlock-audit/1, see portlock(8))\n"
				  "  -h, --help          this help\n");
			return PL_EXIT_OK;
		case 'j': ctx->json = true; break;
		case 'n': o.probe = false; break;
		case 's': strict = true; break;
		case 'F': o.fingerprints = optarg; break;
		case 'f':
			fail_on = audit_sev_parse(optarg);
			if (fail_on < 0)
				return cmd_bad_usage(ctx, "audit", "--fail-on '%s' is not info, low, medium or high",
						     optarg);
			break;
		default:
			return cmd_bad_usage(ctx, "audit", "unknown option or missing argument '%s'",
					     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, "audit", "unexpected argument '%s'", argv[optind]);
	if (access(ctx->config_path, F_OK) == 0) {
		rc = cmd_load_policy(ctx, &p);
		if (rc)
			return rc;
		have_policy = true;
	} else {
		diag_note(&ctx->diag, NULL, "no policy at '%s': reporting exposure only",
			  ctx->config_path);
	}
	rc = audit_run(ctx, have_policy ? &p : NULL, &o, &r);
	if (!rc) {
		if (ctx->json) {
			json_t *jo = audit_json(&r);

			json_dumpf(jo, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			putchar('\n');
			json_decref(jo);
		} else {
			audit_print_text(&r, stdout);
		}
		for (size_t i = 0; i < r.n; i++) {
			if (strict && !strcmp(r.f[i].id, "expect-mismatch"))
				rc = PL_EXIT_MISMATCH;
			if (fail_on >= 0 && (int)r.f[i].sev >= fail_on && rc == PL_EXIT_OK)
				rc = PL_EXIT_PENDING;
		}
	}
	audit_report_fini(&r);
	if (have_policy)
		policy_fini(&p);
	return rc;
}
