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
#include "nft_model.h"
#include "nft_plan.h"
#include "nft_read.h"
#include "nl.h"
#include "policy.h"
#include "probe.h"
#include "snapshot.h"
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

/* The scanner checks each finding corresponds to (names first; plugin ids as published). */
#define CHK_SMPP "Nessus 'SMPP Server Detection' (31132); nmap has no SMPP probe (softmatch on generic_nack only)"
#define CHK_SMTP "Nessus 'SMTP Server Detection' (10263); nmap -sV smtp"
#define CHK_SMTP_NS "Nessus 'SMTP Server Non-standard Port Detection' (18391); nmap NSE smtp-strangeport"
#define CHK_SMTP_FP "Nessus 'smtpscan SMTP Fingerprinting' (11421); nmap -sV version detection"

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

/* ---- reachability from the live table ---- */

enum reach {
	REACH_OPEN,		/* no rule of ours restricts it */
	REACH_RESTRICTED,	/* restricted to some prefixes */
	REACH_CLOSED,		/* restricted to no prefix at all */
	REACH_ALL,		/* "restricted" to a prefix that covers everything */
};

struct reachability {
	enum reach r;
	char service[64];	/* live set name prefix */
	uint64_t nranges;
};

/* Is s the allowlist set <svc>_<fam> of a service, or one of its shards <svc>_<fam>_*? */
static bool allow_set_of(const struct nm_set *s, const char *svc, const char *fam)
{
	size_t sl = strlen(svc), fl = strlen(fam);

	if (s->kind != NM_SET_V4 && s->kind != NM_SET_V6)
		return false;
	if (strncmp(s->name, svc, sl) || s->name[sl] != '_' || strncmp(s->name + sl + 1, fam, fl))
		return false;
	return s->name[sl + 1 + fl] == '\0' || s->name[sl + 1 + fl] == '_';
}

/* Sum the ranges of <svc>_<fam> or of its shards <svc>_<fam>_*; detect 0/0. */
static uint64_t live_ranges(const struct nm_table *t, const char *svc, const char *fam,
			    bool *all)
{
	uint64_t n = 0;

	*all = false;
	for (size_t i = 0; i < t->nsets; i++) {
		const struct nm_set *s = &t->sets[i];

		if (!allow_set_of(s, svc, fam))
			continue;
		n += s->ranges.n;
		for (size_t k = 0; k < s->ranges.n; k++)
			if (s->ranges.r[k].lo == 0 &&
			    s->ranges.r[k].hi == cidr_max(s->key_len == 4 ? CIDR_V4 : CIDR_V6))
				*all = true;
	}
	return n;
}

/*
 * Is (proto, port) restricted for family f by a rule of chain in the live
 * table? Our rules read "<l4> dport @S_ports ... ip saddr != @S_v4 ... drop"
 * (or the sharded form with "meta nfproto ipv4 ... drop").
 */
static struct reachability live_reach(const struct nm_table *t, const char *chain,
				      enum listen_proto proto, uint16_t port, enum cidr_family f)
{
	struct reachability out = { .r = REACH_OPEN };
	const char *famtok = f == CIDR_V4 ? "v4" : "v6";
	const char *l4 = proto == LISTEN_PROTO_TCP ? "tcp" : "udp";

	if (!t->exists || !nm_table_find_chain(t, chain))
		return out;
	for (size_t i = 0; i < t->nsets; i++) {
		const struct nm_set *s = &t->sets[i];
		size_t len = strlen(s->name);
		bool member = false;
		char svc[64], ref[80], fam1[100], fam2[40], dep[32];

		if (s->kind != NM_SET_PORTS || len < 7 || strcmp(s->name + len - 6, "_ports"))
			continue;
		for (size_t k = 0; k < s->nports; k++)
			member |= s->ports[k] == port;
		if (!member)
			continue;
		snprintf(svc, sizeof(svc), "%.*s", (int)(len - 6), s->name);
		snprintf(ref, sizeof(ref), "@%s ", s->name);
		snprintf(fam1, sizeof(fam1), "saddr != @%s_%s ", svc, famtok);
		snprintf(fam2, sizeof(fam2), "meta nfproto %s ", f == CIDR_V4 ? "ipv4" : "ipv6");
		snprintf(dep, sizeof(dep), "%s ", l4);
		for (size_t k = 0; k < t->nrules; k++) {
			const struct nm_rule *r = &t->rules[k];
			const char *txt = r->text;
			size_t tl = strlen(txt);
			bool blocks = (tl >= 4 && !strcmp(txt + tl - 4, "drop")) || strstr(txt, " reject");

			if (strcmp(r->chain, chain) || !blocks || !strstr(txt, ref))
				continue;
			if (!strstr(txt, dep) && !strstr(txt, proto == LISTEN_PROTO_TCP ? "l4proto tcp" : "l4proto udp"))
				continue;
			if (!strstr(txt, fam1) && !strstr(txt, fam2))
				continue;
			{
				bool all;

				out.nranges = live_ranges(t, svc, famtok, &all);
				out.r = all ? REACH_ALL : out.nranges ? REACH_RESTRICTED : REACH_CLOSED;
				snprintf(out.service, sizeof(out.service), "%s", svc);
				return out;
			}
		}
	}
	return out;
}

