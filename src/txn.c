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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cidr.h"
#include "cmd.h"
#include "diag.h"
#include "journal.h"
#include "nft_model.h"
#include "nft_read.h"
#include "nl.h"
#include "policy.h"
#include "render.h"
#include "snapshot.h"
#include "sync.h"

/* ---- journal hooks around the batch ---- */

struct hook {
	struct journal *j;
	struct journal_rec rec;
	bool prepared;
	enum journal_kind kind;
	uint64_t reverts_id;
	const char *policy_hash;
	const char *table;
	const char *state_dir;
	struct diag *d;
};

static int hook_before(void *arg, struct sync_result *r)
{
	struct hook *h = arg;
	struct snapshot c;
	int ret;

	ret = journal_begin(h->j, &h->rec, h->d);
	if (ret)
		return ret;
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
	ret = snapshot_from_live(&r->live, journal_objects_path(h->j), &c);
	if (ret)
		ret = diag_err(h->d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	if (!ret)
		ret = journal_prepare(h->j, &h->rec, &c.jc, h->d);
	snapshot_fini(&c);
	if (ret) {
		journal_rec_fini(&h->rec);
		return ret;
	}
	h->prepared = true;
	return 0;
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

/*
 * After a commit: read the table back and complete the record. want: the
 * table the batch made (its range sets are taken instead of dumped when the
 * generation shows that nothing else committed since; they are moved out).
 */
static int hook_commit(struct hook *h, struct sync_result *r, struct nm_table *want,
		       enum journal_state st, int64_t deadline)
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
	h->rec.confirm_deadline = deadline;
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

/* ---- helpers ---- */

static int wait_seconds(const struct pl_ctx *ctx)
{
	return ctx->wait_s;
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	localtime_r(&tt, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

/*
 * The operator's own SSH session: would the policy cut it? Returns true and
 * describes it in msg when SSH_CONNECTION's client may not reach its port.
 */
static bool ssh_would_be_cut(const struct policy *p, char *msg, size_t len)
{
	const char *env = getenv("SSH_CONNECTION");
	char client[64], server[64];
	unsigned cport, sport;
	const struct policy_service *s;
	struct cidr c;

	if (!env || !*env)
		return false;
	if (sscanf(env, "%63s %u %63s %u", client, &cport, server, &sport) != 4 || sport > 65535)
		return false;
	s = policy_find_port(p, POLICY_TCP, (uint16_t)sport);
	if (!s)
		return false;
	if (strncmp(client, "::ffff:", 7) == 0 && strchr(client, '.'))
		memmove(client, client + 7, strlen(client + 7) + 1);
	if (cidr_parse(client, &c) != CIDR_OK)
		return false;
	if (p->loopback && ((c.family == CIDR_V4 && (c.addr >> 24) == 127) ||
			    (c.family == CIDR_V6 && c.addr == 1)))
		return false;
	if (policy_service_allows(s, c.family, c.addr))
		return false;
	snprintf(msg, len,
		 "your SSH session from %s to port %u would be cut: service '%s' (%s:%d) does not allow %s",
		 client, sport, s->name, s->file ? s->file : "?", s->line, client);
	return true;
}

/* ---- revert (lock held) ---- */

static int revert_locked(struct pl_ctx *ctx, struct journal *j, uint64_t id,
			 enum journal_kind kind, bool quiet)
{
	struct journal_rec target = { 0 };
	struct nm_table want;
	struct sync_opts so = { .mode = SYNC_APPLY, .max_elem_lines = 20, .capture_prior = true };
	struct sync_result r = { 0 };
	struct hook h = { .j = j, .kind = kind, .d = &ctx->diag, .state_dir = ctx->state_dir };
	struct journal_rec *recs = NULL;
	struct nft_read_cache cache = { 0 };
	size_t n = 0;
	int ret, rc = PL_EXIT_OK;

	memset(&want, 0, sizeof(want));
	if (id == 0) {
		ret = journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_APPLIED) |
				      JOURNAL_STATE_BIT(JOURNAL_STATE_PENDING) |
				      JOURNAL_STATE_BIT(JOURNAL_STATE_CONFIRMED), &target, &ctx->diag);
		if (ret == -ENOENT) {
			diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
				 "nothing to revert: no transaction in force in %s", ctx->state_dir);
			return PL_EXIT_CONFLICT;
		}
	} else {
		ret = journal_get(j, id, &target, &ctx->diag);
	}
	if (ret)
		return diag_exit_code(&ctx->diag);
	if (target.state == JOURNAL_STATE_REVERTED || target.state == JOURNAL_STATE_PREPARED) {
		diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0, "transaction %llu is %s: nothing to revert",
			 (unsigned long long)target.id, journal_state_str(target.state));
		rc = PL_EXIT_CONFLICT;
		goto out;
	}
	{
		char what[96];

		snprintf(what, sizeof(what), "transaction %llu", (unsigned long long)target.id);
		/* a prior that was absent: exists = false, the table is deleted */
		ret = snapshot_load(j, &target, false, true, &want, what, &ctx->diag);
		if (ret) {
			rc = diag_exit_code(&ctx->diag);
			goto out;
		}
	}
	/* only a table this state dir created, and whose history still holds (snapshot.h) */
	if (snapshot_check_owner(j, &target, kind == JOURNAL_KIND_REVERT, &ctx->diag)) {
		rc = diag_exit_code(&ctx->diag);
		diag_note(&ctx->diag, NULL, "nothing was reverted");
		goto out;
	}
	h.reverts_id = target.id;
	h.table = target.table;
	livecache_load(ctx->state_dir, target.table, &cache);
	cache.lazy_ok = true;
	so.cache = &cache;
	so.before_send = hook_before;
	so.after_send = hook_after;
	so.arg = &h;
	ret = sync_to(&want, &so, &r, &ctx->diag);
	if (ret) {
		rc = diag_exit_code(&ctx->diag);
		diag_note(&ctx->diag, NULL, "nothing was reverted");
		goto out;
	}
	if (r.committed) {
		nl_batch_free(r.plan.batch);
		r.plan.batch = NULL;
		nm_live_fini(&r.live);
		ret = hook_commit(&h, &r, &want, JOURNAL_STATE_APPLIED, 0);
		if (ret)
			rc = diag_exit_code(&ctx->diag);
	}
	/* the target and every later transaction of its table still in force are undone */
	if (journal_list(j, 0, &recs, &n, &ctx->diag) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (recs[i].id < target.id || (h.prepared && recs[i].id == h.rec.id) ||
			    strcmp(recs[i].table, target.table))
				continue;
			if (recs[i].state == JOURNAL_STATE_APPLIED || recs[i].state == JOURNAL_STATE_PENDING ||
			    recs[i].state == JOURNAL_STATE_CONFIRMED)
				journal_set_state(j, recs[i].id, JOURNAL_STATE_REVERTED, &ctx->diag);
		}
	}
	if (!quiet && !ctx->json) {
		char counts[400];

		render_plan_counts(&r.plan, counts, sizeof(counts));
		if (r.committed)
			printf("transaction %llu reverted transaction %llu on table inet %s: %s\n",
			       (unsigned long long)h.rec.id, (unsigned long long)target.id, target.table,
			       counts);
		else
			printf("table inet %s already matches its state before transaction %llu; marked reverted\n",
			       target.table, (unsigned long long)target.id);
	}
	if (ctx->json && !quiet)
		printf("{\"reverted\": %llu, \"transaction\": %llu, \"changed\": %s}\n",
		       (unsigned long long)target.id, (unsigned long long)(r.committed ? h.rec.id : 0),
		       r.committed ? "true" : "false");
	if (r.committed)
		journal_prune(j, POLICY_DEFAULT_JOURNAL_KEEP, &ctx->diag);
