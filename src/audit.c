// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Exposure audit (see audit.h). Reachability is judged from the live table
 * as the kernel has it (not from the policy file), so the report says what a
 * scanner sees now. Identity comes from the probe module, which parses
 * network bytes in its own de-privileged child; this file only reads the
 * already-escaped results.
 */
#include "audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter.h>

#include "cidr.h"
#include "cmd.h"
#include "diag.h"
#include "fingerprint.h"
#include "journal.h"
#include "listen.h"
#include "nft_build.h"
#include "nft_eval.h"
#include "nft_model.h"
#include "nft_plan.h"
#include "nft_read.h"
#include "nl.h"
#include "policy.h"
#include "probe.h"
#include "report.h"
#include "snapshot.h"
#include "statestore.h"
#include "util.h"

static const char *const sev_names[] = { "info", "low", "medium", "high" };

const char *audit_sev_str(enum audit_sev s)
{
	return s < AUDIT_SEV_MAX ? sev_names[s] : "?";
}

int audit_sev_parse(const char *s)
{
	for (int i = 0; i < AUDIT_SEV_MAX; i++)
		if (!strcmp(s, sev_names[i]))
			return i;
	return -1;
}

static const struct {
	const char *id, *name;
} checks[AUDIT_NCHECKS] = {
	{ "nessus:31132", "SMPP Server Detection" },
	{ "nessus:10263", "SMTP Server Detection" },
	{ "nessus:18391", "SMTP Server Non-standard Port Detection" },
	{ "nessus:11421", "smtpscan SMTP Fingerprinting" },
	{ "nmap:open-port", "open port" },
};

const char *audit_check_id(unsigned i)
{
	return i < AUDIT_NCHECKS ? checks[i].id : "?";
}

const char *audit_check_name(unsigned i)
{
	return i < AUDIT_NCHECKS ? checks[i].name : "?";
}

static struct audit_finding *add(struct audit_report *r, const char *id, enum audit_sev sev)
{
	struct audit_finding *f;

	if (util_grow((void **)&r->f, &r->cap, r->n + 1, sizeof(*r->f)) < 0)
		return NULL;
	f = &r->f[r->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->id, sizeof(f->id), "%s", id);
	f->sev = sev;
	return f;
}

/* ---- helpers ---- */

static void owners_str(const struct listen_entry *l, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->nowners && o + 2 < len; i++) {
		char esc[64];

		util_escape(l->owners[i].comm, strnlen(l->owners[i].comm, sizeof(l->owners[i].comm)),
			    esc, sizeof(esc));
		o += (size_t)snprintf(buf + o, len - o, "%s%s[%d]", i ? "," : "", esc,
				      (int)l->owners[i].pid);
	}
}

static bool is_smtp(uint32_t svc)
{
	return svc == PROBE_SVC_SMTP || svc == PROBE_SVC_SMTPS;
}

static bool is_smpp(uint32_t svc)
{
	return svc == PROBE_SVC_SMPP || svc == PROBE_SVC_SMPP_TLS;
}

static bool reach_open(enum audit_reach r)
{
	return r == AUDIT_REACH_OPEN || r == AUDIT_REACH_ALL;
}

static const char *reach_state_str(enum audit_reach r)
{
	switch (r) {
	case AUDIT_REACH_OPEN:
	case AUDIT_REACH_ALL: return "open";
	case AUDIT_REACH_RESTRICTED: return "restricted";
	case AUDIT_REACH_CLOSED: return "closed";
	case AUDIT_REACH_UNKNOWN: return "not evaluated";
	}
	return "?";
}

/* "closed to every remote source (table inet portlock, service 'smtp')" */
static const char *reach_str(const struct audit_reach_fact *x, char *buf, size_t len)
{
	char by[520];

	if (x->service[0])
		snprintf(by, sizeof(by), " (%s; service '%s')", x->by, x->service);
	else if (x->by[0])
		snprintf(by, sizeof(by), " (%s)", x->by);
	else
		by[0] = '\0';
	switch (x->state) {
	case AUDIT_REACH_OPEN:
	case AUDIT_REACH_ALL:
		snprintf(buf, len, "open to every source");
		break;
	case AUDIT_REACH_CLOSED:
		snprintf(buf, len, "closed to every remote source%s", by);
		break;
	case AUDIT_REACH_RESTRICTED:
		snprintf(buf, len, "restricted to %llu range%s of sources%s%s%s",
			 (unsigned long long)x->nranges, x->nranges == 1 ? "" : "s",
			 x->partial ? " at most" : "", by,
			 x->partial ? "; part of them not evaluated" : "");
		break;
	case AUDIT_REACH_UNKNOWN:
		snprintf(buf, len, "not evaluated: %s", x->unknown);
		break;
	}
	if ((x->local_port || x->published) && x->nat[0] && !strstr(buf, x->nat) && strlen(buf) + 3 < len)
		snprintf(buf + strlen(buf), len - strlen(buf), " (%s)", x->nat);
	return buf;
}

void audit_snippet(char *buf, size_t len, bool have_policy, const char *config_path, const char *base,
		   const char *expect, bool udp, uint16_t port)
{
	char entry[256];

	snprintf(entry, sizeof(entry), "{ name = \"%s\";%s%s%s%s ports = [%u]; allow = []; }", base,
		 expect ? " expect = \"" : "", expect ? expect : "", expect ? "\";" : "",
		 udp ? " proto = \"udp\";" : "", port);
	if (have_policy)
		snprintf(buf, len,
			 "insert %s, right after \"services = (\" in %s (allow = [] closes it to every remote source; list trusted prefixes in allow to restrict it instead), then 'portlock apply --confirm 120' and 'portlock confirm'",
			 entry, config_path ? config_path : "the policy");
	else
		snprintf(buf, len,
			 "write services = ( %s ); to %s (allow = [] closes it to every remote source; list trusted prefixes in allow to restrict it instead), then 'portlock apply --confirm 120' and 'portlock confirm'",
			 entry, config_path ? config_path : "the policy");
}

/* ---- derive: facts -> findings (pure) ---- */

static void fill_where(struct audit_finding *f, const struct audit_port_fact *x)
{
	snprintf(f->proto, sizeof(f->proto), "%s", x->st.key.udp ? "udp" : "tcp");
	snprintf(f->address, sizeof(f->address), "%s", x->address);
	f->port = x->st.key.port;
	snprintf(f->process, sizeof(f->process), "%s", x->st.process);
}