static bool open_reach(enum reach r)
{
	return r == REACH_OPEN || r == REACH_ALL;
}

static const char *reach_str(const struct reachability *x, char *buf, size_t len)
{
	switch (x->r) {
	case REACH_OPEN: return "open to every source";
	case REACH_ALL: snprintf(buf, len, "allowlist of service '%s' covers every address", x->service); return buf;
	case REACH_CLOSED: snprintf(buf, len, "closed to every remote source (service '%s')", x->service); return buf;
	case REACH_RESTRICTED:
		snprintf(buf, len, "restricted to %llu range%s (service '%s')",
			 (unsigned long long)x->nranges, x->nranges == 1 ? "" : "s", x->service);
		return buf;
	}
	return "?";
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

static void fill_where(struct audit_finding *f, const struct listen_entry *l)
{
	snprintf(f->proto, sizeof(f->proto), "%s", listen_proto_str(l->proto));
	listen_addr_str(l, f->address, sizeof(f->address));
	f->port = l->port;
	owners_str(l, f->process, sizeof(f->process));
}

static void fix_restrict(char *buf, size_t len, const struct policy *p, const char *svc,
			 const char *expect, enum listen_proto proto, uint16_t port)
{
	const struct policy_service *s = p ? policy_find_port(p, proto == LISTEN_PROTO_TCP ? POLICY_TCP
											   : POLICY_UDP, port)
					     : NULL;

	if (s)
		snprintf(buf, len,
			 "the policy already restricts it (service '%s', %s:%d): run 'portlock apply --confirm 120', check access, then 'portlock confirm'",
			 s->name, s->file ? s->file : "?", s->line);
	else
		snprintf(buf, len,
			 "add to the policy: services += ( { name = \"%s_%u\";%s%s%s ports = [%u];%s allow = [\"<trusted prefixes>\"]; } ); then 'portlock apply --confirm 120' and 'portlock confirm'",
			 svc, port, expect ? " expect = \"" : "", expect ? expect : "", expect ? "\";" : "",
			 port, proto == LISTEN_PROTO_UDP ? " proto = \"udp\";" : "");
}

/* ---- the state of requested ports (audit --report) ---- */

/* "a/n, b/m, ..." of <svc>_<fam> or its shards, as much as fits */
static void live_sources(const struct nm_table *t, const char *svc, const char *fam,
			 enum cidr_family f, char *buf, size_t len)
{
	char one[100];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < t->nsets; i++) {
		const struct nm_set *s = &t->sets[i];

		if (!allow_set_of(s, svc, fam))
			continue;
		for (size_t k = 0; k < s->ranges.n; k++) {
			range_str(f, &s->ranges.r[k], one, sizeof(one));
			if (o + strlen(one) + 7 >= len) {
				snprintf(buf + o, len - o, "%s...", o ? ", " : "");
				return;
			}
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", one);
		}
	}
}

