// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * portlock: nftables-integrated exposure enforcement.
 *
 * main() parses the global options, dispatches to one subcommand, prints the
 * diagnostics once and maps them to the exit code. It is the only place that
 * calls exit (by returning from main).
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"
#include "compile.h"
#include "config.h"
#include "diag.h"
#include "nft_model.h"
#include "nl.h"
#include "policy.h"
#include "render_txn.h"
#include "snapshot.h"
#include "stats.h"
#include "txn.h"
#include "version.h"

const struct pl_cmd pl_commands[] = {
	{ "check", cmd_check_main, "", "validate the config and print the normalized policy", false },
	{ "export", cmd_export_main, "", "print the nft script apply would load", false },
	{ "show", cmd_show_main, "[--table NAME]", "the managed table as the kernel has it", true },
	{ "plan", cmd_plan_main, "[--check] [--exit-code]", "dry run: what apply would change", true },
	{ "apply", cmd_apply_main, "[--confirm S] [--force] [--no-journal-ok]", "apply the policy in one journaled transaction", false },
	{ "revert", cmd_revert_main, "[ID] [--dry-run] [--confirm S]", "restore the table as it was before transaction ID (default: last)", false },
	{ "confirm", cmd_confirm_main, "", "keep the transaction applied with --confirm", false },
	{ "recover", cmd_recover_main, "", "revert an unconfirmed transaction past its deadline (boot)", false },
	{ "listeners", cmd_listeners_main, "[--all] [--json]", "listening sockets and whether they are exposed", false },
	{ "log", cmd_log_main, "[--json] [--last N]", "list journaled transactions", true },
	{ "probe", cmd_probe_main, "TARGET...", "identify what answers on HOST:PORT (SMTP, SMPP, software)", false },
	{ "audit", cmd_audit_main, "[--fail-on SEV] [--no-probe] [--report FILE]", "exposure report: what listens, who reaches it, what it is", true },
	{ "observed", cmd_observed_main, "[SERVICE] [--learn FILE]", "sources the seen sets recorded: refused, or observed", false },
	{ "allow", cmd_allow_main, "SERVICE SOURCE --for D", "temporary access that expires in the kernel (--list, --revoke)", false },
	{ "metrics", cmd_metrics_main, "[--output FILE]", "counters in Prometheus text format", false },
	{ NULL, NULL, NULL, NULL, false },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: portlock [-c FILE] [--state-dir DIR] [--json] [-v|-q] COMMAND [ARGS]\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     policy file (default %s)\n"
		"      --state-dir DIR   journal and lock directory (default %s)\n"
		"      --wait S          wait up to S seconds for another run's lock (default 0)\n"
		"  -j, --json            machine-readable output\n"
		"  -v, --verbose         more detail (repeatable)\n"
		"  -q, --quiet           errors only\n"
		"  -h, --help            this help; COMMAND --help for a command's options\n"
		"  -V, --version         print the version\n"
		"The global options may also follow COMMAND, among its own options.\n"
		"\nCommands:\n",
		PORTLOCK_DEFAULT_CONFIG, PORTLOCK_DEFAULT_STATE_DIR);
	for (const struct pl_cmd *c = pl_commands; c->name; c++)
		fprintf(f, "  %-8s %-14s %s\n", c->name, c->args, c->summary);
	fprintf(f, "\nExit status: 0 ok, 1 changes pending/findings (when asked), 2 usage,\n"
		   "3 config, 4 kernel refused (nothing changed), 5 conflict, 6 service mismatch,\n"
		   "7 kernel changed without a journal record, 70 internal error. See portlock(8).\n");
}

void cmd_usage(const struct pl_ctx *ctx, const char *name, const char *options_help)
{
	const struct pl_cmd *c;

	for (c = pl_commands; c->name; c++)
		if (!strcmp(c->name, name))
			break;
	printf("Usage: portlock [global options] %s %s\n", name, c->name ? c->args : "");
	if (c->name)
		printf("%s\n", c->summary);
	if (options_help && *options_help)
		printf("\nOptions:\n%s", options_help);
	(void)ctx;
}

