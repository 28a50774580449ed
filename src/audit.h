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

/*
 * What holds now for one port (audit --report asks for the ports of a scanner
 * export): who listens and what the live table lets through, per family.
 */
enum audit_reach {
	AUDIT_REACH_OPEN,	/* no rule of ours restricts it */
	AUDIT_REACH_RESTRICTED,	/* restricted to some prefixes */
	AUDIT_REACH_CLOSED,	/* restricted to no prefix at all: closed to every remote source */
	AUDIT_REACH_ALL,	/* "restricted" to a prefix that covers every address */
};

struct audit_port_key {
	uint16_t port;
	bool udp;
};

struct audit_port {
	struct audit_port_key key;
	bool listening[2];		/* an exposed listener takes [0] IPv4, [1] IPv6 */
	enum audit_reach reach[2];	/* [0] IPv4, [1] IPv6, from the live table */
	uint64_t nranges[2];		/* allowlist ranges when restricted */
	char sources[2][160];		/* the first of them, "192.0.2.10/32, ..." */
	char service[64];		/* the live service (set name prefix) that restricts it */
	char process[128];		/* owners of the listeners, escaped */
	char probed[32];		/* what answered the probe now ("smtp", ...), or "" */
	char software[96];		/* fingerprint guess, or "" */
	char banner[200];		/* escaped evidence of the probe, or "" */
};

struct audit_report {
	struct audit_finding *f;
	size_t n, cap;
	struct audit_port *ports;	/* one per audit_opts.ports, same order */
	size_t nports;
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
	const struct audit_port_key *ports;	/* also report these ports' state (r->ports) */
	size_t nports;
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