static void port_states(const struct nm_table *t, const struct listen_set *ls,
			const size_t *tmap, const struct probe_result *results,
			const struct audit_opts *o, struct audit_report *r)
{
	r->ports = calloc(o->nports ? o->nports : 1, sizeof(*r->ports));
	if (!r->ports)
		return;
	r->nports = o->nports;
	for (size_t i = 0; i < o->nports; i++) {
		struct audit_port *ap = &r->ports[i];
		enum listen_proto proto = o->ports[i].udp ? LISTEN_PROTO_UDP : LISTEN_PROTO_TCP;
		size_t po = 0;

		ap->key = o->ports[i];
		for (int fi = 0; fi < 2; fi++) {
			enum cidr_family f = fi ? CIDR_V6 : CIDR_V4;
			struct reachability x = live_reach(t, "input", proto, ap->key.port, f);

			ap->reach[fi] = x.r == REACH_RESTRICTED ? AUDIT_REACH_RESTRICTED
				       : x.r == REACH_CLOSED   ? AUDIT_REACH_CLOSED
				       : x.r == REACH_ALL      ? AUDIT_REACH_ALL
							       : AUDIT_REACH_OPEN;
			ap->nranges[fi] = x.nranges;
			if (x.service[0]) {
				snprintf(ap->service, sizeof(ap->service), "%s", x.service);
				if (x.r == REACH_RESTRICTED)
					live_sources(t, x.service, fi ? "v6" : "v4", f, ap->sources[fi],
						     sizeof(ap->sources[fi]));
			}
		}
		for (size_t m = 0; m < ls->n; m++) {
			const struct listen_entry *l = &ls->v[m];
			const struct probe_result *pr;
			char who[128];

			if (l->proto != proto || l->port != ap->key.port || !listen_is_exposed(l))
				continue;
			ap->listening[0] |= listen_covers_family(l, CIDR_V4);
			ap->listening[1] |= listen_covers_family(l, CIDR_V6);
			owners_str(l, who, sizeof(who));
			if (who[0] && !strstr(ap->process, who) && po + strlen(who) + 2 < sizeof(ap->process))
				po += (size_t)snprintf(ap->process + po, sizeof(ap->process) - po, "%s%s",
						       po ? "," : "", who);
			pr = tmap && tmap[m] ? &results[tmap[m] - 1] : NULL;
			if (pr && !ap->probed[0]) {
				snprintf(ap->probed, sizeof(ap->probed), "%s", probe_service_name(pr->service));
				snprintf(ap->software, sizeof(ap->software), "%s", pr->software);
				snprintf(ap->banner, sizeof(ap->banner), "%.*s", (int)sizeof(ap->banner) - 1, pr->evidence);
			}
		}
	}
}

/* ---- the audit ---- */


static void drift_findings(struct pl_ctx *ctx, const struct policy *p, const struct nm_live *live,
			   struct audit_report *r)
{
	struct journal *j = NULL;
	struct journal_rec rec = { 0 };
	struct diag quiet;