/* "IPv4 closed ...; IPv6 restricted ..." over the families that listen */
static void reach_both(const struct audit_port_fact *x, char *buf, size_t len)
{
	char one[700];
	size_t o = 0;

	buf[0] = '\0';
	for (int fi = 0; fi < 2; fi++) {
		if (!x->st.listening[fi] && !x->st.reach[fi].published)
			continue;
		reach_str(&x->st.reach[fi], one, sizeof(one));
		if (o + 2 < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s %s", o ? "; " : "", fi ? "IPv6" : "IPv4", one);
	}
}

static void fix_restrict(char *buf, size_t len, const struct audit_facts *in, const struct audit_port_fact *x,
			 const char *base, const char *expect)
{
	char name[64];

	if (x->in_policy) {
		snprintf(buf, len,
			 "the policy already restricts it (service '%s', %s:%d): run 'portlock apply --confirm 120', check access, then 'portlock confirm'",
			 x->psvc, x->pfile[0] ? x->pfile : "?", x->pline);
		return;
	}
	snprintf(name, sizeof(name), "%s_%u", base, x->st.key.port);
	audit_snippet(buf, len, in->have_policy, in->config_path, name, expect, x->st.key.udp, x->st.key.port);
}

/*
 * The finding `id` (severity sev while reachable) of port x, or, when no
 * family is open or not evaluated, the remediated finding that replaces it.
 */
enum audit_reach audit_port_reach(const struct audit_port *st, const bool fam[2])
{
	static const int rank[] = {
		[AUDIT_REACH_CLOSED] = 0, [AUDIT_REACH_RESTRICTED] = 1, [AUDIT_REACH_UNKNOWN] = 2,
		[AUDIT_REACH_OPEN] = 3, [AUDIT_REACH_ALL] = 3,
	};
	enum audit_reach worst = AUDIT_REACH_CLOSED;

	for (int fi = 0; fi < 2; fi++) {
		enum audit_reach s = st->reach[fi].state == AUDIT_REACH_ALL ? AUDIT_REACH_OPEN : st->reach[fi].state;

		if (fam[fi] && (st->listening[fi] || st->reach[fi].published) && rank[s] > rank[worst])
			worst = s;
	}
	return worst;
}

static struct audit_finding *judged(struct audit_report *r, const struct audit_port_fact *x, const char *id,
				    enum audit_sev sev, unsigned chk, const char *what)
{
	static const bool both[2] = { true, true };
	enum audit_reach st = audit_port_reach(&x->st, both);
	bool open = st == AUDIT_REACH_OPEN, unk = st == AUDIT_REACH_UNKNOWN;
	bool restricted = st == AUDIT_REACH_RESTRICTED;
	struct audit_finding *f;
	char b[1400];

	reach_both(x, b, sizeof(b));
	if (open || unk) {
		/* not evaluated is never "open", nor closed: reported, one step lower */
		f = add(r, id, open ? sev : (sev > AUDIT_LOW ? sev - 1 : sev));
		if (f) {
			fill_where(f, x);
			f->checks = chk;
			snprintf(f->summary, sizeof(f->summary), "%s on %s; %s", what, x->where, b);
		}
		return f;
	}
	f = add(r, "remediated", AUDIT_INFO);
	if (f) {
		fill_where(f, x);
		f->checks = chk;
		snprintf(f->closes, sizeof(f->closes), "%s", id);
		snprintf(f->summary, sizeof(f->summary), "%s on %s, %s: %s", what, x->where,
			 restricted ? "restricted to its allowlist" : "closed to every remote source", b);
		snprintf(f->remediation, sizeof(f->remediation),
			 "none: a scan from %s no longer reaches %u/%s; rescan to close the scanner's finding",
			 restricted ? "outside the allowlist" : "outside", x->st.key.port, x->st.key.udp ? "udp" : "tcp");
	}
	return NULL;	/* nothing more to fill: the caller's evidence and fix are for open findings */
}

static bool expect_ok(const char *expect, uint32_t svc)
{
	if (!strncmp(expect, "smtp", 4))
		return is_smtp(svc);
	if (!strncmp(expect, "smpp", 4))
		return is_smpp(svc);
	return true;
}

static void derive_port(const struct audit_facts *in, const struct audit_port_fact *x, struct audit_report *r)
{
	const struct audit_port *st = &x->st;
	uint16_t port = st->key.port;
	char b1[700], b2[700];

	/* one family restricted, the other open */
	if (st->listening[0] && st->listening[1] &&
	    reach_open(st->reach[0].state) != reach_open(st->reach[1].state) &&
	    st->reach[0].state != AUDIT_REACH_UNKNOWN && st->reach[1].state != AUDIT_REACH_UNKNOWN) {
		struct audit_finding *f = add(r, "unrestricted-v6", AUDIT_HIGH);
		bool v6open = reach_open(st->reach[1].state);

		if (f) {
			fill_where(f, x);
			snprintf(f->summary, sizeof(f->summary), "port %u/%s is %s for %s but %s for %s", port,
				 st->key.udp ? "udp" : "tcp", reach_str(&st->reach[v6open ? 0 : 1], b1, sizeof(b1)),
				 v6open ? "IPv4" : "IPv6", reach_str(&st->reach[v6open ? 1 : 0], b2, sizeof(b2)),
				 v6open ? "IPv6" : "IPv4");
			fix_restrict(f->remediation, sizeof(f->remediation), in, x, "port", NULL);
		}
	}
	if (x->probed && is_smpp(x->service)) {
		struct audit_finding *f = judged(r, x, "smpp-exposed", AUDIT_HIGH, AUDIT_CHK_SMPP,
						 x->service == PROBE_SVC_SMPP_TLS ? "SMPP over TLS" : "SMPP");

		if (f) {
			snprintf(f->evidence, sizeof(f->evidence), "%s", x->evidence);
			fix_restrict(f->remediation, sizeof(f->remediation), in, x, "smpp", "smpp");
		}
	} else if (x->probed && is_smtp(x->service)) {
		bool standard = port == 25 || port == 465 || port == 587;
		const char *what = x->service == PROBE_SVC_SMTPS ? "SMTP over TLS" : "SMTP";
		struct audit_finding *f;
		char w[96];

		snprintf(w, sizeof(w), "%s on %s", what,
			 standard ? "its well-known port" : "a non-standard port (possible backdoor relay)");
		f = judged(r, x, standard ? "smtp-standard-port" : "smtp-nonstandard-port",
			   standard ? AUDIT_MEDIUM : AUDIT_HIGH, standard ? AUDIT_CHK_SMTP : AUDIT_CHK_SMTP_NS, w);
		if (f) {
			snprintf(f->evidence, sizeof(f->evidence), "%s", x->evidence);
			if (standard)
				fix_restrict(f->remediation, sizeof(f->remediation), in, x, "smtp",
					     x->service == PROBE_SVC_SMTPS ? "smtps" : "smtp");
			else if (x->in_policy)
				fix_restrict(f->remediation, sizeof(f->remediation), in, x, "stray_smtp", "smtp");
			else {
				char fix[700];

				snprintf(w, sizeof(w), "stray_smtp_%u", port);
				audit_snippet(fix, sizeof(fix), in->have_policy, in->config_path, w, NULL, st->key.udp, port);
				snprintf(f->remediation, sizeof(f->remediation),
					 "find out why %s runs an SMTP server on %u and stop it; or close the port: %s",
					 st->process[0] ? st->process : "a process", port, fix);
			}
		}
		if (st->software[0]) {
			char sw[160];

			snprintf(sw, sizeof(sw), "identifiable SMTP software (%s, confidence %u%%)",
				 st->software, x->confidence);
			f = judged(r, x, "smtp-fingerprint", AUDIT_MEDIUM, AUDIT_CHK_SMTP_FP, sw);
			if (f) {
				snprintf(f->evidence, sizeof(f->evidence), "basis: %s; codes %s",
					 x->basis[0] ? x->basis : "-", x->codes[0] ? x->codes : "-");
				snprintf(f->remediation, sizeof(f->remediation),
					 "hiding the banner does not defeat behavioural fingerprints; restrict the port to its relays (source filtering)");
			}
		}
	}
	if (!(x->probed && (is_smpp(x->service) || is_smtp(x->service))) &&
	    (st->reach[0].published || st->reach[1].published)) {
		struct audit_finding *f = judged(r, x, "dnat-published", AUDIT_HIGH, AUDIT_CHK_OPEN,
						 "a port published through NAT");

		if (f && x->in_policy)
			snprintf(f->remediation, sizeof(f->remediation),
				 "the policy covers %u/%s (service '%s', %s:%d): with \"forward\" in hooks (portlock group, the default) its allowlist applies to the published port: 'portlock apply --confirm 120', check access, then 'portlock confirm'",
				 port, st->key.udp ? "udp" : "tcp", x->psvc, x->pfile[0] ? x->pfile : "?", x->pline);
		else if (f) {
			char fix[700];

			snprintf(b1, sizeof(b1), "port_%u", port);
			audit_snippet(fix, sizeof(fix), in->have_policy, in->config_path, b1, NULL, st->key.udp, port);
			snprintf(f->remediation, sizeof(f->remediation),
				 "publish it only to the sources that need it (hooks = [\"input\", \"forward\"] in the portlock group, the default): %s",
				 fix);
		}
	}
	if (x->in_policy && x->pexpect[0] && x->probed && !expect_ok(x->pexpect, x->service)) {
		struct audit_finding *f = add(r, "expect-mismatch", AUDIT_MEDIUM);

		if (f) {
			fill_where(f, x);
			snprintf(f->summary, sizeof(f->summary),
				 "service '%s' expects %s on port %u, but %s answers", x->psvc, x->pexpect, port,
				 probe_service_name(x->service));
			snprintf(f->evidence, sizeof(f->evidence), "%s", x->evidence);
			snprintf(f->remediation, sizeof(f->remediation),
				 "check what listens on %u (process %s) and fix the service or the policy (%s:%d)",
				 port, st->process[0] ? st->process : "?", x->pfile[0] ? x->pfile : "?", x->pline);
		}
	}
}

void audit_derive(const struct audit_facts *in, struct audit_report *r)
{
	for (size_t i = 0; i < in->n; i++)
		derive_port(in, &in->v[i], r);
}

/* ---- gather: reachability from the evaluator ---- */

/* portlock's own tables as nft_read() sees them: the facts of their rules */
struct own_tables {
	struct nm_live *v;
	size_t n;
	const struct report_hosts *local;	/* this host's addresses (DNAT targets that stay local), or NULL */
};

/* the service of the rule with this handle in portlock's table `table`, from its facts */
static const char *service_of_rule(const struct own_tables *own, const char *table, uint64_t handle)
{
	for (size_t i = 0; own && handle && i < own->n; i++) {
		const struct nm_table *t = &own->v[i].t;

		if (!t->exists || strcmp(t->name, table))
			continue;
		for (size_t k = 0; k < t->nrules; k++)
			if (t->rules[k].handle == handle)
				return t->rules[k].fact.service;
	}
	return NULL;
}

/* a DNAT target that is one of this host's addresses (or loopback): the packet stays local */
static bool local_target(const struct own_tables *own, enum cidr_family f, const char *to)
{
	struct report_entry e;

	if ((f == CIDR_V4 && !strncmp(to, "127.", 4)) || (f == CIDR_V6 && !strcmp(to, "::1")))
		return true;
	if (!own->local)
		return false;
	memset(&e, 0, sizeof(e));
	snprintf(e.address, sizeof(e.address), "%.63s", to);
	return report_hosts_match(own->local, &e);
}

/*
 * What the nat chains on prerouting do to the packet. A DNAT to another
 * address publishes the port: no local listener decides, the forward path
 * does (pk becomes the translated packet on forward). A redirect, or a DNAT
 * to one of this host's addresses, turns pk into the packet input sees (its
 * local port). A translation for some sources only, to an address range,
 * or a nat rule it cannot evaluate: not evaluated, never closed. Returns 1
 * when that decided out, 0 to evaluate pk, or -ENOMEM.
 */
static int nat_fact(const struct ne_world *w, const struct own_tables *own, struct ne_packet *pk,
		    struct audit_reach_fact *out)
{
	struct ne_nat nat;
	char some[40], to[112];
	int ret = ne_nat(w, pk, &nat);
	bool range = strchr(nat.to, '-') != NULL;

	if (ret < 0)
		return ret;
	snprintf(some, sizeof(some), "%s", nat.some ? " for some sources" : "");
	if (nat.kind == NE_NAT_DNAT && !range && local_target(own, pk->family, nat.to))
		nat.kind = NE_NAT_LOCAL;
	if (nat.to_port)
		snprintf(to, sizeof(to), strchr(nat.to, ':') ? "[%s]:%u" : "%s:%u", nat.to, nat.to_port);
	else
		snprintf(to, sizeof(to), "%s", nat.to);
	switch (nat.kind) {
	case NE_NAT_NONE:
		return 0;
	case NE_NAT_DNAT:
		out->published = true;
		snprintf(out->nat, sizeof(out->nat), "published by DNAT to %.60s%s in table %s %.63s chain %.63s (handle %llu: %.100s)",
			 to, some, nat.family, nat.table, nat.chain, (unsigned long long)nat.handle, nat.rule);
		if (nat.some || range) {
			out->state = AUDIT_REACH_UNKNOWN;
			snprintf(out->unknown, sizeof(out->unknown), "%.250s; %s", out->nat,
				 range ? "an address range: the forward path is not evaluated"
				       : "the others reach the port itself: not evaluated together");
			return 1;
		}
		pk->dnat = true;
		pk->to_port = nat.to_port;
		pk->forward = true;
		return 0;
	case NE_NAT_UNKNOWN:
		out->state = AUDIT_REACH_UNKNOWN;
		out->published = true;
		snprintf(out->nat, sizeof(out->nat), "a nat rule on prerouting may translate it: %.300s", nat.why);
		snprintf(out->unknown, sizeof(out->unknown), "%.300s", out->nat);
		return 1;
	case NE_NAT_LOCAL:
		out->local_port = nat.to_port ? nat.to_port : pk->dport;
		if (nat.to[0])
			snprintf(out->nat, sizeof(out->nat), "DNAT to this host's %.60s%s by table %s %.63s chain %.63s (handle %llu)",
				 to, some, nat.family, nat.table, nat.chain, (unsigned long long)nat.handle);
		else
			snprintf(out->nat, sizeof(out->nat), "redirected to local port %u%s by table %s %.63s chain %.63s (handle %llu)",
				 out->local_port, some, nat.family, nat.table, nat.chain, (unsigned long long)nat.handle);
		if (nat.some) {
			/* the others reach the port itself: two paths, not evaluated together */
			out->state = AUDIT_REACH_UNKNOWN;
			out->published = true;
			snprintf(out->unknown, sizeof(out->unknown), "%.300s", out->nat);
			return 1;
		}
		pk->dnat = true;
		pk->to_port = out->local_port;
		return 0;
	}
	return 0;
}

static int reach_fact(const struct ne_world *w, const struct own_tables *own, bool udp, uint16_t port,
		      enum cidr_family f, struct audit_reach_fact *out)
{
	struct ne_packet pk = { .family = f, .udp = udp, .dport = port };
	struct ne_result res;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = nat_fact(w, own, &pk, out);
	if (ret)
		return ret < 0 ? ret : 0;
	ret = ne_eval(w, &pk, &res);
	if (ret < 0) {
		ne_result_fini(&res);
		return ret;
	}
	out->state = res.state == NE_OPEN ? AUDIT_REACH_OPEN : res.state == NE_CLOSED ? AUDIT_REACH_CLOSED
		     : res.state == NE_RESTRICTED ? AUDIT_REACH_RESTRICTED : AUDIT_REACH_UNKNOWN;
	out->partial = res.partial;
	out->nranges = res.reach.n;
	out->by_portlock = res.drop_portlock;
	if (res.drop_table[0])
		snprintf(out->by, sizeof(out->by), "table %s %s chain %s: %.200s", res.drop_family, res.drop_table,
			 res.drop_chain, res.drop_rule);
	if (res.drop_portlock) {
		const char *svc = service_of_rule(own, res.drop_table, res.drop_handle);

		snprintf(out->service, sizeof(out->service), "%s", svc ? svc : "");
	}
	snprintf(out->unknown, sizeof(out->unknown), "%s", res.unknown);
	if (out->state == AUDIT_REACH_RESTRICTED) {
		size_t o = 0;
		char one[100];

		for (size_t k = 0; k < res.reach.n; k++) {
			range_str(f, &res.reach.r[k], one, sizeof(one));
			if (o + strlen(one) + 7 >= sizeof(out->sources)) {
				snprintf(out->sources + o, sizeof(out->sources) - o, "%s...", o ? ", " : "");
				break;
			}
			o += (size_t)snprintf(out->sources + o, sizeof(out->sources) - o, "%s%s", o ? ", " : "", one);
		}
	}
	ne_result_fini(&res);
	return 0;
}

/* mark the tables portlock made: the config's, those the state dir lists, those with its marker */
static void mark_portlock(struct ne_world *w, struct nl_sock *s, const char *state_dir, const char *table)
{
	char path[4096], line[256];
	FILE *fp;

	for (size_t i = 0; i < w->n; i++) {
		struct ne_table *t = &w->t[i];
		bool exists = false;
		char *comment = NULL;
		struct diag quiet;

		if (t->family != NFPROTO_INET)
			continue;
		t->portlock = !strcmp(t->name, table);
		diag_init(&quiet);
		if (!t->portlock && nft_read_table_comment(s, t->name, &exists, &comment, &quiet) == 0 && comment)
			t->portlock = !strncmp(comment, STATESTORE_MARKER, strlen(STATESTORE_MARKER));
		free(comment);
		diag_fini(&quiet);
	}
	snprintf(path, sizeof(path), "%s/%s", state_dir ? state_dir : ".", STATESTORE_TABLES_FILE);
	fp = fopen(path, "re");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		for (size_t i = 0; i < w->n; i++)
			if (w->t[i].family == NFPROTO_INET && !strcmp(w->t[i].name, line))
				w->t[i].portlock = true;
	}
	fclose(fp);
}

