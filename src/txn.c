// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Journaled transactions (see txn.h). The only place that combines the
 * journal and the kernel; the commands call it.
 */
#include "txn.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cidr.h"
#include "cmd.h"
#include "diag.h"
#include "impact.h"
#include "journal.h"
#include "nft_model.h"
#include "nft_read.h"
#include "nl.h"
#include "policy.h"
#include "render.h"
#include "render_txn.h"
#include "snapshot.h"
#include "sshguard.h"
#include "statestore.h"
#include "sync.h"
#include "testhook.h"

/* ---- journal hooks around the batch ---- */

struct hook {
	struct journal *j;	/* NULL: the journal cannot be written in this run */
	struct journal_rec rec;
	bool prepared;
	enum journal_kind kind;
	uint64_t reverts_id;
	const char *policy_hash;
	const char *table;
	const char *state_dir;
	struct diag *d;
	unsigned confirm_s;	/* apply --confirm: the deadline goes into the prepared record */
	/*
	 * When the record cannot be written: send the batch anyway (the
	 * auto-revert at a deadline; apply --no-journal-ok), or do so only
	 * when the table is absent from the kernel (apply: every port is open,
	 * enforcement beats the journal). Never with a deadline to arm.
	 */
	bool skip_journal_ok;
	bool skip_journal_if_absent;
	bool unjournaled;	/* this batch went without a record */
	enum diag_class jcls;	/* !j: the class of the journal's failure (an untrusted dir: config) */
	char why[256];		/* why the journal could not be written */
	const struct policy *policy;	/* apply: judged for its impact (o->impact) */
	const struct txn_opts *o;
};

static int impact_guard(struct hook *h, struct sync_result *r);

/* The first error (else warning) of d, for a one-line reason. */
static const char *diag_first(const struct diag *d)
{
	for (size_t i = 0; i < d->nrecs; i++)
		if (d->recs[i].lvl == DIAG_LVL_ERROR)
			return d->recs[i].msg;
	return d->nrecs ? d->recs[0].msg : "unknown error";
}

