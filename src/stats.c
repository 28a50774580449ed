// SPDX-License-Identifier: GPL-2.0-or-later
/* Counters from the rules' facts and the seen sets (stats.h). */
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "journal.h"
#include "nft_model.h"
#include "seen.h"
#include "util.h"

const char *stats_what_str(enum stats_what w)
{
	static const char *const names[] = {
		[STATS_ALLOWED] = "allowed",
		[STATS_TEMP] = "temporary",
		[STATS_REFUSED] = "refused",
		[STATS_OBSERVED] = "observed",
	};

	return (unsigned)w < STATS_WHAT_MAX ? names[w] : "?";
}

static struct stats_row *row(struct stats *st, const char *service, int family)
{
	struct stats_row *r;

	for (size_t i = 0; i < st->nrows; i++)
		if (!strcmp(st->rows[i].service, service) && st->rows[i].family == family)
			return &st->rows[i];
	if (util_grow((void **)&st->rows, &st->crows, st->nrows + 1, sizeof(*st->rows)) < 0)
		return NULL;
	r = &st->rows[st->nrows];
	memset(r, 0, sizeof(*r));
	r->service = strdup(service);
	if (!r->service)
		return NULL;
	r->family = family;
	st->nrows++;
	return r;
}

static void add(struct stats_count *c, const struct nm_fact *f)
{
	c->present = true;
	c->packets += f->packets;
	c->bytes += f->bytes;
}

static int top_cmp(const void *a, const void *b)
{
	const struct seen_source *x = a, *y = b;

	if (x->packets != y->packets)
		return x->packets > y->packets ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return 0;
}

/* The seen and temporary sets of one row's service and family. */
static int read_sets(struct nl_sock *s, const char *table, struct stats_row *r, size_t top_n,
		     struct diag *d)
{
	enum cidr_family f = r->family == 4 ? CIDR_V4 : CIDR_V6;
	struct seen_entry *e = NULL;
	struct seen_source *g = NULL;
	size_t n = 0, ng = 0;
	int ret;

	ret = seen_read_tmp(s, table, r->service, f, &e, &n, d);
	if (ret && ret != -ENOENT)
		return ret;
	r->tmp_set = !ret;
	r->grants = n;
	free(e);
	e = NULL;
	ret = seen_read(s, table, r->service, f, &e, &n, d);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	r->seen_set = true;
	r->seen_entries = n;
	seen_sort(e, n);
	if (seen_group(e, n, &g, &ng) < 0) {
		free(e);
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "stats");
	}
	r->seen_sources = ng;
	if (ng > 1)
		qsort(g, ng, sizeof(*g), top_cmp);
	r->ntop = ng < top_n ? ng : top_n;
	if (r->ntop) {
		r->top = calloc(r->ntop, sizeof(*r->top));
		if (!r->top) {
			free(e);
			free(g);
			return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "stats");
		}
	}
	for (size_t i = 0; i < r->ntop; i++) {
		struct stats_top *t = &r->top[i];
		uint64_t best = 0;

		t->family = g[i].family;
		t->addr = g[i].addr;
		t->packets = g[i].packets;
		t->bytes = g[i].bytes;
		t->last_seen = g[i].last_seen;
		t->nports = g[i].nports;
		t->port = e[g[i].first].port;
		for (size_t k = 0; k < g[i].nports; k++)
			if (e[g[i].first + k].packets > best) {
				best = e[g[i].first + k].packets;
				t->port = e[g[i].first + k].port;
			}
	}
	free(e);
	free(g);
	return 0;
}

int stats_collect(struct nl_sock *s, const struct nm_live *l, size_t top_n, struct stats *st,
		  struct diag *d)
{
	const struct nm_table *t = &l->t;
	bool shard_counted = false;

	for (size_t i = 0; i < t->nrules; i++)
		if (t->rules[i].fact.role == NM_ROLE_SHARD && t->rules[i].fact.has_counter)
			shard_counted = true;
	for (size_t i = 0; i < t->nrules; i++) {
		const struct nm_fact *f = &t->rules[i].fact;
		struct stats_row *r;
		int what = -1;

		if (!f->service)
			continue;
		/* a row per family of every service with rules, counters or not */
		if (!row(st, f->service, 4) || !row(st, f->service, 6))
			return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "stats");
		if (!f->has_counter)
			continue;
		switch (f->role) {
		case NM_ROLE_ALLOW: what = STATS_ALLOWED; break;
		case NM_ROLE_SHARD: what = STATS_ALLOWED; break;
		/* the jump to the shards counts the same packets as the shards' accepts */
		case NM_ROLE_ALLOW_MAP: what = shard_counted ? -1 : STATS_ALLOWED; break;
		case NM_ROLE_TEMP: what = STATS_TEMP; break;
		case NM_ROLE_REFUSE: what = STATS_REFUSED; break;
		case NM_ROLE_OBSERVE: what = STATS_OBSERVED; break;
		default: break;
		}
		if (what < 0)
			continue;
		r = row(st, f->service, f->has_family ? (f->family == CIDR_V4 ? 4 : 6) : 0);
		if (!r)
			return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "stats");
		add(&r->c[what], f);
	}
	if (!t->exists)
		return 0;
	for (size_t i = 0; i < st->nrows; i++) {
		int ret;

		if (!st->rows[i].family)
			continue;
		ret = read_sets(s, t->name, &st->rows[i], top_n, d);
		if (ret)
			return ret;
	}
	return 0;
}

int stats_add_service(struct stats *st, const char *service)
{
	return row(st, service, 4) && row(st, service, 6) ? 0 : -ENOMEM;
}

void stats_fini(struct stats *st)
{
	for (size_t i = 0; i < st->nrows; i++) {
		free(st->rows[i].service);
		free(st->rows[i].top);
	}
	free(st->rows);
	memset(st, 0, sizeof(*st));
}

int stats_journal(const char *state_dir, const char *table, struct stats_journal *sj, struct diag *d)
{
	struct journal *j = NULL;
	struct journal_rec *recs = NULL;
	size_t n = 0;
	int ret;

	memset(sj, 0, sizeof(*sj));
	ret = journal_open_readonly(&j, state_dir, d);
	if (ret)
		return ret;
	ret = journal_list(j, 0, &recs, &n, d);
	for (size_t i = 0; !ret && i < n; i++) {
		if (strcmp(recs[i].table, table) || recs[i].state == JOURNAL_STATE_PREPARED)
			continue;
		sj->has_last = true;
		sj->last_id = recs[i].id;
		sj->last_time = recs[i].time;
		sj->last_kind = journal_kind_str(recs[i].kind);
		if (recs[i].state == JOURNAL_STATE_PENDING) {
			sj->pending = true;
			sj->pending_id = recs[i].id;
			sj->pending_deadline = recs[i].confirm_deadline;
		}
	}
	journal_recs_free(recs, n);
	journal_close(j);
	return ret;
}