int cmd_bad_usage(struct pl_ctx *ctx, const char *name, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	/* cmd_getopt() said what was wrong with the option already */
	if (ctx->usage_said)
		return PL_EXIT_USAGE;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	diag_err(&ctx->diag, DIAG_USAGE, NULL, 0, "%s: %s (see 'portlock %s --help')", name,
		 msg ? msg : "bad usage", name);
	free(msg);
	ctx->usage_said = true;
	return PL_EXIT_USAGE;
}

void cmd_print_compile_stats(const struct pl_ctx *ctx, const struct compile *cc)
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

int cmd_parse_confirm(struct pl_ctx *ctx, const char *name, const char *arg, unsigned *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || end == arg || v < 1 || v > 7 * 86400)
		return cmd_bad_usage(ctx, name, "--confirm '%s' is not a number of seconds (1 to 604800)", arg);
	*out = (unsigned)v;
	return PL_EXIT_OK;
}

/*
 * The global options, before the command or among its own options. Codes
 * above any character so that they never meet a command's option values.
 */
enum { GOPT_CONFIG = 0x10000, GOPT_STATE_DIR, GOPT_WAIT, GOPT_JSON, GOPT_VERBOSE, GOPT_QUIET };

#define GLOBAL_OPTIONS							\
	{ "config", required_argument, NULL, GOPT_CONFIG },		\
	{ "state-dir", required_argument, NULL, GOPT_STATE_DIR },	\
	{ "wait", required_argument, NULL, GOPT_WAIT },			\
	{ "json", no_argument, NULL, GOPT_JSON },			\
	{ "verbose", no_argument, NULL, GOPT_VERBOSE },			\
	{ "quiet", no_argument, NULL, GOPT_QUIET }

static const struct option global_opts[] = { GLOBAL_OPTIONS };

/* short letters of the global options, and their codes */
static const struct {
	char c;
	int code;
} global_short[] = {
	{ 'c', GOPT_CONFIG }, { 'j', GOPT_JSON }, { 'v', GOPT_VERBOSE }, { 'q', GOPT_QUIET },
};

/* apply one global option; a bad value is a usage error in ctx->diag (returns -1) */
static int global_opt(struct pl_ctx *ctx, int code, const char *arg)
{
	char *end;
	long v;

	switch (code) {
	case GOPT_CONFIG: ctx->config_path = arg; break;
	case GOPT_STATE_DIR: ctx->state_dir = arg; break;
	case GOPT_WAIT:
		v = strtol(arg, &end, 10);
		if (*end || end == arg || v < -1 || v > 86400) {
			diag_err(&ctx->diag, DIAG_USAGE, NULL, 0,
				 "--wait '%s' is not a number of seconds (0 to 86400, -1: forever)", arg);
			return -1;
		}
		ctx->wait_s = (int)v;
		break;
	case GOPT_JSON: ctx->json = true; break;
	case GOPT_VERBOSE: ctx->verbose = ctx->verbose < 0 ? 1 : ctx->verbose + 1; break;
	case GOPT_QUIET: ctx->verbose = -1; break;
	}
	return 0;
}

/* the long options in opts[0..n) that "--abbrev" (before any '=') abbreviates */
static size_t abbrev_matches(const struct option *opts, size_t n, const char *arg, char *list, size_t len)
{
	size_t k = strcspn(arg, "="), hits = 0, off = 0;

	list[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (strncmp(opts[i].name, arg, k))
			continue;
		hits++;
		if (off < len)
			off += (size_t)snprintf(list + off, len - off, "%s--%s", hits > 1 ? ", " : "",
					       opts[i].name);
	}
	return hits;
}

