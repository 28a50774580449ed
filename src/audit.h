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

/* Scanner checks a finding corresponds to (bits of audit_finding.checks). */
enum audit_check {
	AUDIT_CHK_SMPP = 1u << 0,	/* nessus:31132 SMPP Server Detection */
	AUDIT_CHK_SMTP = 1u << 1,	/* nessus:10263 SMTP Server Detection; nmap -sV smtp */
	AUDIT_CHK_SMTP_NS = 1u << 2,	/* nessus:18391 SMTP Server Non-standard Port Detection; nmap smtp-strangeport */
	AUDIT_CHK_SMTP_FP = 1u << 3,	/* nessus:11421 smtpscan SMTP Fingerprinting; nmap -sV version */
	AUDIT_CHK_OPEN = 1u << 4,	/* nmap: open port */
};
#define AUDIT_NCHECKS 5
/* The id ("nessus:31132", ...) and name of check bit i (0 .. AUDIT_NCHECKS-1). */
const char *audit_check_id(unsigned i);
const char *audit_check_name(unsigned i);

struct audit_finding {
	char id[32];
	enum audit_sev sev;
	char closes[32];	/* id "remediated": the finding it was, "" otherwise */
	char proto[4];
	char address[64];	/* listener address as bound ("0.0.0.0", "::", ...) or "" */
	uint16_t port;
	char process[128];	/* "name[pid]" of the owners, escaped, or "" */
	char summary[512];	/* one line: what and why */
	char evidence[600];	/* escaped bytes from the network or the diff */
	unsigned checks;	/* enum audit_check bits: the scanner checks this corresponds to */
	char remediation[1024];	/* policy lines to add, or the command to run */
};

/*
 * What holds now for one port and family: who may reach it, judged by the
 * evaluator (nft_eval.h) over every table's base chains on the hooks the
 * packet crosses.
 */
enum audit_reach {
	AUDIT_REACH_OPEN,	/* every remote source gets through */
	AUDIT_REACH_RESTRICTED,	/* only some sources (nranges of them) */
	AUDIT_REACH_CLOSED,	/* no remote source gets through */
	AUDIT_REACH_ALL,	/* unused by the evaluator; kept for the report's wording */
	AUDIT_REACH_UNKNOWN,	/* a rule it cannot evaluate decides: not evaluated (never "open") */
};

struct audit_reach_fact {
	enum audit_reach state;
	uint64_t nranges;	/* RESTRICTED: ranges of sources that may get through */
	char sources[160];	/* the first of them, "192.0.2.10/32, ..." */
	bool partial;		/* RESTRICTED: part of those sources were not evaluated */
	bool by_portlock;	/* the drop that restricts it is in one of portlock's tables */
	char by[400];		/* which table/chain/rule drops the others, or "" */
	char service[64];	/* the portlock service that restricts it, or "" */
	char unknown[320];	/* the rule not evaluated, or "" */
	/*
	 * A nat chain on prerouting translates the port (nft_eval.h ne_nat()):
	 * published, a DNAT to another address (or a nat rule not evaluated):
	 * no local listener decides who reaches it; local_port: redirected to
	 * that local port, whose listener and input rules decide.
	 */
	bool published;
	uint16_t local_port;
	char nat[400];		/* the translation, "" when none */
};

struct audit_port_key {
	uint16_t port;
	bool udp;
};

struct audit_port {
	struct audit_port_key key;
	bool listening[2];		/* an exposed listener takes [0] IPv4, [1] IPv6 (on reach[].local_port when redirected) */
	struct audit_reach_fact reach[2];	/* [0] IPv4, [1] IPv6 */
	char process[128];		/* owners of the listeners, escaped */
	char probed[32];		/* what answered the probe now ("smtp", ...), or "" */
	char software[96];		/* fingerprint guess, or "" */
	char banner[200];		/* escaped evidence of the probe, or "" */
};

/*
 * The facts derive works on: one per exposed (port, proto), gathered from
 * the listeners, the evaluator, the probe and the policy. Plain data.
 */
struct audit_port_fact {
	struct audit_port st;		/* listeners, reachability, probe */
	char address[64];		/* the first exposed listener's address as bound */
	char where[96];			/* "0.0.0.0:25" */
	uint32_t service;		/* enum probe_service when probed */
	bool probed;
	unsigned confidence;
	char basis[128], codes[128];
	char evidence[600];
	/* the policy's service for this port, when there is one */
	bool in_policy;
	char psvc[64], pfile[256], pexpect[16];
	int pline;
};

struct audit_facts {
	const struct audit_port_fact *v;
	size_t n;
	bool have_policy;
	const char *config_path;	/* where the policy is (or would be) */
};

/*
 * What holds for a port over the families fam[] considered ([0] IPv4, [1]
 * IPv6), the worst of them: OPEN, then UNKNOWN (not evaluated), then
 * RESTRICTED, then CLOSED; a family nothing listens on counts as CLOSED,
 * unless it is published (reach[].published: a DNAT to another address).
 * The audit's findings and audit --report's states both come from it.
 */
enum audit_reach audit_port_reach(const struct audit_port *st, const bool fam[2]);

struct audit_report;
/* Findings from the facts, appended to r (pure: no I/O). */
void audit_derive(const struct audit_facts *in, struct audit_report *r);

/*
 * A policy entry that closes (proto, port) to every remote source, and the
 * instruction to insert it so that the policy still parses (see
 * portlock(8), AUDIT): base names the service ("smtp_2525"), expect may be NULL.
 */
void audit_snippet(char *buf, size_t len, bool have_policy, const char *config_path, const char *base,
		   const char *expect, bool udp, uint16_t port);

struct audit_report {
	struct audit_finding *f;
	size_t n, cap;
	struct audit_port *ports;	/* one per audit_opts.ports, same order */
	size_t nports;
	json_t *listeners;	/* per-listener facts, for --json */
	json_t *foreign;	/* other tables' base chains on prerouting/input/forward */
	json_t *tables;		/* the tables evaluated: family, name, portlock's or not */
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