static int hook_before(void *arg, struct sync_result *r)
{
	struct hook *h = arg;
	struct snapshot c;
	struct diag q;
	int ret;

	h->unjournaled = false;
	ret = impact_guard(h, r);
	if (ret)
		return ret;
	diag_init(&q);
	if (!h->j) {
		ret = -EROFS;
		snprintf(h->why, sizeof(h->why), "the journal in '%s' cannot be opened for writing",
			 h->state_dir);
		goto fallback;
	}
	ret = journal_begin(h->j, &h->rec, &q);
	if (ret)
		goto fallback;
	h->rec.kind = h->kind;
	h->rec.reverts_id = h->reverts_id;
	snprintf(h->rec.policy_sha256, sizeof(h->rec.policy_sha256), "%s",
		 h->policy_hash ? h->policy_hash : "");
	snprintf(h->rec.table, sizeof(h->rec.table), "%s", h->table);
	h->rec.gen_before = r->gen_before;
	h->rec.added = r->plan.n.tables + r->plan.n.chains_add + r->plan.n.sets_add +
		       r->plan.n.elems_add + r->plan.n.rules_add;
	h->rec.removed = r->plan.n.tables_del + r->plan.n.chains_del + r->plan.n.sets_del + r->plan.n.elems_del +
			 r->plan.n.rules_del;
	h->rec.prior_absent = !r->live.t.exists;
	/*
	 * Armed before the batch: a crash, a full disk or a closed stdout
	 * after the commit cannot lose the deadline (recover_locked() reads
	 * it from the prepared record).
	 */
	h->rec.confirm_deadline = h->confirm_s ? (int64_t)time(NULL) + h->confirm_s : 0;
	ret = snapshot_from_live(&r->live, journal_objects_path(h->j), &c);
	if (ret)
		ret = diag_err(&q, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	if (!ret)
		ret = journal_prepare(h->j, &h->rec, &c.jc, &q);
	snapshot_fini(&c);
	if (ret) {
		journal_rec_fini(&h->rec);
		goto fallback;
	}
	h->prepared = true;
	diag_move(h->d, &q, false);
	diag_fini(&q);
	return 0;
fallback:
	if (q.nrecs)
		snprintf(h->why, sizeof(h->why), "%s", diag_first(&q));
	if (ret != -ENOMEM && !h->confirm_s &&
	    (h->skip_journal_ok || (h->skip_journal_if_absent && !r->live.t.exists))) {
		/* enforcement does not depend on the journal: go on without a record */
		h->unjournaled = true;
		diag_fini(&q);
		return 0;
	}
	diag_move(h->d, &q, false);
	diag_fini(&q);
	if (!h->j)
		ret = diag_err(h->d, h->jcls, NULL, 0, "%s", h->why);
	if (h->confirm_s)
		diag_note(h->d, NULL, "the deadline of --confirm cannot be armed without a journal record");
	else if (h->skip_journal_if_absent)
		diag_note(h->d, NULL,
			  "table inet %s exists: 'apply --no-journal-ok' changes it without a journal record",
			  h->table);
	return ret;
}

static void hook_after(void *arg, struct sync_result *r, int ret)
{
	struct hook *h = arg;

	(void)r;
	if (ret && h->prepared) {
		/* refused or to be re-planned: nothing was applied */
		journal_abort(h->j, &h->rec, h->d);
		journal_rec_fini(&h->rec);
		h->prepared = false;
	}
}

/* the batch is journaled through h: hook_before() prepares, hook_after() aborts */
static void sync_journaled(struct sync_opts *so, struct hook *h)
{
	so->before_send = hook_before;
	so->after_send = hook_after;
	so->arg = h;
}

/* the live table is read through the state dir's live note (livecache_load()) */
static void sync_cached(struct sync_opts *so, struct nft_read_cache *cache, const char *state_dir,
			const char *table)
{
	livecache_load(state_dir, table, cache);
	cache->lazy_ok = true;
	so->cache = cache;
}

/*
 * After a commit: read the table back and complete the record. want: the
 * table the batch made (its range sets are taken instead of dumped when the
 * generation shows that nothing else committed since; they are moved out).
 * The deadline, if any, is already in h->rec (hook_before()).
 */
static int hook_commit(struct hook *h, struct sync_result *r, struct nm_table *want,
		       enum journal_state st)
{
	struct nm_live after = { 0 };
	struct snapshot c;
	bool only_ours = r->gen_after && r->gen_after == sync_next_gen(r->gen_before);
	int ret;

	ret = sync_read(h->table, only_ours ? want : NULL, r->gen_after, &after, h->d);
	util_mark("txn: result read back");
	if (ret) {
		nm_live_fini(&after);
		return ret;	/* the record stays "prepared": recover resolves it */
	}
	h->rec.gen_after = r->gen_after ? r->gen_after : after.genid;
	h->rec.state = st;
	h->rec.result_absent = !after.t.exists;
	ret = snapshot_from_live(&after, journal_objects_path(h->j), &c);
	if (ret)
		ret = diag_err(h->d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	if (!ret)
		ret = journal_commit(h->j, &h->rec, NULL, &c.jc, h->d);
	util_mark("txn: journal committed");
	snapshot_fini(&c);
	if (!ret && after.t.exists)
		livecache_store(h->state_dir, h->table, after.genid, after.t.handle, h->rec.id);
	nm_live_fini(&after);
	return ret;
}

/*
 * apply: what the change would cut (impact.h), against the table in force
 * right now; a cut connection of a critical service refuses the change
 * without --force, like the SSH guard (exit 5).
 */
static int impact_guard(struct hook *h, struct sync_result *r)
{
	const struct txn_opts *o = h->o;
	const struct policy *p = h->policy;
	bool critical = false;
	struct diag q;
	char msg[1024];
	int ret;

	if (!o || !o->impact || !p)
		return 0;
	impact_fini(o->impact);	/* a re-plan judges again */
	for (size_t i = 0; i < p->nsvcs; i++)
		critical |= p->svcs[i].critical;
	diag_init(&q);
	util_mark("txn: impact start");
	ret = impact_run(p, &r->live.t, o->impact, &q);
	util_mark("txn: impact judged");
	if (ret) {
		const char *why = q.nrecs ? q.recs[0].msg : "unknown error";

		if (critical && !o->force && !o->boot) {
			diag_err(h->d, DIAG_CONFLICT, NULL, 0,
				 "cannot list the established connections (%s), and a service is critical: refusing to apply (use --force)",
				 why);
			diag_fini(&q);
			return -EPERM;
		}
		diag_warn(h->d, NULL, "cannot list the established connections: %s", why);
		diag_fini(&q);
		return 0;
	}
	diag_fini(&q);
	if (!impact_critical_msg(p, o->impact, msg, sizeof(msg)))
		return 0;
	if (o->boot) {
		diag_warn(h->d, NULL, "%s; enforcing the policy anyway (--boot)", msg);
	} else if (!o->force) {
		diag_err(h->d, DIAG_CONFLICT, NULL, 0,
			 "%s; refusing to apply (add the sources to the allowlist, grant them 'portlock allow', or use --force)",
			 msg);
		return -EPERM;
	} else {
		diag_warn(h->d, NULL, "%s; applying anyway (--force)", msg);
	}
	return 0;
}

/* ---- syslog: what the auto-revert did, also when nobody watches stderr ---- */

static void slog(int prio, const char *fmt, ...) __printf(2, 3);
static void slog(int prio, const char *fmt, ...)
{
	static bool opened;
	va_list ap;

	if (!opened) {
		openlog("portlock", LOG_PID, LOG_DAEMON);
		opened = true;
	}
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
	/* test hook: a copy of every message in a file (there may be no syslog daemon) */
	va_start(ap, fmt);
	testhook_syslog(prio, fmt, ap);
	va_end(ap);
}

/* ---- helpers ---- */

static int wait_seconds(const struct pl_ctx *ctx)
{
	return ctx->wait_s;
}

/*
 * An established SSH session of this host (found from the kernel's sockets;
 * SSH_CONNECTION only adds to them): would the policy cut it? Returns true
 * and describes it in msg (see sshguard.h).
 */
#define SSH_CUT_FILE "ssh-cut"	/* sessions cut on purpose (sshguard.h) */

/* STATE_DIR/ssh-cut, or NULL (none, or no trusted state dir): malloc'ed. */
static char *ssh_cut_read(const struct pl_ctx *ctx)
{
	int fd = statestore_open(ctx->state_dir, STATESTORE_READONLY | STATESTORE_QUIET, NULL);
	char *buf = NULL;
	size_t len;

	if (fd < 0)
		return NULL;
	if (statestore_read(fd, SSH_CUT_FILE, 1u << 20, &buf, &len) < 0)
		buf = NULL;
	close(fd);
	return buf;
}

/* After an apply: the sessions its policy cuts, for the next runs (best effort). */
static void ssh_cut_write(const struct pl_ctx *ctx, const char *old, const char *now)
{
	int fd;

	if (!now || !strcmp(old ? old : "", now))
		return;
	fd = statestore_open(ctx->state_dir, STATESTORE_QUIET, NULL);
	if (fd < 0)
		return;
	if (*now)
		statestore_replace(fd, SSH_CUT_FILE, now, strlen(now), 0);
	else
		unlinkat(fd, SSH_CUT_FILE, 0);
	close(fd);
}

/*
 * The SSH lockout guard (sshguard.h) less the sessions an earlier apply cut
 * on purpose; *cut_now: what to write to ssh-cut if this apply goes through.
 */
static bool ssh_would_be_cut(const struct pl_ctx *ctx, const struct policy *p, char *msg, size_t len,
			     char **cut_old, char **cut_now)
{
	*cut_old = ssh_cut_read(ctx);
	return sshguard_would_cut(p, *cut_old, msg, len, cut_now);
}

static void (*render_hook)(struct pl_ctx *ctx, const struct txn_result *res);

void txn_set_render(void (*fn)(struct pl_ctx *ctx, const struct txn_result *res))
{
	render_hook = fn;
}

void txn_result_fini(struct txn_result *res)
{
	if (!res)
		return;
	sync_result_fini(&res->sync);
	if (res->own_impact) {
		impact_fini(res->own_impact);
		free(res->own_impact);
	}
	if (res->own_policy) {
		policy_fini(res->own_policy);
		free(res->own_policy);
	}
	memset(res, 0, sizeof(*res));
}

/* The sync result moves into res: what rendering needs (the plan, the figures); the rest is freed. */
static void result_take(struct txn_result *res, enum txn_outcome outcome, const char *table,
			struct sync_result *r)
{
	res->outcome = outcome;
	snprintf(res->table, sizeof(res->table), "%s", table);
	nl_batch_free(r->plan.batch);
	r->plan.batch = NULL;
	nm_live_fini(&r->live);
	nm_table_fini(&r->want);
	sync_result_fini(&res->sync);
	res->sync = *r;
	memset(r, 0, sizeof(*r));
}

/*
 * The newest transaction is an auto-revert still in force that undid the
 * policy with this hash: the policy was applied and nobody confirmed it.
 */
static bool auto_reverted_in(struct journal *j, const char *hash, char *msg, size_t len,
			     uint64_t *applied_id, uint64_t *auto_id)
{
	struct journal_rec last = { 0 }, undone = { 0 };
	struct diag quiet;
	bool yes = false;

	diag_init(&quiet);
	if (journal_last(j, JOURNAL_STATE_ANY & ~JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &last,
			 &quiet) == 0 &&
	    last.kind == JOURNAL_KIND_AUTO_REVERT && last.state != JOURNAL_STATE_REVERTED &&
	    journal_get(j, last.reverts_id, &undone, &quiet) == 0 && hash[0] &&
	    !strcmp(undone.policy_sha256, hash)) {
		yes = true;
		if (msg && len)
			snprintf(msg, len,
				 "this policy was applied as transaction %llu and reverted because nobody confirmed it (transaction %llu)",
				 (unsigned long long)undone.id, (unsigned long long)last.id);
		if (applied_id)
			*applied_id = undone.id;
		if (auto_id)
			*auto_id = last.id;
	}
	journal_rec_fini(&last);
	journal_rec_fini(&undone);
	diag_fini(&quiet);
	return yes;
}

bool txn_auto_reverted(struct pl_ctx *ctx, const char *policy_hash, char *msg, size_t len,
		       uint64_t *applied_id, uint64_t *auto_id)
{
	struct journal *j = NULL;
	struct diag quiet;
	bool yes = false;

	diag_init(&quiet);
	if (journal_open_readonly(&j, ctx->state_dir, &quiet) == 0) {
		yes = auto_reverted_in(j, policy_hash, msg, len, applied_id, auto_id);
		journal_close(j);
	}
	diag_fini(&quiet);
	return yes;
}

/* ---- revert (lock held) ---- */

static void spawn_watcher(struct pl_ctx *ctx, struct journal *j, uint64_t id, int64_t deadline);

/*
 * The SSH lockout guard for `portlock revert`: the table it restores is the
 * result of the transaction before target (same table). When that one
 * applied the current config's policy (same hash), the guard judges the
 * sessions exactly as apply does; when the table is not known as a policy,
 * a note says the guard could not judge it (only when SSH sessions exist).
 */
static int revert_ssh_guard(struct pl_ctx *ctx, struct journal *j, const struct journal_rec *target,
			    const struct txn_opts *o)
{
	struct journal_rec *recs = NULL;
	const struct journal_rec *prev = NULL;
	struct diag quiet;
	size_t n = 0;
	char hash[65], msg[512], *cut_old = NULL;
	int rc = PL_EXIT_OK;

	if (target->prior_absent)
		return PL_EXIT_OK;	/* no table afterwards: nothing is cut */
	diag_init(&quiet);
	if (journal_list(j, 0, &recs, &n, &quiet) == 0)
		for (size_t i = 0; i < n && recs[i].id < target->id; i++)
			if (!strcmp(recs[i].table, target->table) && recs[i].state != JOURNAL_STATE_PREPARED)
				prev = &recs[i];
	if (o->policy)
		policy_hash(o->policy, hash);
	if (o->policy && prev && prev->policy_sha256[0] && !strcmp(prev->policy_sha256, hash) &&
	    !strcmp(o->policy->table, target->table)) {
		cut_old = ssh_cut_read(ctx);
		if (sshguard_would_cut(o->policy, cut_old, msg, sizeof(msg), NULL)) {
			if (!o->force) {
				diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
					 "%s (the table the revert of transaction %llu restores enforces this policy); refusing to revert (use --force, best with --confirm SECONDS)",
					 msg, (unsigned long long)target->id);
				rc = PL_EXIT_CONFLICT;
			} else {
				diag_warn(&ctx->diag, NULL, "%s; reverting anyway (--force)", msg);
			}
		}
	} else {
		struct sshguard_list l;

		sshguard_list_init(&l);
		if (sshguard_sessions(&l, &quiet) == 0 && l.n)
			diag_note(&ctx->diag, NULL,
				  "the SSH lockout guard cannot judge the table this revert restores (not the current config's policy): %zu SSH session%s of this host may be cut; --confirm SECONDS makes the revert undo itself",
				  l.n, l.n == 1 ? "" : "s");
		sshguard_list_fini(&l);
	}
	free(cut_old);
	journal_recs_free(recs, n);
	diag_fini(&quiet);
	return rc;
}

/* Release what a revert or a restore holds: prepared record, live cache, table, sync result */
static void run_fini(struct hook *h, struct nft_read_cache *cache, struct nm_table *want,
		     struct sync_result *r)
{
	if (h->prepared)
		journal_rec_fini(&h->rec);
	livecache_fini(cache);
	nm_table_fini(want);
	sync_result_fini(r);
}

/* Into *target: transaction id, or (0) the last one in force (of o->table). Returns an exit code. */
static int revert_find_target(struct pl_ctx *ctx, struct journal *j, uint64_t id,
			      const struct txn_opts *o, struct journal_rec *target)
{
	int ret;

	if (id == 0) {
		unsigned mask = JOURNAL_STATE_BIT(JOURNAL_STATE_APPLIED) |
				JOURNAL_STATE_BIT(JOURNAL_STATE_PENDING) |
				JOURNAL_STATE_BIT(JOURNAL_STATE_CONFIRMED);

		if (o && o->table)
			ret = journal_last_for_table(j, o->table, mask, target, &ctx->diag);
		else
			ret = journal_last(j, mask, target, &ctx->diag);
		if (ret == -ENOENT) {
			if (o && o->table)
				diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
					 "nothing to revert: no transaction of table inet %s in force in %s (another table: revert ID, see 'portlock log')",
					 o->table, ctx->state_dir);
			else
				diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
					 "nothing to revert: no transaction in force in %s", ctx->state_dir);
			return PL_EXIT_CONFLICT;
		}
	} else {
		ret = journal_get(j, id, target, &ctx->diag);
	}
	if (ret)
		return diag_exit_code(&ctx->diag);
	return PL_EXIT_OK;
}