int cmd_getopt(struct pl_ctx *ctx, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	struct option lopts[64];
	char sopts[96];
	size_t nown = 0, n, slen;
	int opt, idx;

	/* GNU order: options and operands mix ('+' would stop at the first operand) */
	if (*shortopts == '+')
		shortopts++;
	/* ':' first: a missing argument is told apart from an unknown option */
	slen = (size_t)snprintf(sopts, sizeof(sopts), ":%s", shortopts);
	for (size_t i = 0; i < ARRAY_SIZE(global_short); i++)
		if (!strchr(shortopts, global_short[i].c) && slen + 3 < sizeof(sopts)) {
			sopts[slen++] = global_short[i].c;
			if (global_short[i].code == GOPT_CONFIG)
				sopts[slen++] = ':';
			sopts[slen] = '\0';
		}
	while (longopts[nown].name && nown < ARRAY_SIZE(lopts) - ARRAY_SIZE(global_opts) - 1) {
		lopts[nown] = longopts[nown];
		nown++;
	}
	n = nown;
	for (size_t i = 0; i < ARRAY_SIZE(global_opts); i++) {
		bool own = false;

		for (size_t j = 0; j < nown; j++)
			own = own || !strcmp(lopts[j].name, global_opts[i].name);
		if (!own)
			lopts[n++] = global_opts[i];
	}
	memset(&lopts[n], 0, sizeof(lopts[n]));
	opterr = 0;
	for (;;) {
		const char *arg;
		bool global;
		char list[256];

		idx = -1;
		optopt = 0;
		opt = getopt_long(argc, argv, sopts, lopts, &idx);
		if (opt == -1)
			return -1;
		if (opt == '?' || opt == ':') {
			arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
			if (opt == ':' && strncmp(arg, "--", 2))
				cmd_bad_usage(ctx, argv[0], "option '-%c' needs an argument", optopt);
			else if (opt == ':')
				cmd_bad_usage(ctx, argv[0], "option '%s' needs an argument", arg);
			else if (optopt && strncmp(arg, "--", 2))
				cmd_bad_usage(ctx, argv[0], "unknown option '-%c'", optopt);
			else if (!strncmp(arg, "--", 2) && strchr(arg, '=') && optopt)
				cmd_bad_usage(ctx, argv[0], "option '%.*s' takes no argument",
					      (int)strcspn(arg, "="), arg);
			else if (!strncmp(arg, "--", 2) && abbrev_matches(lopts, n, arg + 2, list, sizeof(list)) > 1)
				cmd_bad_usage(ctx, argv[0], "option '%s' is ambiguous (%s)", arg, list);
			else
				cmd_bad_usage(ctx, argv[0], "unknown option '%s'", arg);
			return '?';
		}
		global = idx >= 0 ? (size_t)idx >= nown : !strchr(shortopts, opt);
		if (!global)
			return opt;
		if (idx < 0)
			for (size_t i = 0; i < ARRAY_SIZE(global_short); i++)
				if (global_short[i].c == opt)
					opt = global_short[i].code;
		if (global_opt(ctx, opt, optarg) < 0) {
			ctx->usage_said = true;
			return '?';
		}
	}
}