/* ---- one port: reachability, listeners, probe ---- */

/*
 * The state of (ap->key): reachability per family, then the exposed
 * listeners that take it (on the local port a redirect leads to; none for a
 * family published elsewhere) and what answered the probe. x, when not
 * NULL, takes the first listener's address and the probe's details.
 */
static int fill_port(const struct ne_world *w, const struct own_tables *own, const struct listen_set *ls,
		     const size_t *tmap, const struct probe_result *results, struct audit_port *ap,
		     struct audit_port_fact *x)
{
	enum listen_proto proto = ap->key.udp ? LISTEN_PROTO_UDP : LISTEN_PROTO_TCP;

	for (int fi = 0; fi < 2; fi++)
		if (reach_fact(w, own, ap->key.udp, ap->key.port, fi ? CIDR_V6 : CIDR_V4, &ap->reach[fi]) < 0)
			return -ENOMEM;
	for (size_t m = 0; m < ls->n; m++) {
		const struct listen_entry *l = &ls->v[m];
		const struct probe_result *pr = tmap && tmap[m] ? &results[tmap[m] - 1] : NULL;
		size_t po = strlen(ap->process);
		bool takes = false;
		char who[128];

		if (l->proto != proto || !listen_is_exposed(l))
			continue;
		for (int fi = 0; fi < 2; fi++) {
			const struct audit_reach_fact *rf = &ap->reach[fi];

			if (!rf->published && l->port == (rf->local_port ? rf->local_port : ap->key.port) &&
			    listen_covers_family(l, fi ? CIDR_V6 : CIDR_V4))
				ap->listening[fi] = takes = true;
		}
		if (!takes)
			continue;
		if (x && !x->where[0]) {
			listen_addr_str(l, x->address, sizeof(x->address));
			listen_endpoint_str(l, x->where, sizeof(x->where));
		}
		owners_str(l, who, sizeof(who));
		if (who[0] && !strstr(ap->process, who) && po + strlen(who) + 2 < sizeof(ap->process))
			snprintf(ap->process + po, sizeof(ap->process) - po, "%s%s", po ? "," : "", who);
		if (pr && !ap->probed[0]) {
			snprintf(ap->probed, sizeof(ap->probed), "%s", probe_service_name(pr->service));
			snprintf(ap->software, sizeof(ap->software), "%s", pr->software);
			snprintf(ap->banner, sizeof(ap->banner), "%.*s", (int)sizeof(ap->banner) - 1, pr->evidence);
			if (x) {
				x->probed = true;
				x->service = pr->service;
				x->confidence = pr->confidence;
				snprintf(x->basis, sizeof(x->basis), "%s", pr->software_basis);
				snprintf(x->codes, sizeof(x->codes), "%s", pr->fp_codes);
				snprintf(x->evidence, sizeof(x->evidence), "%s", pr->evidence);
			}
		}
	}
	return 0;
}