/* Refuse a target that is no state of the table to go back to. Returns an exit code. */
static int revert_refuse(struct pl_ctx *ctx, const struct journal_rec *target, enum journal_kind kind,
			 bool quiet, const struct txn_opts *o, struct txn_result *res)
{
	if (target->kind == JOURNAL_KIND_ALLOW || target->kind == JOURNAL_KIND_REVOKE) {
		diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
			 "transaction %llu is temporary access (%s), not a state of the table: 'portlock allow --revoke' ends a grant, its timeout ends it anyway",
			 (unsigned long long)target->id, journal_kind_str(target->kind));
		return PL_EXIT_CONFLICT;
	}
	if (target->state == JOURNAL_STATE_REVERTED ||
	    (target->state == JOURNAL_STATE_PREPARED && kind != JOURNAL_KIND_AUTO_REVERT)) {
		diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0, "transaction %llu is %s: nothing to revert",
			 (unsigned long long)target->id, journal_state_str(target->state));
		return PL_EXIT_CONFLICT;
	}
	if (o && !o->force && target->kind == JOURNAL_KIND_AUTO_REVERT) {
		/* its prior is the change nobody confirmed: do not bring the lockout back by accident */
		diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
			 "transaction %llu is the auto-revert of transaction %llu, which nobody confirmed: reverting it would re-install that change; refusing (use --force to insist, best with --confirm SECONDS)",
			 (unsigned long long)target->id, (unsigned long long)target->reverts_id);
		if (!quiet) {
			res->outcome = TXN_REVERT_REFUSED;
			res->dry_run = o->dry_run;
			res->target_id = target->reverts_id;
			res->auto_id = target->id;
			snprintf(res->why, sizeof(res->why), "%s",
				 "reverting an auto-revert re-installs the change nobody confirmed");
		}
		return PL_EXIT_CONFLICT;
	}
	return PL_EXIT_OK;
}

/* The table target's prior held into *want, if this state dir owns the table. Returns an exit code. */
static int revert_load(struct pl_ctx *ctx, struct journal *j, const struct journal_rec *target,
		       enum journal_kind kind, struct nm_table *want)
{
	char what[96];
	int rc;

	snprintf(what, sizeof(what), "transaction %llu", (unsigned long long)target->id);
	/* a prior that was absent: exists = false, the table is deleted */
	if (snapshot_load(j, target, false, true, want, what, &ctx->diag))
		return diag_exit_code(&ctx->diag);
	/* only a table this state dir created, and whose history still holds (snapshot.h) */
	if (snapshot_check_owner(j, target, kind == JOURNAL_KIND_REVERT, &ctx->diag)) {
		rc = diag_exit_code(&ctx->diag);
		diag_note(&ctx->diag, NULL, "nothing was reverted");
		return rc;
	}
	return PL_EXIT_OK;
}

/* revert --dry-run: the plan and what restoring the table would cut, into res. Returns an exit code. */
static int revert_dry_run(struct pl_ctx *ctx, const struct txn_opts *o, struct nm_table *want,
			  const struct journal_rec *target, struct sync_result *r, struct txn_result *res)
{
	struct policy *tp = calloc(1, sizeof(*tp));
	struct impact *im = calloc(1, sizeof(*im));
	struct diag q;
	int rc = PL_EXIT_OK;

	/* the impact of restoring the table: judged by its own allowlists */
	if (!tp || !im) {
		free(tp);
		free(im);
		diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ENOMEM, "revert");
		return PL_EXIT_INTERNAL;
	}
	impact_init(im);
	diag_init(&q);
	if (!plan_empty(&r->plan)) {
		if (impact_policy_from_table(want, o ? o->policy : NULL, tp) < 0) {
			free(tp);
			tp = NULL;
		} else if (impact_run(tp, &r->live.t, im, &q) < 0) {
			;
		}
		if (!tp || !im->judged)
			diag_warn(&ctx->diag, NULL, "cannot judge what the revert would cut: %s",
				  q.nrecs ? q.recs[0].msg : "the restored table cannot be read");
	}
	diag_fini(&q);
	res->own_policy = tp;
	res->own_impact = im;
	if (tp && im->judged) {
		res->impact = im;
		res->impact_policy = tp;
	}
	if (o->exit_code && !plan_empty(&r->plan))
		rc = PL_EXIT_PENDING;
	res->dry_run = true;
	res->target_id = target->id;
	result_take(res, TXN_REVERT_DRY_RUN, target->table, r);
	return rc;
}

/*
 * After the batch went in: arm the watcher for *deadline, let cut SSH
 * sessions pass again, complete the revert's journal record. Returns an
 * exit code.
 */
static int revert_committed(struct pl_ctx *ctx, struct journal *j, const struct journal_rec *target,
			    struct hook *h, struct sync_result *r, struct nm_table *want,
			    int64_t *deadline)
{
	int rc = PL_EXIT_OK;

	nl_batch_free(r->plan.batch);
	r->plan.batch = NULL;
	nm_live_fini(&r->live);
	*deadline = h->unjournaled ? 0 : h->rec.confirm_deadline;
	/* first the watcher: it exists before the record is completed and before any output */
	if (*deadline)
		spawn_watcher(ctx, j, h->rec.id, *deadline);
	/* the sessions an apply cut may pass again: count them all again */
	ssh_cut_write(ctx, "-", "");
	if (h->unjournaled) {
		diag_warn(&ctx->diag, NULL,
			  "transaction %llu was reverted without a journal record of the revert (%s)",
			  (unsigned long long)target->id, h->why);
		return PL_EXIT_NOJOURNAL;
	}
	if (hook_commit(h, r, want, *deadline ? JOURNAL_STATE_PENDING : JOURNAL_STATE_APPLIED)) {
		rc = diag_exit_code(&ctx->diag);
		if (*deadline)
			diag_warn(&ctx->diag, NULL,
				  "the revert is applied but its journal record could not be completed; its deadline stands (the watcher, recover and apply honour it)");
	}
	return rc;
}

/*
 * Mark the target and every later transaction of its table still in force
 * as reverted (not the revert's own record). Returns whether one could not
 * be marked.
 */
static bool revert_mark_undone(struct pl_ctx *ctx, struct journal *j, const struct journal_rec *target,
			       const struct hook *h)
{
	struct journal_rec *recs = NULL;
	size_t n = 0;
	bool unmarked = false;

	if (journal_list(j, 0, &recs, &n, &ctx->diag) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (recs[i].id < target->id || (h->prepared && recs[i].id == h->rec.id) ||
			    strcmp(recs[i].table, target->table))
				continue;
			if (recs[i].state == JOURNAL_STATE_APPLIED || recs[i].state == JOURNAL_STATE_PENDING ||
			    recs[i].state == JOURNAL_STATE_CONFIRMED) {
				struct diag q;

				diag_init(&q);
				if (journal_set_state(j, recs[i].id, JOURNAL_STATE_REVERTED, &q)) {
					/* the kernel is reverted; the record says so later (recover, the watcher) */
					diag_warn(&ctx->diag, NULL,
						  "transaction %llu is reverted in the kernel but its record could not be marked: %s",
						  (unsigned long long)recs[i].id, diag_first(&q));
					unmarked = true;
				}
				diag_fini(&q);
			}
		}
	}
	journal_recs_free(recs, n);
	return unmarked;
}

/*
 * Revert transaction id (0: the newest in force). o: what `portlock revert`
 * asked for (dry run, --confirm, --force); NULL for an auto-revert.
 */
