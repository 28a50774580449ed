// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock allow SERVICE SOURCE --for DURATION`, `allow --list`,
 * `allow --revoke SERVICE SOURCE`: temporary access (access.h) that the
 * kernel ends by itself.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "access.h"
#include "cidr.h"
#include "cmd.h"
#include "diag.h"
#include "nl.h"
#include "policy.h"
#include "seen.h"
#include "util.h"

static json_t *time_json(int64_t t)
{
	return t ? json_integer(t) : json_null();
}

static int dump_json(json_t *o)
{
	return cmd_json_print("allow", o) < 0 ? PL_EXIT_INTERNAL : PL_EXIT_OK;
}

static int list(struct pl_ctx *ctx, const struct policy *p)
{
	static const enum cidr_family fams[] = { CIDR_V4, CIDR_V6 };
	json_t *o = NULL, *arr = NULL;
	struct nl_sock *s = NULL;
	size_t total = 0;
	int rc = PL_EXIT_OK;

	if (nl_open(&s, &ctx->diag) < 0)
		return diag_exit_code(&ctx->diag);
	if (ctx->json) {
		o = json_object();
		arr = json_array();
		json_object_set_new(o, "action", json_string("list"));
		json_object_set_new(o, "table", json_string(p->table));
		json_object_set_new(o, "time", json_integer((json_int_t)time(NULL)));
	}
	for (size_t i = 0; i < p->nsvcs && !rc; i++) {
		for (size_t k = 0; k < 2; k++) {
			struct seen_entry *e = NULL;
			size_t n = 0;
			int ret = seen_read_tmp(s, p->table, p->svcs[i].name, fams[k], &e, &n, &ctx->diag);

			if (ret && ret != -ENOENT) {
				rc = diag_exit_code(&ctx->diag);
				break;
			}
			for (size_t x = 0; x < n; x++) {
				char src[100], t[64];

				range_str(e[x].family, &(struct range){ e[x].addr, e[x].last }, src, sizeof(src));
				if (arr) {
					json_t *g = json_object();

					json_object_set_new(g, "service", json_string(p->svcs[i].name));
					json_object_set_new(g, "family", json_string(fams[k] == CIDR_V4 ? "ipv4" : "ipv6"));
					json_object_set_new(g, "source", json_string(src));
					json_object_set_new(g, "expires", time_json(e[x].expires_at));
					json_object_set_new(g, "expires_iso",
							    e[x].expires_at ? json_string(seen_time_str(e[x].expires_at, true, t, sizeof(t)))
									    : json_null());
					json_object_set_new(g, "remaining_ms", json_integer((json_int_t)e[x].expires_ms));
					json_array_append_new(arr, g);
				} else {
					if (!total)
						printf("%-16s %-43s %s\n", "SERVICE", "SOURCE", "EXPIRES");
					printf("%-16s %-43s %s (in %llus)\n", p->svcs[i].name, src,
					       seen_time_str(e[x].expires_at, false, t, sizeof(t)),
					       (unsigned long long)((e[x].expires_ms + 999) / 1000));
				}
				total++;
			}
			free(e);
		}
	}
	nl_close(s);
	if (o) {
		json_object_set_new(o, "grants", arr);
		if (rc) {
			json_decref(o);
			return rc;
		}
		return dump_json(o);
	}
	if (!rc && !total)
		printf("no temporary access in table inet %s\n", p->table);
	return rc;
}

/* The command line of allow, checked. */
struct allow_args {
	const char *dur;	/* --for as given */
	uint64_t secs;
	bool list, revoke;
	const char *service;
	struct cidr src;
};