/* ---- the state of requested ports (audit --report) ---- */

static int port_states(const struct ne_world *w, const struct own_tables *own, const struct listen_set *ls, const size_t *tmap,
		       const struct probe_result *results, const struct audit_opts *o, struct audit_report *r)
{
	r->ports = calloc(o->nports ? o->nports : 1, sizeof(*r->ports));
	if (!r->ports)
		return -ENOMEM;
	r->nports = o->nports;
	for (size_t i = 0; i < o->nports; i++) {
		r->ports[i].key = o->ports[i];
		if (fill_port(w, own, ls, tmap, results, &r->ports[i], NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- the audit ---- */

/* A deadline as local "YYYY-MM-DD HH:MM:SS" */
static void local_time(int64_t when, char *buf, size_t len)
{
	time_t dl = (time_t)when;
	struct tm tm;

	localtime_r(&dl, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* A --confirm transaction overdue (reported, never reverted here) or pending */
static void confirm_findings(struct pl_ctx *ctx, struct journal *j, struct audit_report *r,
			     struct diag *quiet)
{
	struct journal_rec rec = { 0 };

	if (ctx->overdue_id) {
		/* past its deadline and not reverted (txn_report_overdue()): reported, never reverted here */
		struct audit_finding *f = add(r, "overdue-confirm", AUDIT_HIGH);
		char t[32];

		local_time(ctx->overdue_deadline, t, sizeof(t));
		if (f) {
			snprintf(f->summary, sizeof(f->summary),
				 "transaction %llu was not confirmed by %s and is still in force: its auto-revert is overdue",
				 ctx->overdue_id, t);
			snprintf(f->remediation, sizeof(f->remediation),
				 "'portlock recover' reverts it now; 'portlock confirm' keeps it");
		}
	} else if (journal_pending(j, &rec, quiet) == 0) {
		struct audit_finding *f = add(r, "pending-confirm", AUDIT_LOW);
		char t[32];

		local_time(rec.confirm_deadline, t, sizeof(t));
		if (f) {
			snprintf(f->summary, sizeof(f->summary),
				 "transaction %llu awaits confirmation; it reverts at %s",
				 (unsigned long long)rec.id, t);
			snprintf(f->remediation, sizeof(f->remediation),
				 "'portlock confirm' to keep it, or 'portlock revert' now");
		}
		journal_rec_fini(&rec);
	}
}

/* The last transaction left the table in a safe state (its auto-revert failed) */
static void safe_state_finding(struct journal *j, struct audit_report *r, struct diag *quiet)
{
	struct journal_rec rec = { 0 };

	if (journal_last(j, JOURNAL_STATE_ANY & ~JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &rec,
			 quiet) != 0)
		return;
	if (rec.state == JOURNAL_STATE_APPLIED && rec.safe_state[0]) {
		struct audit_finding *f = add(r, "safe-state", AUDIT_HIGH);

		if (f) {
			snprintf(f->summary, sizeof(f->summary),
				 "transaction %llu could not be reverted at its deadline and was left in the safe state '%s'",
				 (unsigned long long)rec.id, rec.safe_state);
			snprintf(f->remediation, sizeof(f->remediation),
				 "check the table; restore its content by hand or apply a policy (portlock(8), SAFE STATE)");
		}
	}
	journal_rec_fini(&rec);
}

/* Drift: the live table differs from what the last transaction in force left (false: none). */
static bool drift_from_journal(struct journal *j, const struct nm_live *live, struct audit_report *r,
			       struct diag *quiet)
{
	struct journal_rec rec = { 0 };
	struct nm_table want;
	int ret;

	if (journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_APPLIED) |
			    JOURNAL_STATE_BIT(JOURNAL_STATE_PENDING) |
			    JOURNAL_STATE_BIT(JOURNAL_STATE_CONFIRMED), &rec, quiet) != 0)
		return false;
	ret = snapshot_load(j, &rec, true, false, &want, "journal", quiet);
	if (!ret && !strcmp(rec.table, live->t.name)) {
		struct plan pl;

		if (plan_build(&want, live, 5, &pl, quiet) == 0) {
			if (!plan_empty(&pl)) {
				struct audit_finding *f = add(r, "drift", AUDIT_MEDIUM);
				size_t o = 0;

				for (size_t i = 0; f && i < pl.nlines && o + 2 < sizeof(f->evidence); i++)
					o += (size_t)snprintf(f->evidence + o, sizeof(f->evidence) - o,
							      "%s%c %s", i ? "; " : "",
							      pl.lines[i].sign, pl.lines[i].text);
				if (f) {
					snprintf(f->summary, sizeof(f->summary),
						 "table inet %s differs from what transaction %llu left (%zu change%s)",
						 rec.table, (unsigned long long)rec.id, plan_total(&pl),
						 plan_total(&pl) == 1 ? "" : "s");
					snprintf(f->remediation, sizeof(f->remediation),
						 "'portlock plan' shows the difference; 'portlock apply' brings the table back to the policy");
				}
			}
			plan_fini(&pl);
		}
	}
	nm_table_fini(&want);
	journal_rec_fini(&rec);
	return true;
}

/* Drift with no transaction to compare with: the live table differs from the policy */
static void drift_from_policy(const struct policy *p, const struct nm_live *live, struct audit_report *r,
			      struct diag *quiet)
{
	struct nm_table want;
	struct plan pl;

	if (nft_build(p, &want) == 0) {
		if (plan_build(&want, live, 5, &pl, quiet) == 0) {
			if (!plan_empty(&pl)) {
				struct audit_finding *f = add(r, "drift", AUDIT_MEDIUM);

				if (f) {
					snprintf(f->summary, sizeof(f->summary),
						 "table inet %s differs from the policy and no journaled transaction explains it",
						 live->t.name);
					snprintf(f->remediation, sizeof(f->remediation),
						 "'portlock plan' shows the difference; 'portlock apply' fixes it");
				}
			}
			plan_fini(&pl);
		}
		nm_table_fini(&want);
	}
}

/* What the journal tells: a confirmation due, a safe state, drift (from it or the policy) */
static void drift_findings(struct pl_ctx *ctx, const struct policy *p, const struct nm_live *live,
			   struct audit_report *r)
{
	struct journal *j = NULL;
	struct diag quiet;

	diag_init(&quiet);
	if (journal_open_readonly(&j, ctx->state_dir, &quiet) == 0) {
		confirm_findings(ctx, j, r, &quiet);
		safe_state_finding(j, r, &quiet);
		if (!drift_from_journal(j, live, r, &quiet) && p && live->t.exists)
			drift_from_policy(p, live, r, &quiet);
		journal_close(j);
	}
	diag_fini(&quiet);
}

static int sev_cmp(const void *a, const void *b)
{
	const struct audit_finding *x = a, *y = b;

	if (x->sev != y->sev)
		return (int)y->sev - (int)x->sev;
	if (x->port != y->port)
		return (int)x->port - (int)y->port;
	return strcmp(x->id, y->id);
}

/* ports a NAT rule's range or set is expanded into, at most (per rule; all rules) */
#define NAT_EXPAND_RULE 256
#define NAT_EXPAND_ALL 1024

static int key_add(struct audit_port_key **v, size_t *n, size_t *cap, bool udp, uint16_t port)
{
	for (size_t k = 0; k < *n; k++)
		if ((*v)[k].port == port && (*v)[k].udp == udp)
			return 0;
	if (util_grow((void **)v, cap, *n + 1, sizeof(**v)) < 0)
		return -ENOMEM;
	(*v)[*n].port = port;
	(*v)[(*n)++].udp = udp;
	return 0;
}

/*
 * Which NAT rules' ports are judged one by one (expand[i]): a value, range
 * or set element of at most NAT_EXPAND_RULE ports, while the total stays
 * within NAT_EXPAND_ALL. The others are reported whole (nat_wide_findings()).
 * Returns the malloc'ed flags, or NULL.
 */
static bool *nat_plan(const struct ne_nat_port *np, size_t n)
{
	bool *expand = calloc(n + 1, sizeof(*expand));
	size_t used = 0;

	for (size_t i = 0; expand && i < n; i++) {
		size_t size = (size_t)np[i].hi - np[i].lo + 1;

		expand[i] = size <= NAT_EXPAND_RULE && used + size <= NAT_EXPAND_ALL;
		if (expand[i])
			used += size;
	}
	return expand;
}

/*
 * The ports to judge: the exposed listeners' and those NAT rules on
 * prerouting match (candidates: ne_nat() decides for each).
 */
static int port_keys(const struct listen_set *ls, const struct ne_nat_port *np, size_t nnp, const bool *expand,
		     struct audit_port_key **keys, size_t *nk)
{
	size_t cap = 0;
	int ret = 0;

	*keys = NULL;
	*nk = 0;
	for (size_t i = 0; i < ls->n && !ret; i++)
		if (listen_is_exposed(&ls->v[i]))
			ret = key_add(keys, nk, &cap, ls->v[i].proto == LISTEN_PROTO_UDP, ls->v[i].port);
	for (size_t i = 0; i < nnp && !ret; i++) {
		if (!expand[i])
			continue;
		for (uint32_t p = np[i].lo ? np[i].lo : 1; p <= np[i].hi && !ret; p++) {
			if (np[i].any_proto || !np[i].udp)
				ret = key_add(keys, nk, &cap, false, (uint16_t)p);
			if (!ret && (np[i].any_proto || np[i].udp))
				ret = key_add(keys, nk, &cap, true, (uint16_t)p);
		}
	}
	return ret;
}

/*
 * One fact per exposed (proto, port): a listener takes it, or a NAT rule
 * publishes it; its listeners, what answered, what the tables let through.
 */
static int gather_ports(const struct ne_world *w, const struct own_tables *own, const struct policy *p,
			const struct listen_set *ls, const struct ne_nat_port *np, size_t nnp, const bool *expand,
			const size_t *tmap, const struct probe_result *results, struct audit_port_fact **out,
			size_t *nout)
{
	struct audit_port_key *keys;
	struct audit_port_fact *v;
	size_t nk, n = 0;

	*out = NULL;
	*nout = 0;
	if (port_keys(ls, np, nnp, expand, &keys, &nk) < 0)
		return -ENOMEM;
	v = calloc(nk + 1, sizeof(*v));
	*out = v;
	if (!v) {
		free(keys);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nk; i++) {
		struct audit_port_fact *x = &v[n];
		const struct policy_service *ps;

		memset(x, 0, sizeof(*x));
		x->st.key = keys[i];
		if (fill_port(w, own, ls, tmap, results, &x->st, x) < 0) {
			free(keys);
			return -ENOMEM;
		}
		if (!x->st.listening[0] && !x->st.listening[1] && !x->st.reach[0].published &&
		    !x->st.reach[1].published)
			continue;	/* nothing takes it from the network */
		if (!x->where[0])
			snprintf(x->where, sizeof(x->where), "*:%u", keys[i].port);
		ps = p ? policy_find_port(p, keys[i].udp ? POLICY_UDP : POLICY_TCP, keys[i].port) : NULL;
		if (ps) {
			x->in_policy = true;
			snprintf(x->psvc, sizeof(x->psvc), "%s", ps->name);
			snprintf(x->pfile, sizeof(x->pfile), "%s", ps->file ? ps->file : "");
			snprintf(x->pexpect, sizeof(x->pexpect), "%s", ps->expect ? ps->expect : "");
			x->pline = ps->line;
		}
		n++;
	}
	free(keys);
	*nout = n;
	return 0;
}

/* NAT rules on prerouting over too many ports to judge one by one: not evaluated */
static void nat_wide_findings(struct audit_report *r, const struct ne_nat_port *np, size_t nnp, const bool *expand)
{
	for (size_t i = 0; i < nnp; i++) {
		struct audit_finding *f;

		if (expand[i])
			continue;
		f = add(r, "dnat-published", AUDIT_MEDIUM);
		if (!f)
			return;
		if (!np[i].any_proto)
			snprintf(f->proto, sizeof(f->proto), "%s", np[i].udp ? "udp" : "tcp");
		snprintf(f->summary, sizeof(f->summary),
			 "ports %u-%u%s%s are translated on prerouting (%.300s): not evaluated port by port",
			 np[i].lo, np[i].hi, np[i].any_proto ? "" : "/", np[i].any_proto ? "" : f->proto, np[i].rule);
		snprintf(f->remediation, sizeof(f->remediation),
			 "publish only the ports that must be published, each to the sources that need it: a service covering them with hooks = [\"input\", \"forward\"] (portlock.conf(5)), then 'portlock apply --confirm 120' and 'portlock confirm'");
	}
}

static const struct audit_port_fact *fact_of(const struct audit_port_fact *v, size_t n, const struct listen_entry *l)
{
	for (size_t k = 0; k < n; k++)
		if (v[k].st.key.port == l->port && v[k].st.key.udp == (l->proto == LISTEN_PROTO_UDP))
			return &v[k];
	return NULL;
}

/* the listeners, for --json, and how many are exposed */
static void listeners_json(struct audit_report *r, const struct listen_set *ls, const size_t *tmap,
			   const struct probe_result *results, const struct audit_port_fact *facts,
			   size_t nfacts)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct listen_entry *l = &ls->v[i];
		const struct probe_result *pr = tmap && tmap[i] ? &results[tmap[i] - 1] : NULL;
		const struct audit_port_fact *x = fact_of(facts, nfacts, l);
		bool exposed = listen_is_exposed(l);
		char where[96], b1[700];
		json_t *lj;

		listen_endpoint_str(l, where, sizeof(where));
		lj = json_pack("{s:s,s:s,s:i,s:b}", "proto", listen_proto_str(l->proto), "address",
			       where, "port", l->port, "exposed", exposed);
		owners_str(l, b1, sizeof(b1));
		json_object_set_new(lj, "process", json_string(b1));
		for (int fi = 0; x && exposed && fi < 2; fi++) {
			if (!listen_covers_family(l, fi ? CIDR_V6 : CIDR_V4))
				continue;
			json_object_set_new(lj, fi ? "ipv6" : "ipv4", json_string(reach_str(&x->st.reach[fi], b1, sizeof(b1))));
			json_object_set_new(lj, fi ? "ipv6_reach" : "ipv4_reach",
					    json_string(reach_state_str(x->st.reach[fi].state)));
		}
		if (pr) {
			json_object_set_new(lj, "service", json_string(probe_service_name(pr->service)));
			if (pr->software[0])
				json_object_set_new(lj, "software", json_string(pr->software));
		}
		json_array_append_new(r->listeners, lj);
		if (exposed)
			r->nexposed++;
	}
}

/* declared services whose ports nothing answers on */
static void expect_findings(struct audit_report *r, const struct policy *p, const struct listen_set *ls)
{
	for (size_t i = 0; i < p->nsvcs; i++) {
		const struct policy_service *ps = &p->svcs[i];

		if (!ps->expect || ps->proto != POLICY_TCP)
			continue;
		for (size_t k = 0; k < ps->nports; k++) {
			bool found = false;

			for (size_t m = 0; m < ls->n && !found; m++)
				found = ls->v[m].proto == LISTEN_PROTO_TCP && ls->v[m].port == ps->ports[k];
			if (!found) {
				struct audit_finding *f = add(r, "expect-mismatch", AUDIT_MEDIUM);

				if (f) {
					snprintf(f->proto, sizeof(f->proto), "tcp");
					f->port = ps->ports[k];
					snprintf(f->summary, sizeof(f->summary),
						 "service '%s' expects %s on port %u, but nothing listens there",
						 ps->name, ps->expect, ps->ports[k]);
					snprintf(f->remediation, sizeof(f->remediation),
						 "start the service, or remove the port from the policy (%s:%d)",
						 ps->file ? ps->file : "?", ps->line);
				}
			}
		}
	}
}

/* ports published through DNAT bypass input: is forward covered? */
static void forward_findings(struct audit_report *r, const struct nm_live *live, const char *table)
{
	if (live->t.exists && nm_table_find_chain(&live->t, "forward"))
		return;
	for (size_t i = 0; i < live->nforeign; i++) {
		const struct nm_foreign_hook *h = &live->foreign[i];

		if (h->hooknum != NF_INET_PRE_ROUTING || !h->type || strcmp(h->type, "nat"))
			continue;
		struct audit_finding *f = add(r, "forward-exposed", AUDIT_HIGH);

		if (f) {
			snprintf(f->summary, sizeof(f->summary),
				 "table %s %s has a DNAT chain (%s) but table inet %s has no forward chain: ports published to containers bypass the input rules",
				 h->family, h->table, h->chain, table);
			snprintf(f->remediation, sizeof(f->remediation),
				 "set hooks = [\"input\", \"forward\"]; in the portlock group, then 'portlock apply'");
		}
		break;
	}
}

/* r->tables: every table of the ruleset; r->foreign: other tables' base chains on portlock's hooks */
static void tables_json(struct audit_report *r, const struct ne_world *world, const struct nm_live *live)
{
	for (size_t i = 0; i < world->n; i++)
		json_array_append_new(r->tables, json_pack("{s:s,s:s,s:b}", "family",
			world->t[i].family == NFPROTO_IPV4 ? "ip" : world->t[i].family == NFPROTO_IPV6 ? "ip6" : "inet",
			"name", world->t[i].name, "portlock", world->t[i].portlock));
	r->foreign = json_array();
	for (size_t i = 0; i < live->nforeign; i++) {
		const struct nm_foreign_hook *h = &live->foreign[i];

		json_array_append_new(r->foreign, json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s}",
			"family", h->family, "table", h->table, "chain", h->chain,
			"type", h->type ? h->type : "filter", "hook", nm_hook_str(h->hooknum),
			"priority", h->prio, "policy", h->policy == NF_DROP ? "drop" : "accept"));
	}
}