static int revert_run(struct pl_ctx *ctx, struct journal *j, uint64_t id,
		      enum journal_kind kind, bool quiet, const struct txn_opts *o,
		      struct txn_result *res)
{
	struct journal_rec target = { 0 };
	struct nm_table want;
	bool dry_run = o && o->dry_run;
	/* known before the batch is sent, like apply's */
	int64_t deadline = 0;	/* revert --confirm: set in the prepared record (hook_before) */
	struct sync_opts so = { .mode = dry_run ? SYNC_PLAN : SYNC_APPLY,
				.max_elem_lines = o && ctx->verbose > 0 ? 0 : 20,
				.capture_prior = !dry_run };
	struct sync_result r = { 0 };
	struct hook h = { .j = j, .kind = kind, .d = &ctx->diag, .state_dir = ctx->state_dir,
			  .confirm_s = o && !dry_run ? o->confirm_s : 0 };
	struct nft_read_cache cache = { 0 };
	int rc;
	bool unmarked;

	memset(&want, 0, sizeof(want));
	/* the deadline is honoured even when the journal cannot record it */
	h.skip_journal_ok = kind == JOURNAL_KIND_AUTO_REVERT;
	rc = revert_find_target(ctx, j, id, o, &target);
	if (rc)
		return rc;
	rc = revert_refuse(ctx, &target, kind, quiet, o, res);
	if (rc)
		goto out;
	rc = revert_load(ctx, j, &target, kind, &want);
	if (rc)
		goto out;
	if (o && !dry_run) {
		rc = revert_ssh_guard(ctx, j, &target, o);
		if (rc)
			goto out;
	}
	h.reverts_id = target.id;
	h.table = target.table;
	sync_cached(&so, &cache, ctx->state_dir, target.table);
	if (!dry_run)
		sync_journaled(&so, &h);
	if (sync_to(&want, &so, &r, &ctx->diag)) {
		rc = diag_exit_code(&ctx->diag);
		diag_note(&ctx->diag, NULL, "nothing was reverted");
		goto out;
	}
	if (dry_run) {
		rc = revert_dry_run(ctx, o, &want, &target, &r, res);
		goto out;
	}
	if (r.committed)
		rc = revert_committed(ctx, j, &target, &h, &r, &want, &deadline);
	else if (h.confirm_s)
		diag_note(&ctx->diag, NULL, "the revert changed nothing: --confirm has nothing to wait for");
	unmarked = revert_mark_undone(ctx, j, &target, &h);
	if (unmarked && rc == PL_EXIT_OK)
		rc = PL_EXIT_NOJOURNAL;
	if (r.committed && !h.unjournaled)
		journal_prune(j, POLICY_DEFAULT_JOURNAL_KEEP, &ctx->diag);
	if (!quiet) {
		res->target_id = target.id;
		res->changed = r.committed;
		res->journaled = r.committed && !h.unjournaled;
		res->id = r.committed ? h.rec.id : 0;
		res->confirm_deadline = r.committed ? deadline : 0;
		res->unmarked = unmarked;
		res->show_plan = o != NULL;
		result_take(res, TXN_REVERTED, target.table, &r);
	}
out:
	run_fini(&h, &cache, &want, &r);
	journal_rec_fini(&target);
	return rc;
}

/* An auto-revert, or a revert with the defaults. */
static int revert_locked(struct pl_ctx *ctx, struct journal *j, uint64_t id,
			 enum journal_kind kind, bool quiet)
{
	struct txn_result res = { 0 };
	int rc = revert_run(ctx, j, id, kind, quiet, NULL, &res);

	if (res.outcome != TXN_NONE && render_hook)
		render_hook(ctx, &res);
	txn_result_fini(&res);
	return rc;
}

/*
 * apply --boot: put back what the journal says is in force instead of the
 * policy file: src's result (a pending transaction's, or the auto-revert's
 * that undid an unconfirmed one), recorded as a new transaction of kind
 * (reverts_id, policy_hash as src's) so that what the journal knows stays
 * true: a pending deadline still reverts to its prior, and the auto-reverted
 * policy is still refused without --force. An absent table (a reboot, a
 * "flush ruleset") is the case this is for: without it the unit would
 * leave every port open.
 */
static int restore_result(struct pl_ctx *ctx, struct journal *j, const struct journal_rec *src,
			  enum journal_kind kind, const char *why, struct txn_result *res)
{
	struct nm_table want;
	struct sync_opts so = { .mode = SYNC_APPLY, .max_elem_lines = 20, .capture_prior = true };
	struct sync_result r = { 0 };
	struct hook h = { .j = j, .kind = kind, .d = &ctx->diag, .state_dir = ctx->state_dir,
			  .reverts_id = src->reverts_id, .policy_hash = src->policy_sha256,
			  .table = src->table, .skip_journal_ok = true };
	struct nft_read_cache cache = { 0 };
	char what[96];
	int ret, rc = PL_EXIT_OK;

	memset(&want, 0, sizeof(want));
	snprintf(what, sizeof(what), "transaction %llu", (unsigned long long)src->id);
	ret = snapshot_load(j, src, true, true, &want, what, &ctx->diag);
	if (ret) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	sync_cached(&so, &cache, ctx->state_dir, src->table);
	sync_journaled(&so, &h);
	ret = sync_to(&want, &so, &r, &ctx->diag);
	if (ret) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	if (r.committed) {
		nl_batch_free(r.plan.batch);
		r.plan.batch = NULL;
		nm_live_fini(&r.live);
		if (h.unjournaled)
			rc = PL_EXIT_NOJOURNAL;
		else if (hook_commit(&h, &r, &want, JOURNAL_STATE_APPLIED))
			rc = PL_EXIT_NOJOURNAL;
	}
	diag_warn(&ctx->diag, NULL, "%s: table inet %s is %s as transaction %llu left it, not as %s says",
		  why, src->table, r.committed ? "restored" : "kept", (unsigned long long)src->id,
		  ctx->config_path);
	res->changed = r.committed;
	res->target_id = src->id;
	res->journaled = r.committed && !h.unjournaled && h.prepared;
	res->id = res->journaled ? h.rec.id : 0;
	result_take(res, TXN_RESTORED, src->table, &r);
out:
	run_fini(&h, &cache, &want, &r);
	return rc;
}

/* When this boot began (unix seconds). */
static int64_t boot_time(void)
{
	struct timespec up;

	if (clock_gettime(CLOCK_BOOTTIME, &up) < 0)
		return 0;
	return (int64_t)time(NULL) - up.tv_sec;
}

/* Made before this boot: its watcher died with the previous boot. */
static bool before_boot(const struct journal_rec *rec)
{
	return rec->time < boot_time() - 5;
}

enum resolved {
	RESOLVED_DISCARDED,	/* not in force: the record is gone */
	RESOLVED_RECORDED,	/* in force: recorded applied, or pending with its deadline */
	RESOLVED_SAFE,		/* its prior is damaged: recorded applied, in the safe state */
	RESOLVED_UNRECORDED,	/* in force, but the record could not be written (still prepared) */
	RESOLVED_REVERTED_UNRECORDED,	/* reverted by this process, the record cannot say so yet */
	RESOLVED_UNKNOWN,	/* the live table could not be read, or the record not removed */
};

/* Recovery outcomes (recover_locked()'s *flags). */
#define RECOVER_REVERTED 1u	/* an expired transaction was reverted */
#define RECOVER_UNJOURNALED 2u	/* the kernel was changed, the journal could not record it all */
#define RECOVER_SAFE 4u		/* a transaction was left in the safe state (its prior is damaged) */

static const char SAFE_KEPT[] = "kept";

/*
 * A prepared record this process reverted at its deadline although the
 * journal could not record it (full state dir): when it can, it is recorded
 * "reverted" instead of being discarded as never applied (the watcher
 * retries until then).
 */
static uint64_t reverted_prepared;

static void say_safe_state(struct pl_ctx *ctx, const struct journal_rec *rec, const char *reason,
			   bool recorded)
{
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "transaction %llu cannot be reverted exactly: %s; table inet %s is kept as it is "
		 "(the safe state: nothing the policy closes is opened)%s; check it and restore the "
		 "prior content by hand (portlock(8), SAFE STATE)",
		 (unsigned long long)rec->id, reason, rec->table,
		 recorded ? ", and the record says \"safe_state\": \"kept\"" : "");
	/* loud: on stderr now (also with -q), in syslog, and in the diagnostics */
	diag_alert("%s", msg);
	slog(LOG_CRIT, "%s", msg);
	diag_warn(&ctx->diag, NULL, "%s", msg);
}

/* Complete rec in state with the live table as its result. Returns 0 or -errno (in d). */
static int resolve_record(struct journal *j, struct journal_rec *rec, enum journal_state state,
			  struct nm_live *live, struct diag *d)
{
	struct snapshot c;
	int ret;

	rec->state = state;
	rec->gen_after = live->genid;
	rec->result_absent = !live->t.exists;
	ret = snapshot_from_live(live, journal_objects_path(j), &c);
	if (!ret)
		ret = journal_commit(j, rec, NULL, &c.jc, d);
	snapshot_fini(&c);
	return ret;
}

