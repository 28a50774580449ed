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
#include "report.h"
#include "util.h"

/* the live audit finding of the same id on the entry's port, if any */
static const struct audit_finding *live_finding(const struct audit_report *r, const char *id,
						  const struct report_entry *e)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].id, id) && r->f[i].port == e->port &&
		    !strcmp(r->f[i].proto, e->udp ? "udp" : "tcp"))
			return &r->f[i];
	return NULL;
}

static const struct audit_port *port_state(const struct audit_report *r, const struct report_entry *e)
{
	return r->ports ? report_port_find(r->ports, r->nports, e) : NULL;
}

/*
 * Render the mapping of every report entry to what holds now; returns the
 * exit code for --fail-on (1 when an entry still open is at or above it).
 */
static int render_report(struct pl_ctx *ctx, const char *path, const struct report *rep,
			 const struct report_hosts *hosts, const struct audit_report *r,
			 const struct policy *p, int fail_on)
{
	char file[1024];	/* the path as given, escaped (JSON wants UTF-8) */
	size_t count[REPORT_NSTATES] = { 0 };
	json_t *arr = ctx->json ? json_array() : NULL;
	int rc = PL_EXIT_OK;

	util_escape(path, strlen(path), file, sizeof(file));
	for (size_t i = 0; i < rep->n; i++) {
		const struct report_entry *e = &rep->v[i];
		struct report_outcome oc;
		const char *proto = e->udp ? "udp" : "tcp";
		char check[160];

		report_judge(e, port_state(r, e), live_finding(r, report_finding_id(e), e), p,
			     ctx->config_path, r->table, &oc);
		count[oc.state]++;
		if ((oc.state == REPORT_STILL_OPEN || oc.state == REPORT_NOT_EVALUATED) && fail_on >= 0 &&
		    (int)oc.sev >= fail_on)
			rc = PL_EXIT_PENDING;
		snprintf(check, sizeof(check), "%s%s%s%s", e->check, e->plugin_id[0] ? " (" : "",
			 e->plugin_id, e->plugin_id[0] ? ")" : "");
		if (arr) {
			json_t *ej = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:i}", "address", e->address,
					       "port", e->port, "proto", proto, "check", e->check,
					       "service", e->service, "product", e->product,
					       "evidence", e->evidence, "line", e->line);

			json_object_set_new(ej, "host", e->host[0] ? json_string(e->host) : json_null());
			json_object_set_new(ej, "plugin_id", e->plugin_id[0] ? json_string(e->plugin_id)
									     : json_null());
			json_array_append_new(arr, json_pack("{s:o,s:s,s:I,s:{s:s,s:s},s:s,s:s}",
				"entry", ej, "state", report_state_str(oc.state),
				"sources", (json_int_t)oc.nsources,
				"finding", "id", oc.finding, "severity", audit_sev_str(oc.sev),
				"evidence", oc.evidence, "fix", oc.fix));
		} else {
			printf("%s %u/%s  %s  ->  %s", e->address[0] ? e->address : e->host, e->port, proto,
			       check, report_state_str(oc.state));
			if (oc.state == REPORT_RESTRICTED)
				printf(" to %llu source%s", (unsigned long long)oc.nsources,
				       oc.nsources == 1 ? "" : "s");
			printf(" [%s %s]: %s; scanner saw (%s:%d): %s; fix: %s\n", audit_sev_str(oc.sev),
			       oc.finding, oc.evidence, file, e->line, e->evidence, oc.fix);
		}
	}
	if (arr) {
		json_t *hj = json_array(), *o;

		for (size_t i = 0; i < hosts->n; i++)
			json_array_append_new(hj, json_string(hosts->v[i]));
		o = json_pack("{s:s,s:{s:s,s:s,s:I,s:I,s:o},s:s,s:b,s:I,s:{s:I,s:I,s:I,s:I},s:o}",
			      "schema", "portlock-audit-report/1",
			      "report", "file", file, "format", report_format_str(rep->format),
			      "hosts_in_file", (json_int_t)rep->nhosts,
			      "entries_of_other_hosts", (json_int_t)rep->nskipped, "this_host", hj,
			      "table", r->table, "table_exists", r->table_exists,
			      "generation", (json_int_t)r->generation,
			      "summary", "still_open", (json_int_t)count[REPORT_STILL_OPEN],
			      "restricted", (json_int_t)count[REPORT_RESTRICTED],
			      "closed", (json_int_t)count[REPORT_CLOSED],
			      "not_evaluated", (json_int_t)count[REPORT_NOT_EVALUATED],
			      "entries", arr);
		if (!o) {
			diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "audit --report --json");
			return PL_EXIT_INTERNAL;
		}
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else {
		printf("%zu report entr%s for this host: %zu still open, %zu restricted, %zu closed, %zu not evaluated (%s export %s, %zu host%s, %zu entr%s of other hosts skipped; table inet %s %s)\n",
		       rep->n, rep->n == 1 ? "y" : "ies", count[REPORT_STILL_OPEN],
		       count[REPORT_RESTRICTED], count[REPORT_CLOSED], count[REPORT_NOT_EVALUATED],
		       report_format_str(rep->format), file,
		       rep->nhosts, rep->nhosts == 1 ? "" : "s", rep->nskipped,
		       rep->nskipped == 1 ? "y" : "ies", r->table, r->table_exists ? "present" : "absent");
	}
	return rc;
}

