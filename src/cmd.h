/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Subcommand registry and the context every subcommand receives. Each
 * cmd_<name>.c holds the option parsing, calls and rendering of one
 * subcommand, or of a family of them (cmd_revert.c: revert, confirm,
 * recover); the work is done by the modules below (src/README.md).
 */
#ifndef PORTLOCK_CMD_H
#define PORTLOCK_CMD_H

#include <stdbool.h>

#include <jansson.h>

#include "diag.h"

#define PORTLOCK_DEFAULT_CONFIG "/etc/portlock/portlock.conf"
#define PORTLOCK_DEFAULT_STATE_DIR "/var/lib/portlock"

struct policy;

struct pl_ctx {
	const char *config_path;
	const char *state_dir;
	bool json;
	int verbose;		/* -v count; -q makes it -1 */
	int wait_s;		/* --wait: seconds to wait for the state-dir lock (-1: forever) */
	/* read commands: a transaction past its deadline, not reverted yet (txn_report_overdue()) */
	unsigned long long overdue_id;
	long long overdue_deadline;
	bool usage_said;	/* a usage error is in diag already (cmd_getopt(), cmd_bad_usage()) */
	struct diag diag;
};

/*
 * A subcommand: parses its own options from argv (argv[0] is its name) and
 * returns an exit code from enum pl_exit. Errors go to ctx->diag; main()
 * prints them and exits with the worse of the two codes.
 */
struct pl_cmd {
	const char *name;
	int (*fn)(struct pl_ctx *ctx, int argc, char **argv);
	const char *args;
	const char *summary;
	/*
	 * A read command: report an overdue --confirm transaction before
	 * running (txn_report_overdue()); it never changes the kernel. Only
	 * apply, revert, confirm and recover (and the watcher) act on one.
	 */
	bool report_overdue;
};

int cmd_check_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_export_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_show_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_plan_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_apply_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_revert_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_confirm_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_recover_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_listeners_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_log_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_probe_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_audit_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_observed_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_allow_main(struct pl_ctx *ctx, int argc, char **argv);
int cmd_metrics_main(struct pl_ctx *ctx, int argc, char **argv);

/* Registry, defined in main.c (NULL-terminated). */
extern const struct pl_cmd pl_commands[];

/*
 * Load ctx->config_path into *p; on failure the errors are in ctx->diag and
 * the return is PL_EXIT_CONFIG (or PL_EXIT_INTERNAL).
 */
int cmd_load_policy(struct pl_ctx *ctx, struct policy *p);

/*
 * A subcommand's -h/--help: prints its usage line, summary and
 * options_help on stdout (the caller then returns PL_EXIT_OK). Unknown
 * options are cmd_bad_usage()'s.
 */
void cmd_usage(const struct pl_ctx *ctx, const char *name, const char *options_help);

/*
 * getopt_long() for a subcommand (argv[0] is its name), GNU style: options
 * and operands mix in any order ("--" ends the options), and the global
 * options (-c/--config, --state-dir, --wait, -j/--json, -v/--verbose,
 * -q/--quiet) are accepted among the command's own and applied to ctx. A
 * command's own option of the same name or letter wins. Returns the next
 * option of the command, -1 at the end (optind: the first operand), or '?'
 * after it recorded the usage error (unknown or ambiguous option, missing
 * argument, bad global value): the command returns cmd_bad_usage(), which
 * adds nothing then.
 */
struct option;
int cmd_getopt(struct pl_ctx *ctx, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/*
 * Record "unknown option"/"unexpected argument" as a usage error; returns
 * PL_EXIT_USAGE. After an error cmd_getopt() recorded, it records nothing.
 */
int cmd_bad_usage(struct pl_ctx *ctx, const char *name, const char *fmt, ...) __printf(3, 4);

/*
 * --confirm S (apply, revert): 1 s to a week, into *out. Returns
 * PL_EXIT_OK, or cmd_bad_usage()'s PL_EXIT_USAGE.
 */
int cmd_parse_confirm(struct pl_ctx *ctx, const char *name, const char *arg, unsigned *out);

/* -v (plan, apply): what the compile cache did, on stderr; cc may be NULL */
struct compile;
void cmd_print_compile_stats(const struct pl_ctx *ctx, const struct compile *cc);

/*
 * Print a command's JSON document on stdout: an object that begins with
 * "schema": "portlock-<doc>/<PL_JSON_VERSION>" followed by o's keys (in
 * their order), indented, and a newline. Consumes o. doc names the schema
 * file schema/portlock-<doc>.schema.json: the command's name, or a variant
 * of it ("audit-report"). Returns 0, or -1 when it could not be written.
 * Versioning (portlock(8) JSON OUTPUT): adding a key keeps the version;
 * removing or renaming one, or changing its type or meaning, raises it.
 */
#define PL_JSON_VERSION 1
int cmd_json_print(const char *doc, json_t *o);

/*
 * The "overdue" value of a read command's JSON: {"transaction": ID,
 * "confirm_deadline": T or null} for ctx->overdue_id, or JSON null.
 */
json_t *cmd_overdue_json(const struct pl_ctx *ctx);

/*
 * Release what a command that reads the live table (show, metrics) holds:
 * its counters, the live table, the live cache, the socket and the policy.
 * Each may be empty (zeroed, s NULL).
 */
struct stats;
struct nm_live;
struct nft_read_cache;
struct nl_sock;
void cmd_live_release(struct stats *st, struct nm_live *live, struct nft_read_cache *cache,
		      struct nl_sock *s, struct policy *p);

#endif