/* Not in force: the kernel never applied rec (or it was reverted at its deadline); discard it. */
static enum resolved resolve_discard(struct pl_ctx *ctx, struct journal *j, struct journal_rec *rec)
{
	if (rec->confirm_deadline && time(NULL) >= rec->confirm_deadline)
		diag_note(&ctx->diag, NULL,
			  "transaction %llu is not in force (interrupted before the kernel applied it, or reverted at its deadline): discarded",
			  (unsigned long long)rec->id);
	else
		diag_note(&ctx->diag, NULL,
			  "transaction %llu was interrupted before the kernel applied it: discarded",
			  (unsigned long long)rec->id);
	return journal_abort(j, rec, &ctx->diag) ? RESOLVED_UNKNOWN : RESOLVED_DISCARDED;
}

/* In force: record it with the live table; with a deadline it is pending, and its deadline stands. */
static enum resolved resolve_in_force(struct pl_ctx *ctx, struct journal *j, struct journal_rec *rec,
				      struct nm_live *live)
{
	struct snapshot c;
	int ret;

	rec->state = rec->confirm_deadline ? JOURNAL_STATE_PENDING : JOURNAL_STATE_APPLIED;
	rec->gen_after = live->genid;
	rec->result_absent = !live->t.exists;
	ret = snapshot_from_live(live, journal_objects_path(j), &c);
	if (!ret) {
		struct diag w;

		diag_init(&w);
		ret = journal_commit(j, rec, NULL, &c.jc, &w);
		if (ret)
			diag_warn(&ctx->diag, NULL,
				  "transaction %llu was interrupted after the kernel applied it, and its record cannot be completed: %s",
				  (unsigned long long)rec->id, diag_first(&w));
		diag_fini(&w);
	}
	snapshot_fini(&c);
	if (ret)
		return RESOLVED_UNRECORDED;
	diag_note(&ctx->diag, NULL, "transaction %llu was interrupted after the kernel applied it: recorded %s",
		  (unsigned long long)rec->id, journal_state_str(rec->state));
	if (live->t.exists)
		livecache_store(ctx->state_dir, rec->table, live->genid, live->t.handle, rec->id);
	return RESOLVED_RECORDED;
}

/*
 * A record left "prepared" by a crash (or by a journal write that failed
 * after the commit): was its batch committed? One with a deadline is
 * recorded pending with that deadline when it was (a record from before
 * this boot with a deadline counts as in force: an unconfirmed change does
 * not survive a reboot, its prior is restored in any case). A damaged prior
 * cannot be compared: the table is kept and the record says so.
 */
static enum resolved resolve_prepared(struct pl_ctx *ctx, struct journal *j, struct journal_rec *rec)
{
	struct nm_table prior;
	struct nm_live live = { 0 };
	struct plan pl;
	struct diag q;
	enum resolved res = RESOLVED_UNKNOWN;
	bool in_force, damaged;
	int ret;

	memset(&prior, 0, sizeof(prior));
	diag_init(&q);
	ret = snapshot_load(j, rec, false, false, &prior, "interrupted transaction", &q);
	damaged = ret != 0 && ret != -ENOMEM;
	if (ret && !damaged) {
		diag_move(&ctx->diag, &q, false);
		goto out;
	}
	ret = sync_read(rec->table, NULL, 0, &live, &ctx->diag);
	if (ret)
		goto out;
	if (damaged) {
		char reason[256];

		snprintf(reason, sizeof(reason), "its prior content is damaged (%s)", diag_first(&q));
		snprintf(rec->safe_state, sizeof(rec->safe_state), "%s", SAFE_KEPT);
		snprintf(rec->safe_reason, sizeof(rec->safe_reason), "%s", reason);
		ret = resolve_record(j, rec, JOURNAL_STATE_APPLIED, &live, &ctx->diag);
		say_safe_state(ctx, rec, reason, ret == 0);
		res = RESOLVED_SAFE;
		goto out;
	}
	ret = plan_resolve(&prior, &live, &ctx->diag);
	if (ret == -ESTALE)
		ret = diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ESTALE, "reading the live table");
	if (!ret)
		ret = plan_build(&prior, &live, 0, &pl, &ctx->diag);
	if (ret)
		goto out;
	in_force = !plan_empty(&pl) || (rec->confirm_deadline && before_boot(rec) && !rec->prior_absent);
	plan_fini(&pl);
	if (!in_force && rec->id == reverted_prepared) {
		if (resolve_record(j, rec, JOURNAL_STATE_REVERTED, &live, &q)) {
			res = RESOLVED_REVERTED_UNRECORDED;
			goto out;
		}
		reverted_prepared = 0;
		diag_note(&ctx->diag, NULL, "transaction %llu was reverted at its deadline: recorded",
			  (unsigned long long)rec->id);
		res = RESOLVED_RECORDED;
	} else if (!in_force) {
		res = resolve_discard(ctx, j, rec);
	} else {
		res = resolve_in_force(ctx, j, rec, &live);
	}
out:
	diag_fini(&q);
	nm_table_fini(&prior);
	nm_live_fini(&live);
	return res;
}

/*
 * Revert rec (pending, or prepared and in force) at its deadline. A prior
 * that cannot be restored exactly (damaged) leaves the table as it is, the
 * documented safe state, and the record says so.
 */
static int auto_revert(struct pl_ctx *ctx, struct journal *j, struct journal_rec *rec, const char *why,
		       unsigned *flags)
{
	struct nm_table prior;
	struct diag q;
	int rc, ret;

	diag_alert("transaction %llu %s: reverting it", (unsigned long long)rec->id, why);
	slog(LOG_WARNING, "transaction %llu on table inet %s %s: reverting it", (unsigned long long)rec->id,
	     rec->table, why);
	diag_init(&q);
	ret = snapshot_load(j, rec, false, false, &prior, "its prior content", &q);
	nm_table_fini(&prior);
	if (ret && ret != -ENOMEM) {
		char reason[256];
		struct diag w;

		snprintf(reason, sizeof(reason), "%s", diag_first(&q));
		diag_fini(&q);
		diag_init(&w);
		if (rec->state == JOURNAL_STATE_PREPARED)
			ret = -EBUSY;	/* resolve_prepared() records it when it can */
		else
			ret = journal_set_safe_state(j, rec->id, JOURNAL_STATE_APPLIED, SAFE_KEPT, reason, &w);
		diag_fini(&w);
		say_safe_state(ctx, rec, reason, ret == 0);
		*flags |= RECOVER_SAFE | (ret ? RECOVER_UNJOURNALED : 0);
		return PL_EXIT_CONFLICT;
	}
	diag_fini(&q);
	rc = revert_locked(ctx, j, rec->id, JOURNAL_KIND_AUTO_REVERT, false);
	if (rc == PL_EXIT_OK || rc == PL_EXIT_NOJOURNAL) {
		*flags |= RECOVER_REVERTED;
		if (rc == PL_EXIT_NOJOURNAL)
			*flags |= RECOVER_UNJOURNALED;
		slog(rc ? LOG_WARNING : LOG_NOTICE, "transaction %llu on table inet %s reverted%s",
		     (unsigned long long)rec->id, rec->table,
		     rc ? "; the journal could not record all of it (state dir full or read-only?)" : "");
	} else {
		slog(LOG_ERR, "transaction %llu on table inet %s could not be reverted: %s",
		     (unsigned long long)rec->id, rec->table, diag_first(&ctx->diag));
	}
	return rc;
}

/*
 * Lock held: resolve prepared records (honouring a deadline they carry),
 * revert an expired pending one. Returns an exit code; *flags (may be NULL)
 * says what happened (RECOVER_*).
 */
