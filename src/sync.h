/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The apply engine shared by `plan` and `apply` (and later revert): read the
 * live table consistently, build the desired one, diff, and send one batch
 * guarded by the generation it was planned against. On ERESTART (another
 * process committed anything in this network namespace since the read) it
 * re-reads, re-plans and retries, a bounded number of times.
 */
#ifndef PORTLOCK_SYNC_H
#define PORTLOCK_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft_model.h"
#include "nft_plan.h"

struct policy;
struct diag;
struct nl_sock;

#define SYNC_MAX_ATTEMPTS 5

enum sync_mode {
	SYNC_PLAN,	/* compute only */
	SYNC_CHECK,	/* compute and let the kernel validate (no BATCH_END) */
	SYNC_APPLY,	/* compute and commit */
};

struct sync_result;

struct sync_opts {
	enum sync_mode mode;
	size_t max_elem_lines;	/* per set in the displayed plan; 0 = all */
	bool capture_prior;	/* keep the raw dump of the table before the change */
	/*
	 * Journal hooks (may be NULL). before_send runs after each plan that
	 * is about to be committed (r->live holds the prior table); a non-zero
	 * return stops without sending. after_send runs after each send with
	 * its result (-ERESTART when the engine will re-plan and retry).
	 */
	int (*before_send)(void *arg, struct sync_result *r);
	void (*after_send)(void *arg, struct sync_result *r, int ret);
	void *arg;
	/* test hook: pause this many ms right before sending (kill -9 tests) */
	unsigned pause_ms;
	/* ranges known at a generation (snapshot.h), used by the first read; may be NULL */
	struct nft_read_cache *cache;
};

struct sync_result {
	struct nm_live live;	/* the table as read for the final plan */
	struct nm_table want;	/* sync_run(): the desired table built from the policy */
	struct plan plan;
	uint32_t gen_before;	/* generation the final plan was made at */
	uint32_t gen_after;	/* after a commit (0 otherwise) */
	size_t nmsgs, bytes;	/* batch sent */
	uint64_t kernel_us;	/* time the kernel took over it (inside sendmsg) */
	int attempts;
	bool committed;
	bool end_acked;
};

/*
 * Run the engine for policy p. Returns 0 on success (including "no changes"),
 * or -errno with the reason in d: DIAG_NETLINK when the kernel refused
 * (nothing changed), DIAG_CONFLICT when the ruleset kept changing.
 * Release r with sync_result_fini() in every case.
 */
int sync_run(const struct policy *p, const struct sync_opts *o, struct sync_result *r,
	     struct diag *d);

/* The same towards an explicit desired table (revert: a saved table, or none). */
int sync_to(struct nm_table *want, const struct sync_opts *o, struct sync_result *r,
	    struct diag *d);

/*
 * Read the table (with its raw messages) into *out, for the journal's
 * "result" after a commit. want (may be NULL): the table the commit made,
 * committed at generation gen_after: when the kernel is still at it, the
 * range sets are taken from want (their ranges are moved out) instead of
 * being dumped again. Returns 0 or -errno.
 */
int sync_read(const char *table, struct nm_table *want, uint32_t gen_after, struct nm_live *out,
	      struct diag *d);

/* Generation that follows g (the kernel skips 0). */
static inline uint32_t sync_next_gen(uint32_t g)
{
	return g + 1 ? g + 1 : 1;
}

/*
 * Can we talk to nf_tables at all (CAP_NET_ADMIN, module present)? One
 * generation read; errors are recorded with their hint. Used before taking
 * the journal lock so that an unprivileged run says what it lacks.
 */
int sync_check_access(struct diag *d);
void sync_result_fini(struct sync_result *r);

#endif
