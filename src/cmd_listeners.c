// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `portlock listeners [--all] [--json] [--tcp] [--udp]`: the listening
 * sockets of this network namespace with portlock's exposure judgement,
 * like `ss -ltnup` (text or JSON). Glue only: the work is in listen.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd.h"
#include "listen.h"

/* owner names are untrusted bytes (any process can set its comm) */
static const char *comm_str(const struct listen_owner *o, char *buf, size_t len)
{
	if (!o->comm[0])
		return "?";
	return util_escape(o->comm, strlen(o->comm), buf, len);
}

static const char *family_str(enum cidr_family f)
{
	return f == CIDR_V4 ? "ipv4" : "ipv6";
}

static json_t *entry_json(const struct listen_entry *l, const struct listen_set *s)
{
	char addr[LISTEN_ADDRSTRLEN], ep[LISTEN_ENDPOINTSTRLEN], c[64];
	json_t *o = json_object(), *procs = json_array(), *fams = json_array();

	cidr_addr_str(l->family, l->addr, addr, sizeof(addr));
	json_object_set_new(o, "proto", json_string(listen_proto_str(l->proto)));
	json_object_set_new(o, "family", json_string(family_str(l->family)));
	json_object_set_new(o, "address", json_string(addr));
	json_object_set_new(o, "port", json_integer(l->port));
	json_object_set_new(o, "endpoint", json_string(listen_endpoint_str(l, ep, sizeof(ep))));
	json_object_set_new(o, "v6only", l->family == CIDR_V6 ? json_boolean(l->v6only) : json_null());
	if (l->ifindex) {
		util_escape(l->ifname, strlen(l->ifname), c, sizeof(c));
		json_object_set_new(o, "interface", json_string(c));
		json_object_set_new(o, "ifindex", json_integer(l->ifindex));
	} else {
		json_object_set_new(o, "interface", json_null());
		json_object_set_new(o, "ifindex", json_null());
	}
	json_object_set_new(o, "scope", json_string(listen_scope_str(listen_scope(l))));
	json_object_set_new(o, "exposed", json_boolean(listen_is_exposed(l)));
	if (listen_covers_family(l, CIDR_V4))
		json_array_append_new(fams, json_string("ipv4"));
	if (listen_covers_family(l, CIDR_V6))
		json_array_append_new(fams, json_string("ipv6"));
	json_object_set_new(o, "families", fams);
	json_object_set_new(o, "inode", json_integer(l->inode));
	json_object_set_new(o, "uid", json_integer(l->uid));
	for (size_t i = 0; i < l->nowners; i++)
		json_array_append_new(procs, json_pack("{s:i,s:s}", "pid", (int)l->owners[i].pid,
						       "name", comm_str(&l->owners[i], c, sizeof(c))));
	json_object_set_new(o, "processes", s->owners_done ? procs : json_null());
	if (!s->owners_done)
		json_decref(procs);
	return o;
}

static const char *exposure_str(const struct listen_entry *l)
{
	bool v4 = listen_covers_family(l, CIDR_V4), v6 = listen_covers_family(l, CIDR_V6);

	if (!listen_is_exposed(l))
		return "loopback-only";
	if (v4 && v6)
		return "exposed ipv4+ipv6";
	return v4 ? "exposed ipv4" : "exposed ipv6";
}

static void print_owners(const struct listen_entry *l, const struct listen_set *s)
{
	char c[64];

	if (!s->owners_done) {
		printf("-");
	} else if (!l->nowners) {
		/* another user's socket, when not root: we could not look */
		printf("%s", s->owners_denied && l->uid != (uint32_t)geteuid() ? "? (needs root)" : "-");
	}
	for (size_t i = 0; i < l->nowners; i++)
		printf("%s%d/%s", i ? "," : "", (int)l->owners[i].pid,
		       comm_str(&l->owners[i], c, sizeof(c)));
}

static void print_table(const struct listen_set *s, bool all)
{
	char ep[LISTEN_ENDPOINTSTRLEN];

	printf("%-5s %-40s %-6s %-18s %s\n", "PROTO", "ADDRESS:PORT", "V6ONLY", "EXPOSURE",
	       "PROCESS");
	for (size_t i = 0; i < s->n; i++) {
		const struct listen_entry *l = &s->v[i];

		if (!all && !listen_is_exposed(l))
			continue;
		printf("%-5s %-40s %-6s %-18s ", listen_proto_str(l->proto),
		       listen_endpoint_str(l, ep, sizeof(ep)),
		       l->family == CIDR_V4 ? "-" : l->v6only ? "yes" : "no", exposure_str(l));
		print_owners(l, s);
		putchar('\n');
	}
}

int cmd_listeners_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "tcp", no_argument, NULL, 't' },
		{ "udp", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int flags = LISTEN_F_OWNERS;
	struct listen_set s;
	size_t hidden = 0;
	bool all = false;
	int opt, rc = PL_EXIT_OK;

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "ajtuh", opts)) != -1) {
		switch (opt) {
		case 'a': all = true; break;
		case 'j': ctx->json = true; break;
		case 't': flags |= LISTEN_F_TCP; break;
		case 'u': flags |= LISTEN_F_UDP; break;
		case 'h':
			cmd_usage(ctx, "listeners",
				  "  -a, --all    also loopback-only listeners\n"
				  "  -t, --tcp    TCP listeners only (with -u: both, the default)\n"
				  "  -u, --udp    UDP sockets only\n"
				  "  -j, --json   machine-readable output\n"
				  "  -h, --help   this help\n");
			return PL_EXIT_OK;
		default:
			return cmd_bad_usage(ctx, "listeners", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_bad_usage(ctx, "listeners", "unexpected argument '%s'", argv[optind]);

	listen_set_init(&s);
	if (listen_dump(&s, flags, &ctx->diag) < 0)
		goto out;
	for (size_t i = 0; i < s.n; i++)
		hidden += !listen_is_exposed(&s.v[i]);
	if (ctx->json) {
		json_t *o = json_object(), *a = json_array();

		for (size_t i = 0; i < s.n; i++)
			if (all || listen_is_exposed(&s.v[i]))
				json_array_append_new(a, entry_json(&s.v[i], &s));
		json_object_set_new(o, "listeners", a);
		json_object_set_new(o, "owners_complete", json_boolean(!s.owners_denied));
		if (cmd_json_print("listeners", o) < 0)
			rc = PL_EXIT_INTERNAL;
	} else {
		print_table(&s, all);
	}
	if (!all && hidden)
		diag_note(&ctx->diag, NULL, "%zu loopback-only listener%s not shown (--all shows %s)",
			  hidden, hidden == 1 ? "" : "s", hidden == 1 ? "it" : "them");
	if (s.owners_denied)
		diag_note(&ctx->diag, NULL,
			  "the fd tables of %zu process%s could not be read: owners of other "
			  "users' sockets need root",
			  s.owners_denied, s.owners_denied == 1 ? "" : "es");
out:
	listen_set_fini(&s);
	return rc;
}
