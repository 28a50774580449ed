/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Exposure audit: listeners (sock_diag) x the live managed table x the
 * policy x probes x the journal -> findings, each tied to the scanner check
 * it closes and to the exact remediation. Severity is reasoned from what is
 * reachable, not fixed per finding id.
 */
#ifndef PORTLOCK_AUDIT_H
#define PORTLOCK_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct pl_ctx;
struct policy;

enum audit_sev {
	AUDIT_INFO,
	AUDIT_LOW,
	AUDIT_MEDIUM,
	AUDIT_HIGH,
	AUDIT_SEV_MAX,
};

struct audit_finding {
	char id[32];
	enum audit_sev sev;
	char proto[4];
	char address[64];	/* listener address as bound ("0.0.0.0", "::", ...) or "" */
	uint16_t port;
	char process[128];	/* "name[pid]" of the owners, escaped, or "" */
	char summary[512];	/* one line: what and why */
	char evidence[600];	/* escaped bytes from the network or the diff */
	char checks[256];	/* scanner checks this corresponds to */
	char remediation[700];	/* policy lines to add, or the command to run */
};

struct audit_report {
	struct audit_finding *f;
	size_t n, cap;
	json_t *listeners;	/* per-listener facts, for --json */
	json_t *foreign;	/* other tables' base chains on prerouting/input/forward */
	uint32_t generation;
	size_t nlisteners, nexposed;
	bool table_exists;
	char table[64];
};

struct audit_opts {
	bool probe;			/* identify services (default) */
	const char *fingerprints;	/* signature file, or NULL for the default */
};

/* Parse "info|low|medium|high"; -1 when not one of them. */
int audit_sev_parse(const char *s);
const char *audit_sev_str(enum audit_sev s);

/*
 * Run the audit. p may be NULL (no readable policy: exposure is still
 * reported, remediation proposes policy lines). Returns 0 or an exit code
 * with errors in ctx->diag. Findings are sorted most severe first.
 */
int audit_run(struct pl_ctx *ctx, const struct policy *p, const struct audit_opts *o,
	      struct audit_report *r);
void audit_report_fini(struct audit_report *r);

void audit_print_text(const struct audit_report *r, FILE *f);
json_t *audit_json(const struct audit_report *r);

#endif
