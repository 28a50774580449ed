/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Journaled transactions: apply, revert, confirm, and recovery of expired
 * confirmation deadlines and interrupted transactions. Glue between the
 * apply engine (sync.c) and the journal (journal_*.c); holds the state-dir lock
 * for the whole transaction.
 *
 * apply:   lock; recover; plan; [journal: prepare prior, with the deadline of
 *          --confirm S] -> batch -> [with --confirm: fork a detached watcher
 *          (setsid) that reverts at the deadline, retrying until done] ->
 *          [read back; commit record applied|pending]; prune; unlock; only
 *          then output (a closed or blocked stdout cannot delay the revert).
 *          When the journal cannot be written, the policy is still applied
 *          if the table is absent (or with --no-journal-ok), exit 7.
 * revert:  the saved prior content of transaction N becomes the desired
 *          table; the same diff engine restores it (base chains stay in
 *          place, so there is no window without hooks); the revert is a
 *          transaction of its own; N and every later transaction still in
 *          force are marked reverted. --dry-run: the diff only (no lock, no
 *          recovery, nothing changes); --confirm S: the revert is pending
 *          like apply's and is itself auto-reverted at the deadline;
 *          reverting an auto-revert (which re-installs the change nobody
 *          confirmed) is refused without --force.
 * recover: a pending record past its deadline is reverted (kind
 *          auto-revert); a record left "prepared" by a crash is resolved by
 *          comparing the live table with its saved prior content (one with
 *          a deadline is pending with it); a prior that cannot be restored
 *          (damaged) leaves the table as it is, the safe state, recorded.
 */
#ifndef PORTLOCK_TXN_H
#define PORTLOCK_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "sync.h"

struct impact;

struct pl_ctx;
struct policy;

/*
 * What a transaction did, for the command layer to render (render_txn.h):
 * the engine writes nothing to stdout or stderr itself.
 */
enum txn_outcome {
	TXN_NONE,		/* nothing to show: ctx->diag says why */
	TXN_IN_SYNC,		/* apply: nothing to change */
	TXN_APPLIED,		/* apply: the batch is in force */
	TXN_RESTORED,		/* apply --boot: the journal's state was put back instead */
	TXN_APPLY_REFUSED,	/* apply: this policy was just auto-reverted */
	TXN_REVERT_REFUSED,	/* revert of an auto-revert without --force */
	TXN_REVERT_DRY_RUN,	/* revert --dry-run: the diff it would make */
	TXN_REVERTED,		/* revert (also an auto-revert at a deadline): committed or already so */
	TXN_CONFIRMED,		/* confirm */
};

struct txn_result {
	enum txn_outcome outcome;
	struct sync_result sync;	/* the plan, generations and batch figures (batch, live freed) */
	char table[JOURNAL_TABLE_MAX];
	const char *source;		/* apply: the policy's file (the policy's string) */
	uint64_t id;			/* the transaction recorded (0: none) */
	bool journaled;			/* apply: a journal record was written */
	int64_t confirm_deadline;	/* 0: none */
	/* revert: the transaction reverted; TXN_RESTORED: the one restored; refusals: the one applied */
	uint64_t target_id;
	uint64_t auto_id;		/* refusals: the auto-revert */
	bool changed;			/* revert, TXN_RESTORED: the kernel was changed */
	bool unmarked;			/* revert: a record could not be marked reverted */
	bool show_plan;			/* revert: the plan goes with the text (not for auto-reverts) */
	bool dry_run;
	char why[256];			/* refusals: the reason */
	/*
	 * apply, revert --dry-run: what the change cuts (impact.h), judged
	 * against the policy impact_policy; NULL when nothing was judged. apply:
	 * borrowed from txn_opts.impact and the policy applied; revert --dry-run:
	 * the restored table's, owned (own_*, freed by txn_result_fini()).
	 */
	const struct impact *impact;
	const struct policy *impact_policy;
	struct impact *own_impact;
	struct policy *own_policy;
};

void txn_result_fini(struct txn_result *res);

/*
 * Results that happen on the way (an expired deadline's auto-revert, done by
 * the recovery every writing command runs first) go to this function, set
 * once by main(); NULL: they are not shown.
 */