/* Options and operands into *a; returns -1 to go on, else the exit status. */
static int parse_args(struct pl_ctx *ctx, int argc, char **argv, struct allow_args *a)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "for", required_argument, NULL, 'f' },
		{ "list", no_argument, NULL, 'l' },
		{ "revoke", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	enum cidr_status st;
	const char *src;
	int opt;

	while ((opt = cmd_getopt(ctx, argc, argv, "hjl", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "allow",
				  "      --for DURATION  grant SOURCE access to SERVICE for DURATION (90, 30m, 1h30m, 2d)\n"
				  "      --revoke        end SERVICE's temporary access for SOURCE now\n"
				  "  -l, --list          the temporary access in force and when it expires\n"
				  "  -j, --json          machine-readable output\n"
				  "  -h, --help          this help\n");
			return PL_EXIT_OK;
		case 'j': ctx->json = true; break;
		case 'f': a->dur = optarg; break;
		case 'l': a->list = true; break;
		case 'r': a->revoke = true; break;
		default:
			return cmd_bad_usage(ctx, "allow", "unknown option or missing argument '%s'",
					     argv[optind - 1]);
		}
	}
	if (a->list + a->revoke + !!a->dur != 1)
		return cmd_bad_usage(ctx, "allow", "give exactly one of --for DURATION, --revoke, --list");
	if (a->list && optind < argc)
		return cmd_bad_usage(ctx, "allow", "--list takes no operand ('%s')", argv[optind]);
	if (a->list)
		return -1;
	if (argc - optind != 2)
		return cmd_bad_usage(ctx, "allow", "expected SERVICE SOURCE");
	if (a->dur && (util_parse_duration(a->dur, &a->secs) < 0 || a->secs == 0))
		return cmd_bad_usage(ctx, "allow",
				     "--for '%s' is not a duration (a number of seconds, or like 30m, 1h30m, 2d; not 0)",
				     a->dur);
	a->service = argv[optind];
	src = argv[optind + 1];
	st = cidr_parse(src, &a->src);
	if (st == CIDR_HOSTBITS)
		return cmd_bad_usage(ctx, "allow", "'%s' has host bits set (the prefix is %s/%d)", src,
				     cidr_addr_str(a->src.family, a->src.addr, (char[64]){ 0 }, 64), a->src.plen);
	if (st != CIDR_OK)
		return cmd_bad_usage(ctx, "allow", "'%s' is not an address or prefix: %s", src, cidr_status_str(st));
	return -1;
}

/* What a grant or revoke did, as text or JSON. */
static int print_change(const struct pl_ctx *ctx, const struct policy *p, const struct allow_args *a,
			const struct access_result *res)
{
	char src[100], t[64];
	u128 hi = a->src.addr;

	if (a->src.plen < cidr_bits(a->src.family))
		hi |= (((u128)1) << (cidr_bits(a->src.family) - a->src.plen)) - 1;
	range_str(a->src.family, &(struct range){ a->src.addr, hi }, src, sizeof(src));
	if (ctx->json) {
		json_t *o = json_object();

		json_object_set_new(o, "action", json_string(a->revoke ? "revoke" : "grant"));
		json_object_set_new(o, "table", json_string(p->table));
		json_object_set_new(o, "service", json_string(a->service));
		json_object_set_new(o, "source", json_string(src));
		json_object_set_new(o, "for_seconds", a->revoke ? json_null() : json_integer((json_int_t)a->secs));
		json_object_set_new(o, "expires", time_json(res->expires_at));
		json_object_set_new(o, "renewed", json_boolean(res->renewed));
		json_object_set_new(o, "transaction", json_integer((json_int_t)res->txn));
		return dump_json(o);
	}
	if (a->revoke)
		printf("transaction %llu: temporary access for %s to service %s revoked\n",
		       (unsigned long long)res->txn, src, a->service);
	else
		printf("transaction %llu: %s may reach service %s until %s (%s%s); the kernel ends it by itself\n",
		       (unsigned long long)res->txn, src, a->service,
		       seen_time_str(res->expires_at, false, t, sizeof(t)), a->dur, res->renewed ? ", renewed" : "");
	return PL_EXIT_OK;
}

int cmd_allow_main(struct pl_ctx *ctx, int argc, char **argv)
{
	struct allow_args a = { 0 };
	struct access_req req = { 0 };
	struct access_result res;
	struct policy p = { 0 };
	const struct policy_service *svc = NULL;
	int rc;

	rc = parse_args(ctx, argc, argv, &a);
	if (rc >= 0)
		return rc;
	rc = cmd_load_policy(ctx, &p);
	if (rc)
		return rc;
	if (a.list) {
		rc = list(ctx, &p);
		goto out;
	}
	for (size_t i = 0; i < p.nsvcs; i++)
		if (!strcmp(p.svcs[i].name, a.service))
			svc = &p.svcs[i];
	if (!svc) {
		rc = cmd_bad_usage(ctx, "allow", "no service '%s' in %s", a.service, p.source);
		goto out;
	}
	req.src = a.src;
	req.revoke = a.revoke;
	req.state_dir = ctx->state_dir;
	req.wait_s = ctx->wait_s;
	req.journal_keep = p.journal_keep;
	req.table = p.table;
	req.service = svc->name;
	req.for_s = (uint32_t)a.secs;
	if (access_change(&req, &res, &ctx->diag) < 0) {
		rc = diag_exit_code(&ctx->diag);
		if (a.revoke || rc != PL_EXIT_CONFLICT)
			diag_note(&ctx->diag, NULL, "nothing was changed");
		goto out;
	}
	rc = print_change(ctx, &p, &a, &res);
out:
	policy_fini(&p);
	return rc;
}
