/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Counters people can graph (`show --stats`, `metrics`): per service and
 * family, what the rules' counters say (read from nft_read()'s facts, never
 * from rule text) and what the seen and temporary sets hold; the journal's
 * last transaction and whether a confirm is pending.
 */
#ifndef PORTLOCK_STATS_H
#define PORTLOCK_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct diag;
struct nl_sock;
struct nm_live;

enum stats_what {
	STATS_ALLOWED,		/* accepted from the allowlist (ALLOW, SHARD, else ALLOW_MAP) */
	STATS_TEMP,		/* accepted from the temporary set (allow --for) */
	STATS_REFUSED,		/* dropped or rejected (enforce mode) */
	STATS_OBSERVED,		/* outside the allowlist, accepted (observe mode) */
	STATS_WHAT_MAX,
};

struct stats_count {
	bool present;		/* a rule with a counter of this kind exists */
	uint64_t packets, bytes;
};

struct stats_top {
	enum cidr_family family;
	u128 addr;
	uint64_t packets, bytes;
	int64_t last_seen;
	uint16_t port;		/* its busiest port */
	size_t nports;
};

/* One service and family (family 0: rules for both families at once). */
struct stats_row {
	char *service;
	int family;		/* 4, 6 or 0 */
	struct stats_count c[STATS_WHAT_MAX];
	bool seen_set, tmp_set;	/* the set exists */
	size_t seen_entries;	/* source . port elements */
	size_t seen_sources;	/* distinct sources */
	size_t grants;		/* temporary-access ranges */
	struct stats_top *top;	/* the sources with most packets, most first */
	size_t ntop;
};

struct stats {
	struct stats_row *rows;	/* by service (first seen in the table), then family 4, 6 */
	size_t nrows, crows;
};

/*
 * Fill st (zeroed, or seeded by stats_add_service()) from the table l (read by nft_read()) and the seen and temporary
 * sets of every service that has rules in it (socket s), keeping the top_n
 * sources with most packets per row. 0 or -errno recorded in d.
 */
int stats_collect(struct nl_sock *s, const struct nm_live *l, size_t top_n, struct stats *st,
		  struct diag *d);
void stats_fini(struct stats *st);
/* Rows for a service (both families) before stats_collect(): one of the policy without rules yet. */
int stats_add_service(struct stats *st, const char *service);

const char *stats_what_str(enum stats_what w);

/* The journal of state_dir, read-only: the newest record of table, a pending confirm. */
struct stats_journal {
	bool has_last;
	uint64_t last_id;
	int64_t last_time;
	const char *last_kind;	/* static string */
	bool pending;
	uint64_t pending_id;
	int64_t pending_deadline;
};
/* 0, or -errno (warnings only; a missing journal is empty). */
int stats_journal(const char *state_dir, const char *table, struct stats_journal *sj, struct diag *d);

#endif