static int recover_locked(struct pl_ctx *ctx, struct journal *j, unsigned *flags)
{
	struct journal_rec rec = { 0 };
	unsigned fl = 0;
	int rc = PL_EXIT_OK, r2;
	char t[32], why[96];

	while (journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &rec, &ctx->diag) == 0) {
		uint64_t id = rec.id;
		enum resolved res = resolve_prepared(ctx, j, &rec);
		struct diag quiet;
		bool stuck;

		if (res == RESOLVED_SAFE) {
			fl |= RECOVER_SAFE;
			rc = PL_EXIT_CONFLICT;
		}
		if (res == RESOLVED_UNRECORDED && rec.confirm_deadline &&
		    (time(NULL) >= rec.confirm_deadline || before_boot(&rec))) {
			/* in force, past its deadline, and the journal cannot say so: revert all the same */
			render_time(rec.confirm_deadline, t, sizeof(t));
			snprintf(why, sizeof(why), "was not confirmed by %s", t);
			rec.state = JOURNAL_STATE_PREPARED;
			r2 = auto_revert(ctx, j, &rec, why, &fl);
			if (r2 != PL_EXIT_OK && rc == PL_EXIT_OK)
				rc = r2;
			if (r2 == PL_EXIT_OK || r2 == PL_EXIT_NOJOURNAL)
				reverted_prepared = id;
		}
		if (res == RESOLVED_UNRECORDED || res == RESOLVED_REVERTED_UNRECORDED) {
			fl |= RECOVER_UNJOURNALED;
			if (rc == PL_EXIT_OK)
				rc = PL_EXIT_NOJOURNAL;
		}
		journal_rec_fini(&rec);
		/* gone (discarded) or recorded: done; still prepared: do not loop */
		diag_init(&quiet);
		stuck = journal_get(j, id, &rec, &quiet) == 0 && rec.state == JOURNAL_STATE_PREPARED;
		diag_fini(&quiet);
		journal_rec_fini(&rec);
		if (stuck)
			break;
	}
	if (journal_pending(j, &rec, &ctx->diag) == 0) {
		bool expired = rec.confirm_deadline && time(NULL) >= rec.confirm_deadline;

		render_time(rec.confirm_deadline, t, sizeof(t));
		if (expired || before_boot(&rec)) {
			/* a watcher that died with the previous boot: unconfirmed changes do not survive a reboot */
			snprintf(why, sizeof(why), expired ? "was not confirmed by %s"
							   : "was not confirmed before the reboot", t);
			r2 = auto_revert(ctx, j, &rec, why, &fl);
			if (r2 != PL_EXIT_OK && (rc == PL_EXIT_OK || rc == PL_EXIT_NOJOURNAL))
				rc = r2;
		}
		journal_rec_fini(&rec);
	}
	if (flags)
		*flags = fl;
	return rc;
}

/* Can the journal take a new record? A small file written, synced and removed. */
static int journal_probe_write(struct journal *j, char *why, size_t len)
{
	char path[4200], buf[4096];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/.tmp.probe.%d", journal_path(j), (int)getpid());
	memset(buf, 0, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fsync(fd) < 0)
		err = errno ? errno : EIO;
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	if (err)
		snprintf(why, len, "%s", strerror(err));
	return -err;
}

int txn_recover(struct pl_ctx *ctx, bool cheap)
{
	struct journal *j = NULL;
	unsigned fl = 0;
	char why[128];
	int rc;

	if (cheap) {
		struct journal_rec rec = { 0 };
		struct diag quiet;
		bool todo = false;

		/* a read-only look first: most runs have nothing to do */
		diag_init(&quiet);
		if (journal_open_readonly(&j, ctx->state_dir, &quiet) == 0) {
			if (journal_pending(j, &rec, &quiet) == 0) {
				todo = rec.confirm_deadline && time(NULL) >= rec.confirm_deadline;
				journal_rec_fini(&rec);
			}
			if (!todo && journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &rec,
						  &quiet) == 0) {
				todo = true;
				journal_rec_fini(&rec);
			}
			journal_close(j);
			j = NULL;
		}
		diag_fini(&quiet);
		if (!todo)
			return PL_EXIT_OK;
	}
	if (journal_open(&j, ctx->state_dir, wait_seconds(ctx), &ctx->diag))
		return diag_exit_code(&ctx->diag);
	rc = recover_locked(ctx, j, &fl);
	if (!cheap && journal_probe_write(j, why, sizeof(why))) {
		/* not a silent success: the next apply can only go without a record */
		diag_warn(&ctx->diag, NULL,
			  "the journal in '%s' cannot be written (%s): transactions cannot be recorded until it can",
			  journal_path(j), why);
		if (rc == PL_EXIT_OK)
			rc = PL_EXIT_NOJOURNAL;
	}
	journal_close(j);
	return rc;
}

/*
 * Read commands: report, never change. An expired pending transaction (or
 * one from before this boot), a prepared one (interrupted), and one left in
 * the safe state are reported on stderr; ctx->overdue_* is set for an
 * overdue one (`plan --exit-code` returns 1 for it, --json shows it).
 */
void txn_report_overdue(struct pl_ctx *ctx)
{
	struct journal *j = NULL;
	struct journal_rec rec = { 0 };
	struct diag quiet;
	char t[32];

	diag_init(&quiet);
	if (journal_open_readonly(&j, ctx->state_dir, &quiet) != 0)
		goto out;
	if (journal_pending(j, &rec, &quiet) == 0) {
		bool expired = rec.confirm_deadline && time(NULL) >= rec.confirm_deadline;

		if (expired || before_boot(&rec)) {
			render_time(rec.confirm_deadline, t, sizeof(t));
			ctx->overdue_id = rec.id;
			ctx->overdue_deadline = rec.confirm_deadline;
			diag_alert(
				"WARNING: transaction %llu on table inet %s was not confirmed by %s and is still in force: "
				"its auto-revert is overdue; 'portlock recover' (or apply, revert, confirm) acts on it; this command changes nothing",
				(unsigned long long)rec.id, rec.table, t);
		}
		journal_rec_fini(&rec);
	}
	if (journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &rec, &quiet) == 0) {
		if (rec.confirm_deadline && time(NULL) >= rec.confirm_deadline && !ctx->overdue_id) {
			ctx->overdue_id = rec.id;
			ctx->overdue_deadline = rec.confirm_deadline;
		}
		render_time(rec.confirm_deadline, t, sizeof(t));
		diag_alert(
			"WARNING: transaction %llu on table inet %s was interrupted (its record is incomplete)%s%s; "
			"'portlock recover' resolves it; this command changes nothing",
			(unsigned long long)rec.id, rec.table, rec.confirm_deadline ? ": its deadline is " : "",
			rec.confirm_deadline ? t : "");
		journal_rec_fini(&rec);
	}
	if (journal_last(j, JOURNAL_STATE_ANY & ~JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &rec,
			 &quiet) == 0) {
		if (rec.safe_state[0] && rec.state == JOURNAL_STATE_APPLIED)
			diag_alert(
				"WARNING: transaction %llu on table inet %s could not be reverted at its deadline "
				"(%s) and was left in the safe state \"%s\": the unconfirmed change is still in force",
				(unsigned long long)rec.id, rec.table, rec.safe_reason, rec.safe_state);
		journal_rec_fini(&rec);
	}
out:
	journal_close(j);
	diag_fini(&quiet);
}

/* ---- the --confirm watcher ---- */

enum watch { WATCH_DONE, WATCH_RETRY };

/* One try at the deadline: recover under the lock, then look at the record. */
static enum watch watcher_try(struct pl_ctx *ctx, uint64_t id, char *what, size_t len)
{
	struct journal *j = NULL;
	struct journal_rec rec = { 0 };
	struct diag q;
	struct stat st;
	char path[4200];
	unsigned fl = 0;
	enum watch w = WATCH_RETRY;
	int ret;

	diag_fini(&ctx->diag);
	diag_init(&ctx->diag);
	/* not there (renamed away, unmounted): journal_open() would make an empty one */
	snprintf(path, sizeof(path), "%s/" JOURNAL_SUBDIR, ctx->state_dir);
	if (stat(path, &st) < 0) {
		snprintf(what, len, "the journal dir is not there (%s)", strerror(errno));
		return WATCH_RETRY;
	}
	if (journal_open(&j, ctx->state_dir, -1, &ctx->diag)) {
		snprintf(what, len, "%s", diag_first(&ctx->diag));
		return WATCH_RETRY;
	}
	recover_locked(ctx, j, &fl);
	diag_init(&q);
	ret = journal_get(j, id, &rec, &q);
	if (ret == -ENOENT) {
		snprintf(what, len, "its record is gone (not in force: discarded)");
		w = WATCH_DONE;
	} else if (ret) {
		snprintf(what, len, "%s", diag_first(&q));
	} else if (rec.state == JOURNAL_STATE_REVERTED) {
		snprintf(what, len, "reverted");
		w = WATCH_DONE;
	} else if (rec.state == JOURNAL_STATE_APPLIED && rec.safe_state[0]) {
		snprintf(what, len, "left in the safe state \"%s\": %s", rec.safe_state, rec.safe_reason);
		w = WATCH_DONE;
	} else if (rec.state == JOURNAL_STATE_CONFIRMED || rec.state == JOURNAL_STATE_APPLIED) {
		snprintf(what, len, "%s", journal_state_str(rec.state));
		w = WATCH_DONE;
	} else {
		snprintf(what, len, "record still %s: %s", journal_state_str(rec.state),
			 ctx->diag.nrecs ? diag_first(&ctx->diag)
					 : rec.state == JOURNAL_STATE_PREPARED ? "it cannot be completed yet"
									       : "not reverted yet");
	}
	journal_rec_fini(&rec);
	diag_fini(&q);
	journal_close(j);
	return w;
}

/* The record's state without the lock; -1 when it cannot be read now. */
static int watcher_peek(const struct pl_ctx *ctx, uint64_t id)
{
	struct journal *j = NULL;
	struct journal_rec rec = { 0 };
	struct diag quiet;
	int st = -1;

	diag_init(&quiet);
	if (journal_open_readonly(&j, ctx->state_dir, &quiet) == 0) {
		if (journal_get(j, id, &rec, &quiet) == 0)
			st = (int)rec.state;
		journal_rec_fini(&rec);
		journal_close(j);
	}
	diag_fini(&quiet);
	return st;
}

