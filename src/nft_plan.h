/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Diff of the live table against the desired one, as (1) a change list shown
 * to people in nft syntax with +/- signs and (2) one netlink batch that makes
 * the kernel match the desired table. The table and its base chains stay in
 * place; only what differs is sent: elements added/removed, rules deleted by
 * handle or inserted at their position, sets and chains added or removed.
 *
 * Batch order (plan_build()'s numbered steps): table; (1) rule deletions in
 * kept chains, and the rules of chains that go or change; (2) element
 * deletions in kept sets; (3) sets that go or change; (4) chains that go or
 * change; (5) new or changed chains; (6) new or changed sets with their
 * elements, then element additions to kept sets; (7) rule additions.
 * Deletions come first so that a new interval may overlap one being removed
 * and a set or chain is unreferenced before it is deleted.
 */
#ifndef PORTLOCK_NFT_PLAN_H
#define PORTLOCK_NFT_PLAN_H

#include <stdbool.h>
#include <stddef.h>

struct nm_table;
struct nm_live;
struct nl_batch;
struct diag;

struct plan_line {
	char sign;	/* '+', '-', '~' (changed in place) */
	char *text;
};

struct plan_counts {
	size_t tables, tables_del, chains_add, chains_del, sets_add, sets_del;
	size_t elems_add, elems_del, rules_add, rules_del;
};

struct plan {
	struct nl_batch *batch;
	struct plan_line *lines;
	size_t nlines, cap;
	size_t elided;		/* element lines counted but not kept */
	size_t max_elem_lines;	/* per set and direction; 0 = all */
	struct plan_counts n;
	char *table;
};

/*
 * Before plan_build() when either side may have lazy sets (nm_set_load()):
 * sets whose digests match stay unloaded, every other range set that the
 * diff compares is loaded. Returns 0; -ESTALE when a lazy set of the live
 * side cannot be loaded (read the table again without the cache); or -errno
 * recorded in d (a desired set that cannot be loaded is DIAG_CONFLICT).
 */
int plan_resolve(struct nm_table *want, struct nm_live *live, struct diag *d);

/*
 * Compute the plan that turns live (may be a table that does not exist) into
 * want. max_elem_lines bounds how many element lines per set are kept for
 * display (all are in the batch). Returns 0 or -ENOMEM (recorded in d).
 */
int plan_build(const struct nm_table *want, const struct nm_live *live, size_t max_elem_lines,
	       struct plan *pl, struct diag *d);
void plan_fini(struct plan *pl);

/* Messages in the plan's batch. */
size_t nl_batch_count_of(const struct plan *pl);

/* True when nothing needs to change. */
bool plan_empty(const struct plan *pl);

/* Total of changed objects, for summaries. */
size_t plan_total(const struct plan *pl);

#endif
