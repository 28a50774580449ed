// SPDX-License-Identifier: GPL-2.0-or-later
/* `portlock check`: validate the config, print the normalized policy (text or JSON). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cmd.h"
#include "policy.h"

#define CHECK_SHOW_RANGES 8

static json_t *ranges_json(enum cidr_family f, const struct rangeset *rs)
{
	json_t *a = json_array();
	char buf[100];

	for (size_t i = 0; a && i < rs->n; i++)
		json_array_append_new(a, json_string(range_str(f, &rs->r[i], buf, sizeof(buf))));
	return a;
}

static json_t *policy_json(const struct policy *p, const char *hash)
{
	json_t *o = json_object(), *hooks = json_array(), *svcs = json_array(), *log;
	char rate[64];

	snprintf(rate, sizeof(rate), "%u/%s", p->log_rate, policy_rate_unit_str(p->log_unit));
	if (p->hooks & POLICY_HOOK_INPUT)
		json_array_append_new(hooks, json_string("input"));
	if (p->hooks & POLICY_HOOK_FORWARD)
		json_array_append_new(hooks, json_string("forward"));
	log = json_pack("{s:b,s:s,s:s}", "enabled", p->log, "prefix", p->log_prefix, "rate", rate);
	json_object_set_new(o, "config", json_string(p->source));
	json_object_set_new(o, "policy_sha256", json_string(hash));
	json_object_set_new(o, "table", json_string(p->table));
	json_object_set_new(o, "family", json_string("inet"));
	json_object_set_new(o, "action", json_string(policy_action_str(p->action)));
	json_object_set_new(o, "hooks", hooks);
	json_object_set_new(o, "log", log);
	json_object_set_new(o, "loopback", json_boolean(p->loopback));
	json_object_set_new(o, "journal_keep", json_integer(p->journal_keep));
	json_object_set_new(o, "mode", json_string(p->mode == POLICY_MODE_OBSERVE ? "observe" : "enforce"));
	json_object_set_new(o, "retention", json_integer(p->retention));
	for (size_t i = 0; i < p->nsvcs; i++) {
		const struct policy_service *s = &p->svcs[i];
		json_t *so = json_object(), *ports = json_array();

		for (size_t j = 0; j < s->nports; j++)
			json_array_append_new(ports, json_integer(s->ports[j]));
		json_object_set_new(so, "name", json_string(s->name));
		json_object_set_new(so, "expect", s->expect ? json_string(s->expect) : json_null());
		json_object_set_new(so, "proto", json_string(policy_proto_str(s->proto)));
		json_object_set_new(so, "ports", ports);
		json_object_set_new(so, "line", json_integer(s->line));
		json_object_set_new(so, "sources", json_integer((json_int_t)s->nsources));
		json_object_set_new(so, "ipv4", ranges_json(CIDR_V4, &s->v4));
		json_object_set_new(so, "ipv6", ranges_json(CIDR_V6, &s->v6));
		json_object_set_new(so, "mode", json_string(s->mode == POLICY_MODE_OBSERVE ? "observe" : "enforce"));
		json_object_set_new(so, "retention", json_integer(s->retention));
		json_object_set_new(so, "critical", json_boolean(s->critical));
		json_array_append_new(svcs, so);
	}
	json_object_set_new(o, "services", svcs);
	return o;
}

static void print_family(const char *label, enum cidr_family f, const struct rangeset *rs,
			 int verbose)
{
	char buf[100];
	size_t show = verbose > 0 ? rs->n : (rs->n < CHECK_SHOW_RANGES ? rs->n : CHECK_SHOW_RANGES);

	if (!rs->n) {
		printf("    %s  none: closed to every remote %s source\n", label, label);
		return;
	}
	for (size_t i = 0; i < show; i++)
		printf("    %s  %s\n", label, range_str(f, &rs->r[i], buf, sizeof(buf)));
	if (show < rs->n)
		printf("    %s  ... and %zu more (-v shows all)\n", label, rs->n - show);
}

static void policy_print(const struct policy *p, const char *hash, int verbose)
{
	printf("config   %s\n", p->source);
	printf("sha256   %s\n", hash);
	printf("table    inet %s\n", p->table);
	printf("action   %s\n", policy_action_str(p->action));
	printf("hooks   %s%s\n", p->hooks & POLICY_HOOK_INPUT ? " input" : "",
	       p->hooks & POLICY_HOOK_FORWARD ? " forward (DNAT-published ports)" : "");
	printf("loopback %s\n", p->loopback ? "always allowed" : "restricted like any source");
	if (p->log)
		printf("log      prefix \"%s\", at most %u/%s\n", p->log_prefix, p->log_rate,
		       policy_rate_unit_str(p->log_unit));
	else
		printf("log      off\n");
	for (size_t i = 0; i < p->nsvcs; i++) {
		const struct policy_service *s = &p->svcs[i];

		printf("\nservice  %s (line %d)%s%s\n", s->name, s->line, s->expect ? ", expect " : "",
		       s->expect ? s->expect : "");
		printf("  ports  %s", policy_proto_str(s->proto));
		for (size_t j = 0; j < s->nports; j++)
			printf("%s%u", j ? ", " : " ", s->ports[j]);
		printf("\n  allow  %zu source%s -> %zu IPv4 range%s, %zu IPv6 range%s\n", s->nsources,
		       s->nsources == 1 ? "" : "s", s->v4.n, s->v4.n == 1 ? "" : "s", s->v6.n,
		       s->v6.n == 1 ? "" : "s");
		print_family("ipv4", CIDR_V4, &s->v4, verbose);
		print_family("ipv6", CIDR_V6, &s->v6, verbose);
	}
}

int cmd_check_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct policy p;
	char hash[65];
	int opt, rc;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hj", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "check", "  -j, --json   machine-readable output\n"
						"  -h, --help   this help\n");
			return PL_EXIT_OK;
		case 'j':
			ctx->json = true;
			break;
		default:
			return cmd_bad_usage(ctx, "check", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, "check", "unexpected argument '%s'", argv[optind]);
	rc = cmd_load_policy(ctx, &p);
	if (rc)
		return rc;
	if (policy_hash(&p, hash) < 0) {
		policy_fini(&p);
		return diag_err(&ctx->diag, DIAG_INTERNAL, NULL, 12, "hash"), PL_EXIT_INTERNAL;
	}
	if (ctx->json) {
		json_t *o = policy_json(&p, hash);

		if (!o || cmd_json_print("check", o) < 0)
			rc = PL_EXIT_INTERNAL;
	} else {
		policy_print(&p, hash, ctx->verbose);
	}
	policy_fini(&p);
	return rc;
}
