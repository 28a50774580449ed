// SPDX-License-Identifier: GPL-2.0-or-later
/* Apply engine: read -> build -> diff -> one guarded batch, with bounded retries. */
#include "sync.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "nft_build.h"
#include "nft_read.h"
#include "nl.h"
#include "policy.h"

void sync_result_fini(struct sync_result *r)
{
	nm_live_fini(&r->live);
	nm_table_fini(&r->want);
	plan_fini(&r->plan);
	memset(r, 0, sizeof(*r));
}

static int sync_engine(struct nm_table *wantp, const struct sync_opts *o, struct sync_result *r,
		       struct diag *d);

int sync_run(const struct policy *p, const struct sync_opts *o, struct sync_result *r,
	     struct diag *d)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = nft_build(p, &r->want);
	util_mark("sync: desired table built");
	if (ret)
		return diag_err(d, DIAG_INTERNAL, NULL, -ret, "building the ruleset");
	return sync_engine(&r->want, o, r, d);
}

int sync_read(const char *table, struct nm_table *want, uint32_t gen_after, struct nm_live *out,
	      struct diag *d)
{
	struct nft_read_cache c = { .genid = gen_after, .id = 0, .t = want, .lazy_ok = true };
	struct nl_sock *s = NULL;
	int ret = nl_open(&s, d);

	if (!ret)
		ret = nft_read(s, table, true, want && gen_after ? &c : NULL, out, d);
	nl_close(s);
	return ret;
}

int sync_check_access(struct diag *d)
{
	struct nl_sock *s = NULL;
	uint32_t gen;
	int ret = nl_open(&s, d);

	if (!ret)
		ret = nl_getgen(s, &gen, d);
	nl_close(s);
	return ret;
}

int sync_to(struct nm_table *wantp, const struct sync_opts *o, struct sync_result *r,
	    struct diag *d)
{
	memset(r, 0, sizeof(*r));
	return sync_engine(wantp, o, r, d);
}

static int sync_engine(struct nm_table *wantp, const struct sync_opts *o, struct sync_result *r,
		       struct diag *d)
{
	struct nm_table *p_want = wantp;
	struct nl_sock *s = NULL;
	int ret;

	ret = nl_open(&s, d);
	if (ret)
		goto out;
	for (;;) {
		struct nl_batch_result br;

		r->attempts++;
		nm_live_fini(&r->live);
		plan_fini(&r->plan);
		util_mark("sync: reading the live table");
		ret = nft_read(s, p_want->name, o->capture_prior, o->cache, &r->live, d);
		util_mark("sync: live table read");
		if (ret)
			break;
		r->gen_before = r->live.genid;
		ret = plan_resolve(p_want, &r->live, d);
		if (ret == -ESTALE) {
			/* an object the live note named is gone: read the kernel instead */
			if (o->cache)
				o->cache->used = true;
			nm_live_fini(&r->live);
			ret = nft_read(s, p_want->name, o->capture_prior, NULL, &r->live, d);
			if (!ret)
				ret = plan_resolve(p_want, &r->live, d);
			if (ret == -ESTALE)
				ret = diag_err(d, DIAG_INTERNAL, NULL, ESTALE, "reading the live table");
			if (ret)
				break;
			r->gen_before = r->live.genid;
		}
		if (ret)
			break;
		ret = plan_build(p_want, &r->live, o->max_elem_lines, &r->plan, d);
		util_mark("sync: planned");
		if (ret || o->mode == SYNC_PLAN)
			break;
		if (plan_empty(&r->plan) && o->mode == SYNC_APPLY)
			break;
		if (o->mode == SYNC_APPLY && o->before_send) {
			ret = o->before_send(o->arg, r);
			if (ret)
				break;
		}
		if (o->pause_ms)
			usleep(o->pause_ms * 1000u);
		util_mark("sync: journal prepared");
		ret = nl_batch_send(s, r->plan.batch, r->gen_before, o->mode == SYNC_CHECK, &br, d);
		util_mark("sync: batch sent");
		r->nmsgs = br.nmsgs;
		r->bytes = br.bytes;
		r->kernel_us = br.kernel_us;
		if (o->mode == SYNC_APPLY && o->after_send)
			o->after_send(o->arg, r, ret == -ERESTART && r->attempts < SYNC_MAX_ATTEMPTS
							? -ERESTART : ret);
		if (ret == -ERESTART) {
			if (r->attempts < SYNC_MAX_ATTEMPTS)
				continue;
			ret = diag_err(d, DIAG_CONFLICT, NULL, 0,
				       "the ruleset changed during each of %d attempts; nothing applied",
				       r->attempts);
			break;
		}
		if (ret)
			break;
		if (o->mode == SYNC_APPLY) {
			r->committed = true;
			r->end_acked = br.end_acked;
			ret = nl_getgen(s, &r->gen_after, d);
		}
		break;
	}
out:
	nl_close(s);
	return ret;
}