/*
 * --report: load the export and keep this host's entries (hosts: the
 * --host addresses; the interfaces' are added), their ports into *keys and o.
 * Returns an exit code; on failure hosts is still the caller's to release.
 */
static int load_report(struct pl_ctx *ctx, const char *report_file, struct report *rep,
		       struct report_hosts *hosts, struct audit_port_key **keys, struct audit_opts *o)
{
	size_t nkeys = 0;

	/* the export first: a malformed one stops everything (exit 3, file:line) */
	if (report_load(report_file, rep, &ctx->diag) || report_hosts_local(hosts, &ctx->diag))
		return diag_exit_code(&ctx->diag);
	report_keep(rep, hosts);
	if (!rep->n && rep->nhosts)
		diag_warn(&ctx->diag, NULL,
			  "no entry of '%s' is for this host (%zu host%s in it): name the report's host with --host ADDR",
			  report_file, rep->nhosts, rep->nhosts == 1 ? "" : "s");
	if (report_port_keys(rep, keys, &nkeys) < 0) {
		report_fini(rep);
		diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "audit");
		return PL_EXIT_INTERNAL;
	}
	o->ports = *keys;
	o->nports = nkeys;
	return PL_EXIT_OK;
}

/* The audit without --report, as text or JSON; the exit code --strict and --fail-on make of it. */
static int render_audit(struct pl_ctx *ctx, const struct audit_report *r, bool strict, int fail_on)
{
	int rc = PL_EXIT_OK;

	if (ctx->json) {
		json_t *jo = audit_json(r);

		json_dumpf(jo, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(jo);
	} else {
		audit_print_text(r, stdout);
	}
	for (size_t i = 0; i < r->n; i++) {
		if (strict && !strcmp(r->f[i].id, "expect-mismatch"))
			rc = PL_EXIT_MISMATCH;
		if (fail_on >= 0 && (int)r->f[i].sev >= fail_on && rc == PL_EXIT_OK)
			rc = PL_EXIT_PENDING;
	}
	return rc;
}

int cmd_audit_main(struct pl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "fail-on", required_argument, NULL, 'f' },
		{ "no-probe", no_argument, NULL, 'n' },
		{ "strict", no_argument, NULL, 's' },
		{ "fingerprints", required_argument, NULL, 'F' },
		{ "report", required_argument, NULL, 'r' },
		{ "host", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_opts o = { .probe = true };
	struct audit_report r;
	struct policy p;
	struct report rep = { 0 };
	struct report_hosts hosts;
	struct audit_port_key *keys = NULL;
	const char *report_file = NULL;
	bool have_policy = false, strict = false, have_report = false;
	int opt, rc, fail_on = -1;

	report_hosts_init(&hosts);

	opterr = 0;
	while ((opt = cmd_getopt(ctx, argc, argv, "hjF:r:H:", opts)) != -1) {
		switch (opt) {
		case 'h':
			cmd_usage(ctx, "audit",
				  "      --fail-on SEV   exit 1 when a finding is at or above SEV (info, low, medium, high)\n"
				  "      --no-probe      listeners and ruleset only; do not connect to anything\n"
				  "      --strict        exit 6 when a port does not answer as the policy expects\n"
				  "  -F, --fingerprints FILE  SMTP signature file\n"
				  "  -r, --report FILE   say for each finding of an nmap -oX or .nessus export on this\n"
				  "                      host whether it is closed, restricted or still open\n"
				  "  -H, --host ADDR     with --report: a report host that is this one (repeatable;\n"
				  "                      the interfaces' addresses always are)\n"
				  "  -j, --json          one JSON document (schema portlock-audit/1, or\n"
				  "                      portlock-audit-report/1 with --report; see portlock(8))\n"
				  "  -h, --help          this help\n");
			report_hosts_fini(&hosts);
			return PL_EXIT_OK;
		case 'r': report_file = optarg; break;
		case 'H':
			if (report_hosts_add(&hosts, optarg) < 0) {
				report_hosts_fini(&hosts);
				diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "audit");
				return PL_EXIT_INTERNAL;
			}
			break;
		case 'j': ctx->json = true; break;
		case 'n': o.probe = false; break;
		case 's': strict = true; break;
		case 'F': o.fingerprints = optarg; break;
		case 'f':
			fail_on = audit_sev_parse(optarg);
			if (fail_on < 0) {
				report_hosts_fini(&hosts);
				return cmd_bad_usage(ctx, "audit", "--fail-on '%s' is not info, low, medium or high",
						     optarg);
			}
			break;
		default:
			report_hosts_fini(&hosts);
			return cmd_bad_usage(ctx, "audit", "unknown option or missing argument '%s'",
					     argv[optind - 1]);
		}
	}
	if (optind < argc || (hosts.n && !report_file)) {
		report_hosts_fini(&hosts);
		if (optind < argc)
			return cmd_bad_usage(ctx, "audit", "unexpected argument '%s'", argv[optind]);
		return cmd_bad_usage(ctx, "audit", "--host is for --report");
	}
	if (report_file) {
		rc = load_report(ctx, report_file, &rep, &hosts, &keys, &o);
		if (rc) {
			report_hosts_fini(&hosts);
			return rc;
		}
		have_report = true;
	}
	if (access(ctx->config_path, F_OK) == 0) {
		rc = cmd_load_policy(ctx, &p);
		if (rc) {
			free(keys);
			report_fini(&rep);
			report_hosts_fini(&hosts);
			return rc;
		}
		have_policy = true;
	} else {
		diag_note(&ctx->diag, NULL, "no policy at '%s': reporting exposure only",
			  ctx->config_path);
	}
	rc = audit_run(ctx, have_policy ? &p : NULL, &o, &r);
	if (!rc && have_report) {
		rc = render_report(ctx, report_file, &rep, &hosts, &r, have_policy ? &p : NULL, fail_on);
		for (size_t i = 0; strict && i < r.n; i++)
			if (!strcmp(r.f[i].id, "expect-mismatch"))
				rc = PL_EXIT_MISMATCH;
	} else if (!rc) {
		rc = render_audit(ctx, &r, strict, fail_on);
	}
	audit_report_fini(&r);
	if (have_policy)
		policy_fini(&p);
	free(keys);
	report_fini(&rep);
	report_hosts_fini(&hosts);
	return rc;
}