/*
 * Until the deadline: stop early only when the record says confirmed,
 * reverted or applied (anything else, including an unreadable journal, keeps
 * watching). At the deadline: revert, and retry with backoff (1 s doubling
 * to 60 s) until it is done; every step goes to syslog (LOG_DAEMON).
 */
static void watcher(struct pl_ctx *ctx, uint64_t id, int64_t deadline)
{
	char t[32], what[512];
	unsigned backoff = 1;

	render_time(deadline, t, sizeof(t));
	slog(LOG_INFO, "watching transaction %llu (state dir %s): reverted at %s unless confirmed",
	     (unsigned long long)id, ctx->state_dir, t);
	for (;;) {
		int64_t now = time(NULL);
		int st;

		if (now >= deadline)
			break;
		sleep(deadline - now > 1 ? 1 : (unsigned)(deadline - now));
		st = watcher_peek(ctx, id);
		if (st == JOURNAL_STATE_CONFIRMED || st == JOURNAL_STATE_REVERTED ||
		    st == JOURNAL_STATE_APPLIED) {
			slog(LOG_INFO, "transaction %llu is %s before its deadline: nothing to do",
			     (unsigned long long)id, journal_state_str((enum journal_state)st));
			return;
		}
	}
	ctx->wait_s = -1;	/* the deadline must be honoured: wait for the lock */
	for (unsigned attempt = 1;; attempt++) {
		if (watcher_try(ctx, id, what, sizeof(what)) == WATCH_DONE) {
			slog(LOG_NOTICE, "transaction %llu at its deadline (%s): %s", (unsigned long long)id, t,
			     what);
			return;
		}
		slog(LOG_ERR, "transaction %llu: the revert at its deadline (%s) is not done (%s); try %u, next in %u s",
		     (unsigned long long)id, t, what, attempt, backoff);
		sleep(backoff);
		backoff = backoff >= 30 ? 60 : backoff * 2;
	}
}

/*
 * Fork a detached watcher; the parent returns at once. Called right after
 * the batch committed, before the record is completed and before any output:
 * nothing the caller does later (a closed or blocked stdout, a full disk,
 * being killed) can keep it from reverting at the deadline.
 */
static void spawn_watcher(struct pl_ctx *ctx, struct journal *j, uint64_t id, int64_t deadline)
{
	pid_t pid;

	/*
	 * No fflush() first: it could block on a stdout nobody reads. The
	 * child's copy of a stdio buffer is never flushed to the caller: its
	 * streams become /dev/null and it ends with _exit().
	 */
	pid = fork();
	if (pid < 0) {
		diag_warn(&ctx->diag, NULL,
			  "cannot start the confirm watcher (%s): the next portlock run reverts after the deadline",
			  strerror(errno));
		slog(LOG_ERR, "cannot start the watcher of transaction %llu: %s", (unsigned long long)id,
		     strerror(errno));
		return;
	}
	if (pid > 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return;
	}
	/* child: drop the journal handle without unlocking the parent's lock */
	journal_forget(j);
	nl_close_deferred();
	setsid();
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (fork() != 0)
		_exit(0);	/* the grandchild is re-parented: it survives logout */
	{
		/*
		 * Nothing of the caller's may be kept: a pipe reader (ssh, Ansible,
		 * "| cat") would wait for the deadline. The journal and syslog
		 * record what the watcher does.
		 */
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	diag_fini(&ctx->diag);
	diag_init(&ctx->diag);
	watcher(ctx, id, deadline);
	_exit(0);
}

/* ---- apply ---- */

/* journal_open() errors after which apply may go on without a journal (fail safe, not open) */
static bool journal_unwritable(int err)
{
	return err != -EAGAIN && err != -EPERM && err != -ENOTDIR && err != -ENOMEM && err != -EINVAL;
}

static int apply_run(struct pl_ctx *ctx, const struct policy *p, const struct txn_opts *o,
		     char **cut_old, char **cut_now, struct txn_result *res);

int txn_apply(struct pl_ctx *ctx, const struct policy *p, const struct txn_opts *o,
	      struct txn_result *res)
{
	char *cut_old = NULL, *cut_now = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = apply_run(ctx, p, o, &cut_old, &cut_now, res);

	/* a --confirm change is provisional: its cut sessions stay counted */
	if ((rc == PL_EXIT_OK || rc == PL_EXIT_NOJOURNAL) && !o->confirm_s)
		ssh_cut_write(ctx, cut_old, cut_now);
	free(cut_old);
	free(cut_now);
	return rc;
}

/* The SSH lockout guard before an apply: 0, or PL_EXIT_CONFLICT (refused). */
static int apply_ssh_guard(struct pl_ctx *ctx, const struct policy *p, const struct txn_opts *o,
			   char **cut_old, char **cut_now)
{
	char msg[512];

	if (!ssh_would_be_cut(ctx, p, msg, sizeof(msg), cut_old, cut_now))
		return 0;
	if (o->boot) {
		/* enforcing the policy at boot (or after a flush) beats the lockout guard */
		diag_warn(&ctx->diag, NULL, "%s; enforcing the policy anyway (--boot)", msg);
	} else if (!o->force) {
		diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
			 "%s; refusing to apply (add the address to the allowlist, or use --force, best with --confirm SECONDS)",
			 msg);
		return PL_EXIT_CONFLICT;
	} else {
		diag_warn(&ctx->diag, NULL, "%s; applying anyway (--force)%s", msg,
			  o->confirm_s ? "" : ": consider --confirm SECONDS so that it reverts by itself");
	}
	return 0;
}

/*
 * The journal for an apply, locked: *jp, or NULL when it cannot be written
 * and the apply goes on without it (hook_before() decides; h says why).
 * Returns 0 or the exit code that ends the run.
 */
static int apply_open_journal(struct pl_ctx *ctx, const struct txn_opts *o, struct journal **jp,
			      struct hook *h)
{
	struct diag jq;
	int ret;

	diag_init(&jq);
	ret = journal_open(jp, ctx->state_dir, wait_seconds(ctx), &jq);
	if (ret && (!journal_unwritable(ret) || o->confirm_s)) {
		diag_move(&ctx->diag, &jq, false);
		diag_fini(&jq);
		if (o->confirm_s && journal_unwritable(ret))
			diag_note(&ctx->diag, NULL,
				  "the deadline of --confirm cannot be armed without a journal record: nothing was changed");
		return diag_exit_code(&ctx->diag);
	}
	if (ret) {
		/* enforcement does not depend on the journal: hook_before() decides */
		*jp = NULL;
		snprintf(h->why, sizeof(h->why), "%s", diag_first(&jq));
		h->jcls = jq.worst;
		diag_warn(&ctx->diag, NULL,
			  "%s: no transaction in it is honoured or recorded in this run", h->why);
	}
	diag_fini(&jq);
	return 0;
}

/* After the commit: complete the record (or say there is none) and prune. Returns an exit code. */
static int apply_record(struct pl_ctx *ctx, const struct policy *p, struct journal *j, struct hook *h,
			struct sync_result *r, int64_t deadline)
{
	struct diag w;
	int rc = PL_EXIT_OK;

	if (h->unjournaled) {
		diag_warn(&ctx->diag, NULL,
			  "the policy is enforced WITHOUT a journal record (%s): 'portlock revert' cannot undo this change; exit status 7",
			  h->why);
		return PL_EXIT_NOJOURNAL;
	}
	diag_init(&w);
	h->d = &w;
	if (hook_commit(h, r, &r->want, deadline ? JOURNAL_STATE_PENDING : JOURNAL_STATE_APPLIED)) {
		diag_move(&ctx->diag, &w, true);
		diag_warn(&ctx->diag, NULL,
			  deadline ? "the change is applied but its journal record could not be completed; its deadline stands (the watcher, recover and apply honour it)"
				   : "the change is applied but its journal record could not be completed; the next run resolves it");
		rc = PL_EXIT_NOJOURNAL;
	}
	h->d = &ctx->diag;
	diag_fini(&w);
	journal_prune(j, p->journal_keep, &ctx->diag);
	util_mark("txn: journal pruned");
	return rc;
}

/*
 * What the journal says comes before the policy: a pending transaction
 * (refused without --force; apply --boot restores it), or this very policy
 * auto-reverted as unconfirmed (refused without --force or --confirm; apply
 * --boot restores the auto-revert). True when the run ends here (*rc says
 * how, res what to show).
 */
static bool apply_journal_first(struct pl_ctx *ctx, const struct policy *p, const struct txn_opts *o,
				struct journal *j, const char *hash, char **cut_now,
				struct txn_result *res, int *rc)
{
	struct journal_rec pend = { 0 };
	bool end = true;