/*
 * A probe target per exposed TCP listener, through its local address;
 * tmap[i]: listener i's target + 1. Returns how many.
 */
static size_t probe_targets(const struct listen_set *ls, struct probe_target *targets, size_t *tmap)
{
	size_t nt = 0;

	for (size_t i = 0; i < ls->n; i++) {
		const struct listen_entry *l = &ls->v[i];
		enum cidr_family fam;
		u128 addr;
		char abuf[64];

		if (l->proto != LISTEN_PROTO_TCP || !listen_is_exposed(l))
			continue;
		listen_connect_addr(l, &fam, &addr);
		cidr_addr_str(fam, addr, abuf, sizeof(abuf));
		snprintf(targets[nt].host, sizeof(targets[nt].host), "%s", abuf);
		targets[nt].port = l->port;
		snprintf(targets[nt].spec, sizeof(targets[nt].spec), fam == CIDR_V6 ? "[%s]:%u" : "%s:%u",
			 abuf, l->port);
		tmap[i] = nt + 1;
		nt++;
	}
	return nt;
}

/* Probe the targets into results; *fp guesses software if it loads (*have_fp). Returns an exit code. */
static int probe_targets_run(struct pl_ctx *ctx, const struct audit_opts *o,
			     const struct probe_target *targets, size_t nt, struct probe_result *results,
			     struct fp_db *fp, bool *have_fp)
{
	bool explicit_path;
	char *path = fingerprint_path(o->fingerprints, &explicit_path);
	struct probe_opts po = { 0 };