	diag_init(&quiet);
	if (journal_open_readonly(&j, ctx->state_dir, &quiet) == 0) {
		if (ctx->overdue_id) {
			/* past its deadline and not reverted (txn_report_overdue()): reported, never reverted here */
			struct audit_finding *f = add(r, "overdue-confirm", AUDIT_HIGH);
			char t[32];
			time_t dl = (time_t)ctx->overdue_deadline;
			struct tm tm;

			localtime_r(&dl, &tm);
			strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
			if (f) {
				snprintf(f->summary, sizeof(f->summary),
					 "transaction %llu was not confirmed by %s and is still in force: its auto-revert is overdue",
					 ctx->overdue_id, t);
				snprintf(f->remediation, sizeof(f->remediation),
					 "'portlock recover' reverts it now; 'portlock confirm' keeps it");
			}
		} else if (journal_pending(j, &rec, &quiet) == 0) {
			struct audit_finding *f = add(r, "pending-confirm", AUDIT_LOW);
			char t[32];
			time_t dl = (time_t)rec.confirm_deadline;
			struct tm tm;

			localtime_r(&dl, &tm);
			strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
			if (f) {
				snprintf(f->summary, sizeof(f->summary),
					 "transaction %llu awaits confirmation; it reverts at %s",
					 (unsigned long long)rec.id, t);
				snprintf(f->remediation, sizeof(f->remediation),
					 "'portlock confirm' to keep it, or 'portlock revert' now");
			}
			journal_rec_fini(&rec);
		}
		if (journal_last(j, JOURNAL_STATE_ANY & ~JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &rec,
				 &quiet) == 0) {
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
		if (journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_APPLIED) |
				    JOURNAL_STATE_BIT(JOURNAL_STATE_PENDING) |
				    JOURNAL_STATE_BIT(JOURNAL_STATE_CONFIRMED), &rec, &quiet) == 0) {
			struct nm_table want;
			int ret;

			ret = snapshot_load(j, &rec, true, false, &want, "journal", &quiet);
			if (!ret && !strcmp(rec.table, live->t.name)) {
				struct plan pl;

				if (plan_build(&want, live, 5, &pl, &quiet) == 0) {
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
		} else if (p && live->t.exists) {
			/* no transaction to compare with: compare with the policy */
			struct nm_table want;
			struct plan pl;

			if (nft_build(p, &want) == 0) {
				if (plan_build(&want, live, 5, &pl, &quiet) == 0) {
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

static bool is_smtp(uint32_t svc)
{
	return svc == PROBE_SVC_SMTP || svc == PROBE_SVC_SMTPS;
}

static bool is_smpp(uint32_t svc)
{
	return svc == PROBE_SVC_SMPP || svc == PROBE_SVC_SMPP_TLS;
}

static bool expect_ok(const char *expect, uint32_t svc)
{
	if (!strncmp(expect, "smtp", 4))
		return is_smtp(svc);
	if (!strncmp(expect, "smpp", 4))
		return is_smpp(svc);
	return true;
}

int audit_run(struct pl_ctx *ctx, const struct policy *p, const struct audit_opts *o,
	      struct audit_report *r)
{
	struct listen_set ls;
	struct nm_live live = { 0 };
	struct nl_sock *s = NULL;
	struct probe_target *targets = NULL;
	struct probe_result *results = NULL;
	size_t *tmap = NULL, nt = 0;
	struct fp_db fp;
	bool have_fp = false;
	const char *table = p ? p->table : POLICY_DEFAULT_TABLE;
	struct nft_read_cache cache;
	int rc = PL_EXIT_OK;

	livecache_load(ctx->state_dir, table, &cache);
	memset(r, 0, sizeof(*r));
	memset(&fp, 0, sizeof(fp));
	snprintf(r->table, sizeof(r->table), "%s", table);
	r->listeners = json_array();
	listen_set_init(&ls);
	if (listen_dump(&ls, LISTEN_F_ALL, &ctx->diag) < 0 || nl_open(&s, &ctx->diag) < 0 ||
	    nft_read(s, table, false, &cache, &live, &ctx->diag) < 0) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	r->generation = live.genid;
	r->table_exists = live.t.exists;
	r->foreign = json_array();
	for (size_t i = 0; i < live.nforeign; i++) {
		const struct nm_foreign_hook *h = &live.foreign[i];

		json_array_append_new(r->foreign, json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s}",
			"family", h->family, "table", h->table, "chain", h->chain,
			"type", h->type ? h->type : "filter", "hook", nm_hook_str(h->hooknum),
			"priority", h->prio, "policy", h->policy == NF_DROP ? "drop" : "accept"));
	}
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
		for (size_t i = 0; i < ls.n; i++) {
			const struct listen_entry *l = &ls.v[i];
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
		if (nt) {
			bool explicit_path;
			char *path = fingerprint_path(o->fingerprints, &explicit_path);
			struct probe_opts po = { 0 };

			if (path && fingerprint_db_load(&fp, path, &ctx->diag) == 0)
				have_fp = true;
			else
				diag_warn(&ctx->diag, NULL, "no fingerprint data: SMTP software is not guessed");
			free(path);
			po.fp = have_fp ? &fp : NULL;
			if (probe_run(targets, nt, &po, results, &ctx->diag) < 0) {
				rc = diag_exit_code(&ctx->diag);
				goto out;
			}
		}
	}

	for (size_t i = 0; i < ls.n; i++) {
		const struct listen_entry *l = &ls.v[i];
		const struct probe_result *pr = tmap && tmap[i] ? &results[tmap[i] - 1] : NULL;
		struct reachability rv4 = { .r = REACH_OPEN }, rv6 = { .r = REACH_OPEN };
		bool v4 = listen_covers_family(l, CIDR_V4), v6 = listen_covers_family(l, CIDR_V6);
		bool exposed = listen_is_exposed(l), any_open = false, all_restricted = true;
		const struct policy_service *ps = p ? policy_find_port(p, l->proto == LISTEN_PROTO_TCP
									   ? POLICY_TCP : POLICY_UDP, l->port)
						    : NULL;
		char where[96], b1[200], b2[200];
		json_t *lj;

		listen_endpoint_str(l, where, sizeof(where));
		if (v4)
			rv4 = live_reach(&live.t, "input", l->proto, l->port, CIDR_V4);
		if (v6)
			rv6 = live_reach(&live.t, "input", l->proto, l->port, CIDR_V6);
		if (v4) {
			any_open |= open_reach(rv4.r);
			all_restricted &= !open_reach(rv4.r);
		}
		if (v6) {
			any_open |= open_reach(rv6.r);
			all_restricted &= !open_reach(rv6.r);
		}
		lj = json_pack("{s:s,s:s,s:i,s:b,s:s}", "proto", listen_proto_str(l->proto), "address",
			       where, "port", l->port, "exposed", exposed, "process", "");
		owners_str(l, b1, sizeof(b1));
		json_object_set_new(lj, "process", json_string(b1));
		if (v4)
			json_object_set_new(lj, "ipv4", json_string(reach_str(&rv4, b1, sizeof(b1))));
		if (v6)
			json_object_set_new(lj, "ipv6", json_string(reach_str(&rv6, b1, sizeof(b1))));
		if (pr) {
			json_object_set_new(lj, "service", json_string(probe_service_name(pr->service)));
			if (pr->software[0])
				json_object_set_new(lj, "software", json_string(pr->software));
		}
		json_array_append_new(r->listeners, lj);
		if (!exposed)
			continue;
		r->nexposed++;

		/* one family restricted, the other open: judged per port over all its listeners */
		{
			bool cov4 = false, cov6 = false, seen = false;

			for (size_t m = 0; m < ls.n; m++) {
				const struct listen_entry *o2 = &ls.v[m];

				if (o2->proto != l->proto || o2->port != l->port || !listen_is_exposed(o2))
					continue;
				if (m < i) {
					seen = true;	/* reported with the first listener of the port */
					break;
				}
				cov4 |= listen_covers_family(o2, CIDR_V4);
				cov6 |= listen_covers_family(o2, CIDR_V6);
			}
			if (!seen && cov4 && cov6) {
				struct reachability p4 = live_reach(&live.t, "input", l->proto, l->port, CIDR_V4);
				struct reachability p6 = live_reach(&live.t, "input", l->proto, l->port, CIDR_V6);

				if (open_reach(p4.r) != open_reach(p6.r)) {
					struct audit_finding *f = add(r, "unrestricted-v6", AUDIT_HIGH);
					bool v6open = open_reach(p6.r);

					if (f) {
						fill_where(f, l);
						snprintf(f->summary, sizeof(f->summary),
							 "port %u/%s is %s for %s but %s for %s", l->port,
							 listen_proto_str(l->proto),
							 reach_str(v6open ? &p4 : &p6, b1, sizeof(b1)),
							 v6open ? "IPv4" : "IPv6",
							 reach_str(v6open ? &p6 : &p4, b2, sizeof(b2)),
							 v6open ? "IPv6" : "IPv4");
						fix_restrict(f->remediation, sizeof(f->remediation), p, "port", NULL,
							     l->proto, l->port);
					}
				}
			}
		}
		if (!pr)
			goto expect;
		if (is_smpp(pr->service) && any_open) {
			/* SMPP reachable only from its allowlist is what the policy wants: no finding */
			struct audit_finding *f = add(r, "smpp-exposed", AUDIT_HIGH);

			if (f) {
				fill_where(f, l);
				snprintf(f->summary, sizeof(f->summary), "%s answers on %s; %s%s%s",
					 pr->service == PROBE_SVC_SMPP_TLS ? "SMPP over TLS" : "SMPP", where,
					 v4 ? "IPv4 " : "", v4 ? reach_str(&rv4, b1, sizeof(b1)) : "",
					 v6 ? (v4 ? ", IPv6 " : "IPv6 ") : "");
				if (v6)
					snprintf(f->summary + strlen(f->summary), sizeof(f->summary) - strlen(f->summary),
						 "%s", reach_str(&rv6, b2, sizeof(b2)));
				snprintf(f->evidence, sizeof(f->evidence), "%s", pr->evidence);
				snprintf(f->checks, sizeof(f->checks), "%s", CHK_SMPP);
				fix_restrict(f->remediation, sizeof(f->remediation), p, "smpp", "smpp",
					     l->proto, l->port);
			}
		} else if (is_smtp(pr->service)) {
			bool standard = l->port == 25 || l->port == 465 || l->port == 587;
			struct audit_finding *f;

			if (standard)
				f = add(r, "smtp-standard-port", all_restricted ? AUDIT_INFO : AUDIT_MEDIUM);
			else
				f = add(r, "smtp-nonstandard-port", AUDIT_HIGH);
			if (f) {
				fill_where(f, l);
				snprintf(f->summary, sizeof(f->summary), "%s on %s port %s; %s",
					 pr->service == PROBE_SVC_SMTPS ? "SMTP over TLS" : "SMTP",
					 standard ? "the well-known" : "a non-standard (possible backdoor relay)",
					 where,
					 all_restricted ? "restricted" : "reachable from sources outside any allowlist");
				snprintf(f->evidence, sizeof(f->evidence), "%s", pr->evidence);
				snprintf(f->checks, sizeof(f->checks), "%s", standard ? CHK_SMTP : CHK_SMTP_NS);
				if (standard && all_restricted)
					snprintf(f->remediation, sizeof(f->remediation),
						 "none needed: restricted to the relays in the policy");
				else if (standard)
					fix_restrict(f->remediation, sizeof(f->remediation), p, "smtp", "smtp",
						     l->proto, l->port);
				else if (all_restricted && ps)
					snprintf(f->remediation, sizeof(f->remediation),
						 "the port is already restricted by service '%s' (%s:%d); find out why %s runs an SMTP server on %u and stop it if it is not needed",
						 ps->name, ps->file ? ps->file : "?", ps->line,
						 f->process[0] ? f->process : "a process", l->port);
				else
					snprintf(f->remediation, sizeof(f->remediation),
						 "find out why %s runs an SMTP server on %u; stop it, or close the port: services += ( { name = \"stray_%u\"; ports = [%u]; allow = []; } ); then 'portlock apply'",
						 f->process[0] ? f->process : "a process", l->port, l->port, l->port);
			}
			if (pr->software[0]) {
				f = add(r, "smtp-fingerprint", any_open ? AUDIT_MEDIUM : AUDIT_LOW);
				if (f) {
					fill_where(f, l);
					snprintf(f->summary, sizeof(f->summary),
						 "the SMTP software on %s is identifiable: %s (confidence %u%%)", where,
						 pr->software, pr->confidence);
					snprintf(f->evidence, sizeof(f->evidence), "basis: %s; codes %s",
						 pr->software_basis, pr->fp_codes[0] ? pr->fp_codes : "-");
					snprintf(f->checks, sizeof(f->checks), "%s", CHK_SMTP_FP);
					snprintf(f->remediation, sizeof(f->remediation),
						 "hiding the banner does not defeat behavioural fingerprints; restrict the port to its relays (source filtering)");
				}
			}
		}
expect:
		if (ps && ps->expect && pr && !expect_ok(ps->expect, pr->service)) {
			struct audit_finding *f = add(r, "expect-mismatch", AUDIT_MEDIUM);

			if (f) {
				fill_where(f, l);
				snprintf(f->summary, sizeof(f->summary),
					 "service '%s' expects %s on port %u, but %s answers", ps->name, ps->expect,
					 l->port, probe_service_name(pr->service));
				snprintf(f->evidence, sizeof(f->evidence), "%s", pr->evidence);
				snprintf(f->remediation, sizeof(f->remediation),
					 "check what listens on %u (process %s) and fix the service or the policy (%s:%d)",
					 l->port, f->process[0] ? f->process : "?", ps->file ? ps->file : "?",
					 ps->line);
			}
		}
	}

	/* declared services whose ports nothing answers on */
	for (size_t i = 0; p && o->probe && i < p->nsvcs; i++) {
		const struct policy_service *ps = &p->svcs[i];

		if (!ps->expect || ps->proto != POLICY_TCP)
			continue;
		for (size_t k = 0; k < ps->nports; k++) {
			bool found = false;

			for (size_t m = 0; m < ls.n && !found; m++)
				found = ls.v[m].proto == LISTEN_PROTO_TCP && ls.v[m].port == ps->ports[k];
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

	/* ports published through DNAT bypass input: is forward covered? */
	if (p && (!live.t.exists || !nm_table_find_chain(&live.t, "forward"))) {
		for (size_t i = 0; i < live.nforeign; i++) {
			const struct nm_foreign_hook *h = &live.foreign[i];

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
	drift_findings(ctx, p, &live, r);
	if (o->nports)
		port_states(&live.t, &ls, tmap, results, o, r);
	if (r->n)
		qsort(r->f, r->n, sizeof(*r->f), sev_cmp);
out:
	if (have_fp)
		fingerprint_db_fini(&fp);
	free(targets);
	free(results);
	free(tmap);
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
		if (x->checks[0])
			fprintf(f, "        scanner:  %s\n", x->checks);
		if (x->remediation[0])
			fprintf(f, "        fix:      %s\n", x->remediation);
		fprintf(f, "\n");
	}
	if (r->foreign && json_array_size(r->foreign)) {
		size_t i;
		json_t *h;

		fprintf(f, "other tables with base chains on prerouting/input/forward (their drops may restrict further; portlock does not evaluate them):\n");
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
		json_object_set_new(fo, "checks", json_string(x->checks));
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
	json_object_set_new(o, "findings", fa);
	return o;
}