void txn_set_render(void (*fn)(struct pl_ctx *ctx, const struct txn_result *res));

struct txn_opts {
	unsigned confirm_s;	/* --confirm S: auto-revert after S seconds */
	/*
	 * apply: over the SSH lockout guard, a pending transaction, or a policy
	 * that was just auto-reverted; revert: also an auto-revert (which
	 * re-installs the change nobody confirmed)
	 */
	bool force;
	bool dry_run;		/* revert --dry-run: the diff it would make; nothing changes */
	/*
	 * revert without an ID: the newest transaction in force of this table
	 * (the current config's); NULL: of any table
	 */
	const char *table;
	/*
	 * revert: the current config's policy (NULL when it cannot be loaded),
	 * for the SSH lockout guard: when the table a revert restores is what
	 * this policy enforces (the transaction before the target applied it),
	 * the sessions it would cut are judged as for apply
	 */
	const struct policy *policy;
	bool exit_code;		/* revert --dry-run --exit-code: 1 when it would change something */
	/*
	 * apply --no-journal-ok: when the journal cannot be written (state dir
	 * full or read-only), apply without a record even though the table
	 * exists (without it, only a table absent from the kernel is enforced
	 * that way). Exit status 7 either way. Never with confirm_s.
	 */
	bool no_journal_ok;
	/*
	 * apply --boot (the boot unit; implies no_journal_ok): the policy is
	 * enforced over the SSH lockout guard (a warning), and where the
	 * journal says another state is in force for the table (a pending
	 * transaction, or an auto-revert of this very policy) that state is
	 * put back instead: an absent table is never left absent.
	 */
	bool boot;
	/*
	 * Out (may be NULL): set when nothing was applied because a set of the
	 * compiled policy refers to saved content that is missing or damaged
	 * (the compile cache's objects): compile without the cache and retry.
	 */
	bool *cache_damaged;
	/*
	 * apply, out (may be NULL): the impact of the change (impact.h),
	 * judged right before the batch is sent, against the table then in
	 * force; impact->judged tells whether it was (not for an empty plan).
	 * Without force, a change that cuts an established connection of a
	 * critical service is refused (PL_EXIT_CONFLICT, nothing applied),
	 * also when the connections cannot be listed and a service is critical.
	 */
	struct impact *impact;
};

/*
 * Exit codes (enum pl_exit); errors are in ctx->diag; what was done in *res
 * (zeroed first; release with txn_result_fini()).
 */
int txn_apply(struct pl_ctx *ctx, const struct policy *p, const struct txn_opts *o,
	      struct txn_result *res);
/* Revert transaction id (0: the newest still in force); o may be NULL (defaults). */
int txn_revert(struct pl_ctx *ctx, uint64_t id, const struct txn_opts *o, struct txn_result *res);
int txn_confirm(struct pl_ctx *ctx, struct txn_result *res);
/*
 * Was the policy whose SHA-256 is policy_hash applied and then auto-reverted
 * because nobody confirmed it, with the restored table still in force (the
 * auto-revert is the newest transaction)? Read-only: no lock, no recovery.
 * When it was, returns true and describes it in msg (naming both
 * transactions; may be NULL); *applied_id and *auto_id (may be NULL) get their
 * ids.
 */
bool txn_auto_reverted(struct pl_ctx *ctx, const char *policy_hash, char *msg, size_t len,
		       uint64_t *applied_id, uint64_t *auto_id);
/*
 * Honour an expired confirmation deadline and resolve interrupted records.
 * cheap: first look without the lock and return at once when there is
 * nothing to do (used before every command). Returns an exit code.
 */
int txn_recover(struct pl_ctx *ctx, bool cheap);

/*
 * For read commands (show, plan, audit, log): look at the journal without the
 * lock and without changing anything; report an overdue transaction (past its
 * deadline, or unconfirmed across a reboot), an interrupted one, and one left
 * in the safe state, on stderr (diag_alert()). Sets ctx->overdue_id/overdue_deadline.
 */
void txn_report_overdue(struct pl_ctx *ctx);

#endif