	if (path && fingerprint_db_load(fp, path, &ctx->diag) == 0)
		*have_fp = true;
	else
		diag_warn(&ctx->diag, NULL, "no fingerprint data: SMTP software is not guessed");
	free(path);
	po.fp = *have_fp ? fp : NULL;
	if (probe_run(targets, nt, &po, results, &ctx->diag) < 0)
		return diag_exit_code(&ctx->diag);
	return PL_EXIT_OK;
}

/*
 * Into own: the live tables of portlock's other tables (their rules' facts;
 * one that cannot be read is left out), and room for one more. Returns an
 * exit code.
 */
static int read_own_tables(struct pl_ctx *ctx, struct nl_sock *s, const struct ne_world *world,
			   const char *table, struct own_tables *own, size_t *owncap)
{
	for (size_t i = 0; i < world->n; i++) {
		struct nm_live *one;
		struct diag quiet;

		if (!world->t[i].portlock || !strcmp(world->t[i].name, table))
			continue;
		if (util_grow((void **)&own->v, owncap, own->n + 1, sizeof(*own->v)) < 0) {
			diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "audit");
			return PL_EXIT_INTERNAL;
		}
		one = &own->v[own->n];
		memset(one, 0, sizeof(*one));
		diag_init(&quiet);
		if (nft_read(s, world->t[i].name, false, NULL, one, &quiet) == 0)
			own->n++;
		else
			nm_live_fini(one);
		diag_fini(&quiet);
	}
	if (util_grow((void **)&own->v, owncap, own->n + 1, sizeof(*own->v)) < 0) {
		diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "audit");
		return PL_EXIT_INTERNAL;
	}
	return PL_EXIT_OK;
}