	if (journal_pending(j, &pend, &ctx->diag) == 0) {
		char t[32];

		render_time(pend.confirm_deadline, t, sizeof(t));
		if (o->boot && !strcmp(pend.table, p->table)) {
			char why[128];

			snprintf(why, sizeof(why), "transaction %llu awaits confirmation until %s",
				 (unsigned long long)pend.id, t);
			*rc = restore_result(ctx, j, &pend, JOURNAL_KIND_APPLY, why, res);
			free(*cut_now);	/* the policy was not applied: its cut sessions mean nothing */
			*cut_now = NULL;
			goto done;
		}
		if (!o->force) {
			diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
				 "transaction %llu awaits confirmation until %s: run 'portlock confirm' or 'portlock revert' first",
				 (unsigned long long)pend.id, t);
			*rc = PL_EXIT_CONFLICT;
			goto done;
		}
		/* --force: the pending one is accepted as it stands */
		journal_set_state(j, pend.id, JOURNAL_STATE_CONFIRMED, &ctx->diag);
	}
	if (!o->force && !o->confirm_s) {
		char why[256];
		uint64_t undone_id = 0, auto_id = 0;

		/* the same policy was just auto-reverted as unconfirmed: do not bring the lockout back */
		if (auto_reverted_in(j, hash, why, sizeof(why), &undone_id, &auto_id)) {
			struct journal_rec ar = { 0 };

			if (o->boot && journal_get(j, auto_id, &ar, &ctx->diag) == 0) {
				*rc = restore_result(ctx, j, &ar, JOURNAL_KIND_AUTO_REVERT, why, res);
				free(*cut_now);	/* the policy was not applied */
				*cut_now = NULL;
				journal_rec_fini(&ar);
				goto done;
			}
			journal_rec_fini(&ar);
			diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
				 "%s; keeping the restored table: use --confirm SECONDS to try again under a deadline, or --force",
				 why);
			res->outcome = TXN_APPLY_REFUSED;
			snprintf(res->table, sizeof(res->table), "%s", p->table);
			snprintf(res->why, sizeof(res->why), "%s", why);
			res->target_id = undone_id;
			res->auto_id = auto_id;
			*rc = PL_EXIT_CONFLICT;
			goto done;
		}
	}
	end = false;
done:
	journal_rec_fini(&pend);
	return end;
}

/*
 * apply: the SSH guard; the journal, locked, and its recovery; what the
 * journal says first (a pending transaction, this policy just auto-reverted);
 * the engine's guarded batch; the record completed. Output is the caller's.
 */
static int apply_run(struct pl_ctx *ctx, const struct policy *p, const struct txn_opts *o,
		     char **cut_old, char **cut_now, struct txn_result *res)
{
	struct sync_opts so = { .mode = SYNC_APPLY, .capture_prior = true };
	struct sync_result r = { 0 };
	struct journal *j = NULL;
	struct hook h = { .j = NULL, .kind = JOURNAL_KIND_APPLY, .d = &ctx->diag, .table = p->table,
			  .state_dir = ctx->state_dir, .confirm_s = o->confirm_s,
			  .skip_journal_ok = o->no_journal_ok, .skip_journal_if_absent = true };
	struct nft_read_cache cache = { 0 };
	char hash[65];
	int ret, rc = PL_EXIT_OK;
	unsigned fl = 0;
	int64_t deadline = 0;
	const char *pause = testhook("PORTLOCK_TEST_PAUSE_MS");
	const char *pause_after = testhook("PORTLOCK_TEST_PAUSE_AFTER_MS");

	rc = apply_ssh_guard(ctx, p, o, cut_old, cut_now);
	if (rc)
		return rc;
	if (sync_check_access(&ctx->diag))
		return diag_exit_code(&ctx->diag);
	rc = apply_open_journal(ctx, o, &j, &h);
	if (rc)
		return rc;
	util_mark("txn: journal open");
	if (j) {
		rc = recover_locked(ctx, j, &fl);
		/*
		 * A safe state taken now leaves the table as it was: the policy
		 * may still be applied. A revert the journal could not record
		 * ends the run: the policy it undid is not put back unrecorded.
		 */
		if (rc && !(rc == PL_EXIT_CONFLICT && fl == RECOVER_SAFE))
			goto out;
		rc = PL_EXIT_OK;
	}
	policy_hash(p, hash);
	if (j && apply_journal_first(ctx, p, o, j, hash, cut_now, res, &rc))
		goto out;
	h.j = j;
	h.policy_hash = hash;
	h.policy = p;
	h.o = o;
	so.max_elem_lines = ctx->verbose > 0 ? 0 : 20;
	sync_journaled(&so, &h);
	if (pause)
		so.pause_ms = (unsigned)atoi(pause);
	util_mark("txn: journal open, recovered");
	sync_cached(&so, &cache, ctx->state_dir, p->table);
	util_mark("txn: live note loaded");
	ret = sync_run(p, &so, &r, &ctx->diag);
	if (ret == -EBADMSG && o->cache_damaged)
		*o->cache_damaged = true;
	if (ret) {
		diag_note(&ctx->diag, NULL, "nothing was changed");
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	if (r.committed) {
		/* the batch and the prior table are no longer needed: free them before anything else */
		util_mark("txn: committed");
		nl_batch_free(r.plan.batch);
		r.plan.batch = NULL;
		nm_live_fini(&r.live);
		util_mark("txn: prior freed");
		deadline = h.unjournaled ? 0 : h.rec.confirm_deadline;
		/* first the watcher: it exists before the record is completed and before any output */
		if (deadline)
			spawn_watcher(ctx, j, h.rec.id, deadline);
		if (pause_after)
			usleep((unsigned)atoi(pause_after) * 1000u);	/* test hook: kill -9 after the commit */
		rc = apply_record(ctx, p, j, &h, &r, deadline);
	}
	/* output only by the caller, after the lock: a blocked or closed stdout holds nothing up */
	res->source = p->source;
	res->journaled = r.committed && !h.unjournaled;
	res->id = res->journaled ? h.rec.id : 0;
	res->confirm_deadline = deadline;
	result_take(res, r.committed ? TXN_APPLIED : TXN_IN_SYNC, p->table, &r);
	if (o->impact && o->impact->judged) {
		res->impact = o->impact;
		res->impact_policy = p;
	}
out:
	if (h.prepared)
		journal_rec_fini(&h.rec);
	sync_result_fini(&r);
	livecache_fini(&cache);
	journal_close(j);
	return rc;
}

int txn_revert(struct pl_ctx *ctx, uint64_t id, const struct txn_opts *o, struct txn_result *res)
{
	static const struct txn_opts defaults = { 0 };
	struct journal *j = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!o)
		o = &defaults;
	if (sync_check_access(&ctx->diag))
		return diag_exit_code(&ctx->diag);
	if (o->dry_run) {
		struct journal_rec pend = { 0 };
		struct diag quiet;

		/* read-only: no lock, no recovery; the kernel is not touched */
		if (journal_open_readonly(&j, ctx->state_dir, &ctx->diag))
			return diag_exit_code(&ctx->diag);
		diag_init(&quiet);
		if (journal_pending(j, &pend, &quiet) == 0 && pend.confirm_deadline &&
		    time(NULL) >= pend.confirm_deadline)
			diag_warn(&ctx->diag, NULL,
				  "transaction %llu is past its confirmation deadline: the next run that changes the ruleset reverts it first, and this dry run does not show that",
				  (unsigned long long)pend.id);
		journal_rec_fini(&pend);
		diag_fini(&quiet);
		rc = revert_run(ctx, j, id, JOURNAL_KIND_REVERT, false, o, res);
		journal_close(j);
		return rc;
	}
	if (journal_open(&j, ctx->state_dir, wait_seconds(ctx), &ctx->diag))
		return diag_exit_code(&ctx->diag);
	rc = recover_locked(ctx, j, NULL);
	if (!rc)
		rc = revert_run(ctx, j, id, JOURNAL_KIND_REVERT, false, o, res);
	journal_close(j);
	return rc;
}

int txn_confirm(struct pl_ctx *ctx, struct txn_result *res)
{
	struct journal *j = NULL;
	struct journal_rec rec = { 0 };
	int rc = PL_EXIT_OK;

	memset(res, 0, sizeof(*res));
	if (journal_open(&j, ctx->state_dir, wait_seconds(ctx), &ctx->diag))
		return diag_exit_code(&ctx->diag);
	rc = recover_locked(ctx, j, NULL);
	if (rc)
		goto out;
	if (journal_pending(j, &rec, &ctx->diag) != 0) {
		diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0, "nothing awaits confirmation in %s",
			 ctx->state_dir);
		rc = PL_EXIT_CONFLICT;
		goto out;
	}
	if (journal_set_state(j, rec.id, JOURNAL_STATE_CONFIRMED, &ctx->diag)) {
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	res->outcome = TXN_CONFIRMED;
	res->id = rec.id;
	snprintf(res->table, sizeof(res->table), "%s", rec.table);
out:
	journal_rec_fini(&rec);
	journal_close(j);
	return rc;
}
