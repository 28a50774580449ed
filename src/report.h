/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scanner exports for `audit --report FILE`: an nmap XML export (nmap -sV -oX,
 * root element <nmaprun>) or a Nessus v2 export (.nessus, root element
 * <NessusClientData_v2>), parsed with libxml2 into a flat list of entries
 * (host address, port, protocol, the scanner check and what it saw), then
 * matched against what holds now (audit.h, struct audit_port).
 *
 * The file is untrusted input: it is read whole up to REPORT_MAX_BYTES
 * (larger: refused before parsing), parsed without network access
 * (XML_PARSE_NONET), without loading any DTD, without entity substitution,
 * and any entity declaration stops the parse (an XML bomb is refused at its
 * first declaration, before anything is expanded). libxml2's own depth and
 * text-node limits stay in force (no XML_PARSE_HUGE). Every error names the
 * file and line. Strings taken from the file are escaped (util_escape())
 * before they are stored.
 *
 * What becomes an entry:
 *   nmap:   every <port> whose <state state="open">, with the service name,
 *           product, version and extra info of <service>, and the output of
 *           the smtp-strangeport script when there is one.
 *   Nessus: every ReportItem of the four seed checks (matched by plugin id or
 *           by name: SMPP Server Detection 31132, SMTP Server Detection
 *           10263, SMTP Server Non-standard Port Detection 18391, smtpscan
 *           SMTP Fingerprinting 11421), and one "open port" entry per other
 *           port that has ReportItems (port 0, the host-wide items, is
 *           skipped) but no seed-check item, listing those plugins.
 */
#ifndef PORTLOCK_REPORT_H
#define PORTLOCK_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"

struct diag;
struct policy;

/* Larger exports are refused (split them per host: both scanners can). */
#define REPORT_MAX_BYTES (64u << 20)

enum report_format {
	REPORT_FMT_NMAP,
	REPORT_FMT_NESSUS,
};

/* Which scanner finding an entry is, hence which audit finding it maps to. */
enum report_kind {
	REPORT_KIND_SMPP,	/* Nessus 31132; nmap service "smpp" */
	REPORT_KIND_SMTP,	/* Nessus 10263; nmap service "smtp"/"smtps" */
	REPORT_KIND_SMTP_NS,	/* Nessus 18391 */
	REPORT_KIND_SMTP_FP,	/* Nessus 11421 */
	REPORT_KIND_OPEN,	/* any other open port */
};

struct report_entry {
	char address[64];	/* the host's IP address as the report gives it, or "" */
	char host[128];		/* the report's name of the host (escaped), or "" */
	bool udp;
	uint16_t port;
	enum report_kind kind;
	char check[128];	/* Nessus pluginName, or "nmap -sV: <service>" (escaped) */
	char plugin_id[16];	/* Nessus pluginID of a seed check, "" otherwise */
	char service[64];	/* nmap service name / Nessus svc_name (escaped) */
	char product[160];	/* nmap product, version, extra info (escaped) */
	char evidence[320];	/* what the scanner saw (escaped excerpt) */
	int line;		/* line of the entry in the file */
};

struct report {
	enum report_format format;
	struct report_entry *v;
	size_t n, cap;
	size_t nhosts;		/* hosts in the file */
	size_t nskipped;	/* entries dropped by report_keep() */
};

/*
 * Parse len bytes (an export named name, for messages) into *out. Pure: no
 * file or network access. Returns 0, or -EINVAL (malformed, not an export
 * of either kind, an entity declaration, too large: DIAG_CONFIG with
 * name:line) or -ENOMEM, recorded in d; *out is then empty.
 */
int report_parse(const char *buf, size_t len, const char *name, struct report *out, struct diag *d);

/* Read path (at most REPORT_MAX_BYTES) and report_parse() it. */
int report_load(const char *path, struct report *out, struct diag *d);
void report_fini(struct report *r);

const char *report_format_str(enum report_format f);

/*
 * Which report hosts are this one: addresses (any spelling; kept in
 * canonical form) and names (compared without case).
 */
struct report_hosts {
	char **v;
	size_t n, cap;
};

void report_hosts_init(struct report_hosts *h);
void report_hosts_fini(struct report_hosts *h);
/* Returns 0 or -ENOMEM. */
int report_hosts_add(struct report_hosts *h, const char *addr_or_name);
/* Add every address of the network namespace's interfaces (getifaddrs(3)). */
int report_hosts_local(struct report_hosts *h, struct diag *d);
bool report_hosts_match(const struct report_hosts *h, const struct report_entry *e);
/* Keep the entries of h's hosts; r->nskipped counts the others. */
void report_keep(struct report *r, const struct report_hosts *h);

/*
 * The distinct (port, proto) of the entries, for audit_opts.ports, sorted
 * (TCP first, then by port): *keys is malloc'ed. Returns 0 or -ENOMEM.
 */
int report_port_keys(const struct report *r, struct audit_port_key **keys, size_t *n);

/* The state of e's port in v (n of them, in report_port_keys() order), or NULL. */
const struct audit_port *report_port_find(const struct audit_port *v, size_t n,
					  const struct report_entry *e);

enum report_state {
	REPORT_CLOSED,		/* nothing listens, or closed to every remote source */
	REPORT_RESTRICTED,	/* only the allowlist's sources reach it */
	REPORT_NOT_EVALUATED,	/* a rule the evaluator cannot judge decides (never "open", nor closed) */
	REPORT_STILL_OPEN,	/* reachable from any source */
	REPORT_NSTATES,
};

const char *report_state_str(enum report_state s);

/* The audit finding id an entry corresponds to ("open-port" for other ports). */
const char *report_finding_id(const struct report_entry *e);

struct report_outcome {
	enum report_state state;
	const char *finding;	/* the audit finding id it corresponds to ("open-port" for others) */
	enum audit_sev sev;	/* while still open; info once closed or restricted */
	uint64_t nsources;	/* ranges of the allowlist when restricted */
	char evidence[700];	/* what holds now, and why */
	char fix[900];		/* what to do (a policy entry that passes `check`), or "none" */
};

/*
 * Decide what holds now for entry e. now: the audit's state of e's port
 * (NULL: unknown, judged still open). live: the audit's finding of the same
 * id on that port, if any (its severity and evidence are used). p: the
 * policy (may be NULL), config_path: where it is (for the fix), table: the
 * managed table's name. Pure.
 */
void report_judge(const struct report_entry *e, const struct audit_port *now,
		  const struct audit_finding *live, const struct policy *p, const char *config_path,
		  const char *table, struct report_outcome *out);

#endif