/* r's findings: port facts, the policy's expectations, the forward path, drift; worst first */
static void all_findings(struct pl_ctx *ctx, const struct policy *p, const struct audit_opts *o,
			 const struct listen_set *ls, const struct nm_live *live, const char *table,
			 const struct audit_port_fact *facts, size_t nfacts,
			 const struct ne_nat_port *natp, size_t nnatp, const bool *natx, struct audit_report *r)
{
	struct audit_facts in = { .v = facts, .n = nfacts, .have_policy = p != NULL,
				  .config_path = ctx->config_path };

	audit_derive(&in, r);

	if (p && o->probe)
		expect_findings(r, p, ls);

	nat_wide_findings(r, natp, nnatp, natx);
	if (p)
		forward_findings(r, live, table);
	drift_findings(ctx, p, live, r);
	if (r->n)
		qsort(r->f, r->n, sizeof(*r->f), sev_cmp);
}

int audit_run(struct pl_ctx *ctx, const struct policy *p, const struct audit_opts *o,
	      struct audit_report *r)
{
	struct listen_set ls;
	struct nm_live live = { 0 };
	struct ne_world world = { 0 };
	struct own_tables own = { 0 };
	struct report_hosts local;
	size_t owncap = 0, nread = SIZE_MAX;
	struct nl_sock *s = NULL;
	struct probe_target *targets = NULL;
	struct probe_result *results = NULL;
	struct audit_port_fact *facts = NULL;
	struct ne_nat_port *natp = NULL;
	bool *natx = NULL;	/* natp[i]'s ports judged one by one */
	size_t *tmap = NULL, nt = 0, nfacts = 0, nnatp = 0;
	struct fp_db fp;
	bool have_fp = false;
	const char *table = p ? p->table : POLICY_DEFAULT_TABLE;
	struct nft_read_cache cache;
	int rc = PL_EXIT_OK;

	livecache_load(ctx->state_dir, table, &cache);
	report_hosts_init(&local);
	memset(r, 0, sizeof(*r));
	memset(&fp, 0, sizeof(fp));
	snprintf(r->table, sizeof(r->table), "%s", table);
	r->listeners = json_array();
	r->tables = json_array();
	listen_set_init(&ls);
	if (listen_dump(&ls, LISTEN_F_ALL, &ctx->diag) < 0 || nl_open(&s, &ctx->diag) < 0 ||
	    nft_read(s, table, false, &cache, &live, &ctx->diag) < 0 ||
	    ne_world_load(s, &world, &ctx->diag) < 0) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	mark_portlock(&world, s, ctx->state_dir, table);
	{
		struct diag quiet;

		diag_init(&quiet);
		if (report_hosts_local(&local, &quiet) == 0)
			own.local = &local;
		diag_fini(&quiet);
	}
	r->generation = live.genid;
	r->table_exists = live.t.exists;
	tables_json(r, &world, &live);
	r->nlisteners = ls.n;