int cmd_json_print(const char *doc, json_t *o)
{
	json_t *d = json_object();
	char schema[64];
	int rc = -1;

	snprintf(schema, sizeof(schema), "portlock-%s/%d", doc, PL_JSON_VERSION);
	if (d && o && !json_object_set_new(d, "schema", json_string(schema)) &&
	    !json_object_update(d, o) && json_dumpf(d, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0)
		rc = putchar('\n') == EOF ? -1 : 0;
	json_decref(d);
	json_decref(o);
	return rc;
}

json_t *cmd_overdue_json(const struct pl_ctx *ctx)
{
	json_t *od;

	if (!ctx->overdue_id)
		return json_null();
	od = json_object();
	json_object_set_new(od, "transaction", json_integer((json_int_t)ctx->overdue_id));
	json_object_set_new(od, "confirm_deadline",
			    ctx->overdue_deadline ? json_integer(ctx->overdue_deadline) : json_null());
	return od;
}

void cmd_live_release(struct stats *st, struct nm_live *live, struct nft_read_cache *cache,
		      struct nl_sock *s, struct policy *p)
{
	stats_fini(st);
	nm_live_fini(live);
	livecache_fini(cache);
	nl_close(s);
	policy_fini(p);
}

int cmd_load_policy(struct pl_ctx *ctx, struct policy *p)
{
	if (config_load_file(ctx->config_path, p, &ctx->diag) < 0)
		return diag_exit_code(&ctx->diag);
	return PL_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		GLOBAL_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct pl_ctx ctx = {
		.config_path = getenv("PORTLOCK_CONFIG") ? getenv("PORTLOCK_CONFIG")
							 : PORTLOCK_DEFAULT_CONFIG,
		.state_dir = getenv("PORTLOCK_STATE_DIR") ? getenv("PORTLOCK_STATE_DIR")
							  : PORTLOCK_DEFAULT_STATE_DIR,
	};
	const struct pl_cmd *cmd;
	int opt, rc, drc;

	util_mark("start");
	diag_init(&ctx.diag);
	opterr = 0;
	/* '+': stop at the first non-option, the subcommand parses the rest */
	while ((opt = getopt_long(argc, argv, "+c:jvqhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': opt = GOPT_CONFIG; break;
		case 'j': opt = GOPT_JSON; break;
		case 'v': opt = GOPT_VERBOSE; break;
		case 'q': opt = GOPT_QUIET; break;
		case 'h': usage(stdout); return PL_EXIT_OK;
		case 'V': printf("portlock %s\n", PORTLOCK_VERSION); return PL_EXIT_OK;
		case '?':
			if (optopt)
				fprintf(stderr, "portlock: option '-%c' %s\n", optopt,
					strchr("c", optopt) ? "needs an argument" : "is unknown");
			else
				fprintf(stderr, "portlock: option '%s' is unknown or needs an argument\n",
					argv[optind - 1]);
			fprintf(stderr, "portlock: see 'portlock --help'\n");
			return PL_EXIT_USAGE;
		}
		if (global_opt(&ctx, opt, optarg) < 0) {
			diag_print(&ctx.diag, stderr);
			diag_fini(&ctx.diag);
			return PL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return PL_EXIT_USAGE;
	}
	for (cmd = pl_commands; cmd->name; cmd++)
		if (!strcmp(cmd->name, argv[optind]))
			break;
	if (!cmd->name) {
		fprintf(stderr, "portlock: unknown command '%s'; see 'portlock --help'\n", argv[optind]);
		return PL_EXIT_USAGE;
	}
	argv += optind;
	argc -= optind;
	optind = 0;	/* re-initialize getopt for the subcommand (glibc) */
	rc = PL_EXIT_OK;
	txn_set_render(render_txn);	/* auto-reverts done on the way are shown like a revert */
	if (cmd->report_overdue && !(argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))))
		txn_report_overdue(&ctx);
	/*
	 * Commands that change the kernel: a reader that went away (ssh cut,
	 * "| head") is a write error, not a death before the journal and the
	 * watcher are done.
	 */
	if (!strcmp(cmd->name, "apply") || !strcmp(cmd->name, "revert") || !strcmp(cmd->name, "confirm") ||
	    !strcmp(cmd->name, "recover"))
		signal(SIGPIPE, SIG_IGN);
	if (rc == PL_EXIT_OK)
		rc = cmd->fn(&ctx, argc, argv);
	if (ctx.verbose >= 0 || diag_failed(&ctx.diag))
		diag_print(&ctx.diag, stderr);
	drc = diag_exit_code(&ctx.diag);
	diag_fini(&ctx.diag);
	fflush(stdout);
	if (ferror(stdout) && rc == PL_EXIT_OK) {
		fprintf(stderr, "portlock: error writing output\n");
		return PL_EXIT_INTERNAL;
	}
	/* the worse of the two: an error recorded beats a plain result code */
	return drc != PL_EXIT_OK ? drc : rc;
}