out:
	if (h.prepared)
		journal_rec_fini(&h.rec);
	journal_recs_free(recs, n);
	livecache_fini(&cache);
	nm_table_fini(&want);
	sync_result_fini(&r);
	journal_rec_fini(&target);
	return rc;
}

/* A record left "prepared" by a crash: was its batch committed? */
static void resolve_prepared(struct pl_ctx *ctx, struct journal *j, struct journal_rec *rec)
{
	struct nm_table prior;
	struct nm_live live = { 0 };
	struct plan pl;
	int ret;

	ret = snapshot_load(j, rec, false, true, &prior, "interrupted transaction", &ctx->diag);
	if (!ret)
		ret = sync_read(rec->table, NULL, 0, &live, &ctx->diag);
	if (!ret)
		ret = plan_resolve(&prior, &live, &ctx->diag);
	if (ret == -ESTALE)
		ret = diag_err(&ctx->diag, DIAG_INTERNAL, NULL, ESTALE, "reading the live table");
	if (!ret)
		ret = plan_build(&prior, &live, 0, &pl, &ctx->diag);
	if (!ret) {
		if (plan_empty(&pl)) {
			diag_note(&ctx->diag, NULL,
				  "transaction %llu was interrupted before the kernel applied it: discarded",
				  (unsigned long long)rec->id);
			journal_abort(j, rec, &ctx->diag);
		} else {
			struct snapshot c;

			diag_note(&ctx->diag, NULL,
				  "transaction %llu was interrupted after the kernel applied it: recorded",
				  (unsigned long long)rec->id);
			rec->state = JOURNAL_STATE_APPLIED;
			rec->gen_after = live.genid;
			rec->result_absent = !live.t.exists;
			if (snapshot_from_live(&live, journal_objects_path(j), &c) == 0 &&
			    journal_commit(j, rec, NULL, &c.jc, &ctx->diag) == 0 && live.t.exists)
				livecache_store(ctx->state_dir, rec->table, live.genid, live.t.handle, rec->id);
			snapshot_fini(&c);
		}
		plan_fini(&pl);
	}
	nm_table_fini(&prior);
	nm_live_fini(&live);
}