	/* probe every exposed TCP listener through its local address */
	if (o->probe) {
		targets = calloc(ls.n + 1, sizeof(*targets));
		tmap = calloc(ls.n + 1, sizeof(*tmap));
		results = calloc(ls.n + 1, sizeof(*results));
		if (!targets || !tmap || !results) {
			diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "audit");
			rc = PL_EXIT_INTERNAL;
			goto out;
		}
		nt = probe_targets(&ls, targets, tmap);
		if (nt) {
			rc = probe_targets_run(ctx, o, targets, nt, results, &fp, &have_fp);
			if (rc)
				goto out;
		}
	}

	/* the facts of portlock's other tables' rules (the config's is `live`) */
	rc = read_own_tables(ctx, s, &world, table, &own, &owncap);
	if (rc)
		goto out;
	nread = own.n;
	own.v[own.n++] = live;	/* borrowed: not released through own */
	if (ne_nat_ports(&world, &natp, &nnatp) < 0 || !(natx = nat_plan(natp, nnatp)) ||
	    gather_ports(&world, &own, p, &ls, natp, nnatp, natx, tmap, results, &facts, &nfacts) < 0 ||
	    (o->nports && port_states(&world, &own, &ls, tmap, results, o, r) < 0)) {
		diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "audit");
		rc = PL_EXIT_INTERNAL;
		goto out;
	}

	listeners_json(r, &ls, tmap, results, facts, nfacts);

	all_findings(ctx, p, o, &ls, &live, table, facts, nfacts, natp, nnatp, natx, r);
out:
	if (have_fp)
		fingerprint_db_fini(&fp);
	free(facts);
	free(natp);
	free(natx);
	report_hosts_fini(&local);
	for (size_t i = 0; i < (nread == SIZE_MAX ? own.n : nread); i++)	/* not `live`, released below */
		nm_live_fini(&own.v[i]);
	free(own.v);
	free(targets);
	free(results);
	free(tmap);
	ne_world_fini(&world);
	nm_live_fini(&live);
	livecache_fini(&cache);
	nl_close(s);
	listen_set_fini(&ls);
	return rc;
}

void audit_report_fini(struct audit_report *r)
{
	free(r->f);
	free(r->ports);
	json_decref(r->listeners);
	json_decref(r->foreign);
	json_decref(r->tables);
	memset(r, 0, sizeof(*r));
}

void audit_print_text(const struct audit_report *r, FILE *f)
{
	size_t count[AUDIT_SEV_MAX] = { 0 };

	for (size_t i = 0; i < r->n; i++) {
		const struct audit_finding *x = &r->f[i];

		count[x->sev]++;
		fprintf(f, "%-6s  %s", audit_sev_str(x->sev), x->id);
		if (x->port && strchr(x->address, ':'))
			fprintf(f, "  %s [%s]:%u", x->proto, x->address, x->port);
		else if (x->port)
			fprintf(f, "  %s %s:%u", x->proto, x->address[0] ? x->address : "*", x->port);
		if (x->process[0])
			fprintf(f, "  %s", x->process);
		fprintf(f, "\n        %s\n", x->summary);
		if (x->evidence[0])
			fprintf(f, "        evidence: %s\n", x->evidence);
		if (x->closes[0])
			fprintf(f, "        was:      %s\n", x->closes);
		for (unsigned c = 0; c < AUDIT_NCHECKS; c++)
			if (x->checks & (1u << c))
				fprintf(f, "        scanner:  %s (%s)%s\n", checks[c].name, checks[c].id,
					x->closes[0] ? ": closed" : "");
		if (x->remediation[0])
			fprintf(f, "        fix:      %s\n", x->remediation);
		fprintf(f, "\n");
	}
	if (r->listeners && r->nexposed) {
		size_t i;
		json_t *l;

		fprintf(f, "exposed listeners, who reaches them:\n");
		json_array_foreach(r->listeners, i, l) {
			const char *v4 = json_string_value(json_object_get(l, "ipv4"));
			const char *v6 = json_string_value(json_object_get(l, "ipv6"));

			if (!json_is_true(json_object_get(l, "exposed")))
				continue;
			fprintf(f, "  %s %s", json_string_value(json_object_get(l, "proto")),
				json_string_value(json_object_get(l, "address")));
			if (v4)
				fprintf(f, "  IPv4: %s", v4);
			if (v6)
				fprintf(f, "%sIPv6: %s", v4 ? "; " : "  ", v6);
			fprintf(f, "\n");
		}
		fprintf(f, "\n");
	}
	if (r->foreign && json_array_size(r->foreign)) {
		size_t i;
		json_t *h;

		fprintf(f, "other tables with base chains on prerouting/input/forward (their rules are evaluated with portlock's: prerouting and input, forward for published ports):\n");
		json_array_foreach(r->foreign, i, h)
			fprintf(f, "  table %s %s chain %s: %s hook %s priority %lld policy %s\n",
				json_string_value(json_object_get(h, "family")),
				json_string_value(json_object_get(h, "table")),
				json_string_value(json_object_get(h, "chain")),
				json_string_value(json_object_get(h, "type")),
				json_string_value(json_object_get(h, "hook")),
				(long long)json_integer_value(json_object_get(h, "priority")),
				json_string_value(json_object_get(h, "policy")));
		fprintf(f, "\n");
	}
	fprintf(f, "%zu finding%s: %zu high, %zu medium, %zu low, %zu info; %zu listeners, %zu exposed; table inet %s %s (generation %u)\n",
		r->n, r->n == 1 ? "" : "s", count[AUDIT_HIGH], count[AUDIT_MEDIUM], count[AUDIT_LOW],
		count[AUDIT_INFO], r->nlisteners, r->nexposed, r->table,
		r->table_exists ? "present" : "absent", r->generation);
}

json_t *audit_json(const struct audit_report *r)
{
	json_t *o = json_object(), *fa = json_array(), *sum = json_object();
	size_t count[AUDIT_SEV_MAX] = { 0 };

	for (size_t i = 0; i < r->n; i++) {
		const struct audit_finding *x = &r->f[i];
		json_t *fo = json_object();

		count[x->sev]++;
		json_object_set_new(fo, "id", json_string(x->id));
		json_object_set_new(fo, "severity", json_string(audit_sev_str(x->sev)));
		json_object_set_new(fo, "proto", x->proto[0] ? json_string(x->proto) : json_null());
		json_object_set_new(fo, "address", x->address[0] ? json_string(x->address) : json_null());
		json_object_set_new(fo, "port", x->port ? json_integer(x->port) : json_null());
		json_object_set_new(fo, "process", x->process[0] ? json_string(x->process) : json_null());
		json_object_set_new(fo, "summary", json_string(x->summary));
		json_object_set_new(fo, "evidence", json_string(x->evidence));
		{
			json_t *ca = json_array();

			for (unsigned c = 0; c < AUDIT_NCHECKS; c++)
				if (x->checks & (1u << c))
					json_array_append_new(ca, json_string(checks[c].id));
			json_object_set_new(fo, "checks", ca);
		}
		json_object_set_new(fo, "closes", x->closes[0] ? json_string(x->closes) : json_null());
		json_object_set_new(fo, "remediation", json_string(x->remediation));
		json_array_append_new(fa, fo);
	}
	for (int s = 0; s < AUDIT_SEV_MAX; s++)
		json_object_set_new(sum, sev_names[s], json_integer((json_int_t)count[s]));
	json_object_set_new(o, "schema", json_string("portlock-audit/1"));
	json_object_set_new(o, "time", json_integer((json_int_t)time(NULL)));
	json_object_set_new(o, "table", json_string(r->table));
	json_object_set_new(o, "table_exists", json_boolean(r->table_exists));
	json_object_set_new(o, "generation", json_integer(r->generation));
	json_object_set_new(o, "summary", sum);
	json_object_set_new(o, "listeners", json_incref(r->listeners));
	json_object_set_new(o, "other_tables", r->foreign ? json_incref(r->foreign) : json_array());
	json_object_set_new(o, "tables_evaluated", r->tables ? json_incref(r->tables) : json_array());
	json_object_set_new(o, "findings", fa);
	return o;
}