/* When this boot began (unix seconds). */
static int64_t boot_time(void)
{
	struct timespec up;

	if (clock_gettime(CLOCK_BOOTTIME, &up) < 0)
		return 0;
	return (int64_t)time(NULL) - up.tv_sec;
}

/* Lock held: resolve prepared records, revert an expired pending one. */
static int recover_locked(struct pl_ctx *ctx, struct journal *j)
{
	struct journal_rec rec = { 0 };
	int rc = PL_EXIT_OK;

	while (journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &rec, &ctx->diag) == 0) {
		uint64_t id = rec.id;

		struct diag quiet;
		bool stuck;

		resolve_prepared(ctx, j, &rec);
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
		char t[32];

		fmt_time(rec.confirm_deadline, t, sizeof(t));
		if (rec.confirm_deadline && time(NULL) >= rec.confirm_deadline) {
			fprintf(stderr, "portlock: transaction %llu was not confirmed by %s: reverting it\n",
				(unsigned long long)rec.id, t);
			rc = revert_locked(ctx, j, rec.id, JOURNAL_KIND_AUTO_REVERT, false);
		} else if (rec.time < boot_time() - 5) {
			/* its watcher died with the previous boot: unconfirmed changes do not survive a reboot */
			fprintf(stderr, "portlock: transaction %llu was not confirmed before the reboot: reverting it\n",
				(unsigned long long)rec.id);
			rc = revert_locked(ctx, j, rec.id, JOURNAL_KIND_AUTO_REVERT, false);
		}
		journal_rec_fini(&rec);
	}
	return rc;
}

int txn_recover(struct pl_ctx *ctx, bool cheap)
{
	struct journal *j = NULL;
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
	rc = recover_locked(ctx, j);
	journal_close(j);
	return rc;
}

/* ---- the --confirm watcher ---- */

static void watcher(struct pl_ctx *ctx, uint64_t id, int64_t deadline)
{
	for (;;) {
		struct journal *j = NULL;
		struct journal_rec rec = { 0 };
		struct diag quiet;
		bool pending = false;
		int64_t now = time(NULL);

		if (now >= deadline)
			break;
		sleep(deadline - now > 1 ? 1 : (unsigned)(deadline - now));
		diag_init(&quiet);
		if (journal_open_readonly(&j, ctx->state_dir, &quiet) == 0) {
			pending = journal_get(j, id, &rec, &quiet) == 0 &&
				  rec.state == JOURNAL_STATE_PENDING;
			journal_rec_fini(&rec);
			journal_close(j);
		}
		diag_fini(&quiet);
		if (!pending)
			return;	/* confirmed, reverted, or gone */
	}
	ctx->wait_s = -1;	/* the deadline must be honoured: wait for the lock */
	txn_recover(ctx, false);
	diag_print(&ctx->diag, stderr);
}

/* Fork a detached watcher; the parent returns at once. */
static void spawn_watcher(struct pl_ctx *ctx, struct journal *j, uint64_t id, int64_t deadline)
{
	pid_t pid = fork();

	if (pid < 0) {
		diag_warn(&ctx->diag, NULL,
			  "cannot start the confirm watcher (%s): the next portlock run reverts after the deadline",
			  strerror(errno));
		return;
	}
	if (pid > 0) {
		waitpid(pid, NULL, 0);
		return;
	}
	/* child: drop the journal handle without unlocking the parent's lock */
	journal_forget(j);
	nl_close_deferred();
	setsid();
	signal(SIGHUP, SIG_IGN);
	if (fork() != 0)
		_exit(0);	/* the grandchild is re-parented: it survives logout */
	{
		/*
		 * Nothing of the caller's may be kept: a pipe reader (ssh, Ansible,
		 * "| cat") would wait for the deadline, and one that went away
		 * would kill the watcher with SIGPIPE before it reverts. The
		 * journal records what the watcher does.
		 */
		int fd = open("/dev/null", O_RDWR);

		signal(SIGPIPE, SIG_IGN);
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

int txn_apply(struct pl_ctx *ctx, const struct policy *p, const struct txn_opts *o)
{
	struct sync_opts so = { .mode = SYNC_APPLY, .capture_prior = true };
	struct sync_result r = { 0 };
	struct journal *j = NULL;
	struct journal_rec pend = { 0 };
	struct hook h = { .j = NULL, .kind = JOURNAL_KIND_APPLY, .d = &ctx->diag, .table = p->table,
			  .state_dir = ctx->state_dir };
	struct nft_read_cache cache = { 0 };
	char hash[65], msg[512];
	int ret, rc = PL_EXIT_OK;
	const char *pause = getenv("PORTLOCK_TEST_PAUSE_MS");

	if (ssh_would_be_cut(p, msg, sizeof(msg))) {
		if (!o->force) {
			diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
				 "%s; refusing to apply (add the address to the allowlist, or use --force, best with --confirm SECONDS)",
				 msg);
			return PL_EXIT_CONFLICT;
		}
		diag_warn(&ctx->diag, NULL, "%s; applying anyway (--force)%s", msg,
			  o->confirm_s ? "" : ": consider --confirm SECONDS so that it reverts by itself");
	}
	if (sync_check_access(&ctx->diag))
		return diag_exit_code(&ctx->diag);
	if (journal_open(&j, ctx->state_dir, wait_seconds(ctx), &ctx->diag))
		return diag_exit_code(&ctx->diag);
	util_mark("txn: journal open");
	rc = recover_locked(ctx, j);
	if (rc)
		goto out;
	if (journal_pending(j, &pend, &ctx->diag) == 0) {
		char t[32];

		fmt_time(pend.confirm_deadline, t, sizeof(t));
		if (!o->force) {
			diag_err(&ctx->diag, DIAG_CONFLICT, NULL, 0,
				 "transaction %llu awaits confirmation until %s: run 'portlock confirm' or 'portlock revert' first",
				 (unsigned long long)pend.id, t);
			rc = PL_EXIT_CONFLICT;
			goto out;
		}
		/* --force: the pending one is accepted as it stands */
		journal_set_state(j, pend.id, JOURNAL_STATE_CONFIRMED, &ctx->diag);
	}
	policy_hash(p, hash);
	if (!o->force && !o->confirm_s) {
		struct journal_rec last = { 0 }, undone = { 0 };

		/* the same policy was just auto-reverted as unconfirmed: do not bring the lockout back */
		if (journal_last(j, JOURNAL_STATE_ANY & ~JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &last,
				 &ctx->diag) == 0 &&
		    last.kind == JOURNAL_KIND_AUTO_REVERT && last.state != JOURNAL_STATE_REVERTED &&
		    journal_get(j, last.reverts_id, &undone, &ctx->diag) == 0 &&
		    !strcmp(undone.policy_sha256, hash)) {
			diag_warn(&ctx->diag, NULL,
				  "this policy was applied as transaction %llu and reverted because nobody confirmed it (transaction %llu); keeping the restored table: use --confirm SECONDS to try again, or --force",
				  (unsigned long long)undone.id, (unsigned long long)last.id);
			journal_rec_fini(&last);
			journal_rec_fini(&undone);
			goto out;
		}
		journal_rec_fini(&last);
		journal_rec_fini(&undone);
	}
	h.j = j;
	h.policy_hash = hash;
	so.max_elem_lines = ctx->verbose > 0 ? 0 : 20;
	so.before_send = hook_before;
	so.after_send = hook_after;
	so.arg = &h;
	if (pause)
		so.pause_ms = (unsigned)atoi(pause);
	util_mark("txn: journal open, recovered");
	livecache_load(ctx->state_dir, p->table, &cache);
	util_mark("txn: live note loaded");
	cache.lazy_ok = true;
	so.cache = &cache;
	ret = sync_run(p, &so, &r, &ctx->diag);
	if (ret) {
		diag_note(&ctx->diag, NULL, "nothing was changed");
		rc = diag_exit_code(&ctx->diag);
		goto out;
	}
	if (!r.committed) {
		if (ctx->json)
			printf("{\"applied\": false, \"in_sync\": true, \"generation\": %u}\n", r.gen_before);
		else
			printf("no changes: table inet %s matches %s (generation %u)\n", p->table, p->source,
			       r.gen_before);
		goto out;
	}
	{
		int64_t deadline = o->confirm_s ? (int64_t)time(NULL) + o->confirm_s : 0;
		char counts[400], t[32];

		/* the batch and the prior table are no longer needed: free them before reading back */
		util_mark("txn: committed");
		nl_batch_free(r.plan.batch);
		r.plan.batch = NULL;
		nm_live_fini(&r.live);
		util_mark("txn: prior freed");
		ret = hook_commit(&h, &r, &r.want,
				  o->confirm_s ? JOURNAL_STATE_PENDING : JOURNAL_STATE_APPLIED, deadline);
		if (ret) {
			diag_warn(&ctx->diag, NULL,
				  "the change is applied but its journal record could not be completed; the next run resolves it");
			rc = diag_exit_code(&ctx->diag);
		}
		render_plan_counts(&r.plan, counts, sizeof(counts));
		if (ctx->json) {
			json_t *jo = render_plan_json(&r.plan);

			json_object_set_new(jo, "applied", json_true());
			json_object_set_new(jo, "transaction", json_integer((json_int_t)h.rec.id));
			json_object_set_new(jo, "generation", json_integer(r.gen_before));
			json_object_set_new(jo, "generation_after", json_integer(r.gen_after));
			json_object_set_new(jo, "messages", json_integer((json_int_t)r.nmsgs));
			json_object_set_new(jo, "bytes", json_integer((json_int_t)r.bytes));
			json_object_set_new(jo, "kernel_ms", json_real((double)r.kernel_us / 1000.0));
			json_object_set_new(jo, "attempts", json_integer(r.attempts));
			json_object_set_new(jo, "confirm_deadline",
					    deadline ? json_integer(deadline) : json_null());
			json_dumpf(jo, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			putchar('\n');
			json_decref(jo);
		} else {
			if (ctx->verbose >= 0)
				render_plan_text(&r.plan, stdout);
			printf("transaction %llu applied to table inet %s: %s (generation %u -> %u)\n",
			       (unsigned long long)h.rec.id, p->table, counts, r.gen_before, r.gen_after);
			if (deadline) {
				fmt_time(deadline, t, sizeof(t));
				printf("transaction %llu reverts at %s unless 'portlock confirm' comes first\n",
				       (unsigned long long)h.rec.id, t);
			}
		}
		if (ctx->verbose > 0)
			fprintf(stderr, "portlock: batch of %zu messages, %zu bytes, %d attempt%s, %.1f ms in the kernel\n",
				r.nmsgs, r.bytes, r.attempts, r.attempts == 1 ? "" : "s", (double)r.kernel_us / 1000.0);
		journal_prune(j, p->journal_keep, &ctx->diag);
		util_mark("txn: journal pruned");
		fflush(stdout);
		if (deadline && !ret)
			spawn_watcher(ctx, j, h.rec.id, deadline);
	}
out:
	if (h.prepared)
		journal_rec_fini(&h.rec);
	journal_rec_fini(&pend);
	sync_result_fini(&r);
	livecache_fini(&cache);
	journal_close(j);
	return rc;
}

int txn_revert(struct pl_ctx *ctx, uint64_t id)
{
	struct journal *j = NULL;
	int rc;

	if (sync_check_access(&ctx->diag))
		return diag_exit_code(&ctx->diag);
	if (journal_open(&j, ctx->state_dir, wait_seconds(ctx), &ctx->diag))
		return diag_exit_code(&ctx->diag);
	rc = recover_locked(ctx, j);
	if (!rc)
		rc = revert_locked(ctx, j, id, JOURNAL_KIND_REVERT, false);
	journal_close(j);
	return rc;
}

int txn_confirm(struct pl_ctx *ctx)
{
	struct journal *j = NULL;
	struct journal_rec rec = { 0 };
	int rc = PL_EXIT_OK;

	if (journal_open(&j, ctx->state_dir, wait_seconds(ctx), &ctx->diag))
		return diag_exit_code(&ctx->diag);
	rc = recover_locked(ctx, j);
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
	if (ctx->json)
		printf("{\"confirmed\": %llu}\n", (unsigned long long)rec.id);
	else
		printf("transaction %llu confirmed: it stays\n", (unsigned long long)rec.id);
out:
	journal_rec_fini(&rec);
	journal_close(j);
	return rc;
}
