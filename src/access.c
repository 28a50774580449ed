// SPDX-License-Identifier: GPL-2.0-or-later
/* Temporary access: one batch and one journal record per grant or revoke (access.h). */
#include "access.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libmnl/libmnl.h>

#include "diag.h"
#include "journal.h"
#include "nft_model.h"
#include "nft_read.h"
#include "nl.h"
#include "seen.h"
#include "snapshot.h"

#define ACCESS_RETRIES 3

static void put_elem(struct nlmsghdr *nlh, enum cidr_family f, u128 a, bool iend, uint64_t timeout_ms)
{
	struct nlattr *e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *k;
	uint8_t b[16];

	cidr_to_bytes(f, a, b);
	if (iend)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
	if (timeout_ms)
		mnl_attr_put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, htobe64(timeout_ms));
	k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, f == CIDR_V4 ? 4 : 16, b);
	mnl_attr_nest_end(nlh, k);
	mnl_attr_nest_end(nlh, e);
}

/* One NEWSETELEM or DELSETELEM message: [lo, hi] as a start and (unless hi is the top) an end. */
static int put_range(struct nl_batch *b, uint16_t type, const char *table, const char *set,
		     enum cidr_family f, u128 lo, u128 hi, uint64_t timeout_ms, const char *label)
{
	struct nlmsghdr *nlh = nl_batch_msg(b, type, NFPROTO_INET,
					    type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, label);
	struct nlattr *list;

	if (!nlh)
		return -ENOMEM;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	put_elem(nlh, f, lo, false, timeout_ms);
	if (hi != cidr_max(f))
		put_elem(nlh, f, hi + 1, true, 0);
	mnl_attr_nest_end(nlh, list);
	return nl_batch_end_msg(b);
}

/*
 * The grants in force in r's set: *exists when [lo, hi] is one of them;
 * a grant it overlaps refuses it, a revoke needs it. Returns 0 or
 * diag_err()'s.
 */
static int check_grants(struct nl_sock *s, const struct access_req *r, enum cidr_family f, u128 lo,
			u128 hi, const char *src, bool *exists, struct diag *d)
{
	struct seen_entry *tmp = NULL;
	size_t n = 0;
	int ret;

	ret = seen_read_tmp(s, r->table, r->service, f, &tmp, &n, d);
	if (ret)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char other[100];

		if (tmp[i].addr == lo && tmp[i].last == hi) {
			*exists = true;
			continue;
		}
		if (tmp[i].last < lo || tmp[i].addr > hi || r->revoke)
			continue;
		/* the kernel refuses overlapping intervals: say which grant is in the way */
		range_str(f, &(struct range){ tmp[i].addr, tmp[i].last }, other, sizeof(other));
		ret = diag_err(d, DIAG_CONFLICT, NULL, 0,
			       "%s overlaps the temporary access for %s in force in service %s: revoke that one first ('portlock allow --revoke %s %s')",
			       src, other, r->service, r->service, other);
		goto out;
	}
	if (r->revoke && !*exists)
		ret = diag_err(d, DIAG_CONFLICT, NULL, 0,
			       "service %s has no temporary access for %s (expired, or never granted; see 'portlock allow --list')",
			       r->service, src);
out:
	free(tmp);
	return ret;
}

/* rec: a prepared journal record of the grant or revoke, with live as its prior. Returns 0 or -errno. */
static int prepare_record(struct journal *j, const struct access_req *r, struct nm_live *live,
			  bool exists, struct journal_rec *rec, struct diag *d)
{
	struct snapshot c;
	int ret;

	ret = journal_begin(j, rec, d);
	if (ret)
		return ret;
	rec->kind = r->revoke ? JOURNAL_KIND_REVOKE : JOURNAL_KIND_ALLOW;
	snprintf(rec->table, sizeof(rec->table), "%s", r->table);
	rec->gen_before = live->genid;
	rec->added = r->revoke ? 0 : 1;
	rec->removed = exists ? 1 : 0;
	rec->state = JOURNAL_STATE_APPLIED;
	if (snapshot_from_live(live, journal_objects_path(j), &c))
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	ret = journal_prepare(j, rec, &c.jc, d);
	snapshot_fini(&c);
	return ret;
}

/* After the batch went in: read the table back and complete rec with it. Returns 0 or -errno. */
static int commit_record(struct nl_sock *s, struct journal *j, const struct access_req *r,
			 struct journal_rec *rec, struct access_result *res, struct diag *d)
{
	struct nm_live after = { 0 };
	struct snapshot c;
	int ret;

	ret = nft_read(s, r->table, true, NULL, &after, d);
	if (ret) {
		diag_note(d, NULL, "the change is in force; its journal record %llu stays prepared",
			  (unsigned long long)rec->id);
		goto out;
	}
	rec->gen_after = after.genid;
	res->gen_after = after.genid;
	rec->result_absent = !after.t.exists;
	ret = snapshot_from_live(&after, journal_objects_path(j), &c);
	if (ret) {
		ret = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
		goto out;
	}
	ret = journal_commit(j, rec, NULL, &c.jc, d);
	snapshot_fini(&c);
	if (!ret) {
		res->txn = rec->id;
		journal_prune(j, r->journal_keep, d);
	}
out:
	nm_live_fini(&after);
	return ret;
}

/* One attempt: read, journal the prior, send, read back, commit. -EAGAIN: the generation moved. */
static int attempt(struct nl_sock *s, struct journal *j, const struct access_req *r,
		   struct access_result *res, struct diag *d)
{
	enum cidr_family f = r->src.family;
	u128 lo = r->src.addr, hi = r->src.addr;
	char set[256], label[400], src[100];
	struct nm_live live = { 0 };
	struct nl_batch *b = NULL;
	struct nl_batch_result br = { 0 };
	struct journal_rec rec = { 0 };
	bool exists = false, prepared = false;
	int ret;

	if (r->src.plen < cidr_bits(f))
		hi = lo | ((((u128)1) << (cidr_bits(f) - r->src.plen)) - 1);
	range_str(f, &(struct range){ lo, hi }, src, sizeof(src));
	seen_set_name(r->service, true, f, set, sizeof(set));
	snprintf(label, sizeof(label), "temporary access for %s in set %s", src, set);
	ret = nft_read(s, r->table, true, NULL, &live, d);
	if (ret)
		goto out;
	if (!live.t.exists || !nm_table_find_set(&live.t, set)) {
		ret = diag_err(d, DIAG_CONFLICT, NULL, 0,
			       "table inet %s has no set %s: apply a policy with service %s first ('portlock apply')",
			       r->table, set, r->service);
		goto out;
	}
	ret = check_grants(s, r, f, lo, hi, src, &exists, d);
	if (ret)
		goto out;
	ret = prepare_record(j, r, &live, exists, &rec, d);
	if (ret)
		goto out;
	prepared = true;
	ret = nl_batch_new(&b);
	/* renewing a grant: out and in again in the same batch, its timeout starts anew */
	if (!ret && exists)
		ret = put_range(b, NFT_MSG_DELSETELEM, r->table, set, f, lo, hi, 0, label);
	if (!ret && !r->revoke)
		ret = put_range(b, NFT_MSG_NEWSETELEM, r->table, set, f, lo, hi,
				(uint64_t)r->for_s * 1000, label);
	if (ret) {
		ret = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "%s", label);
		goto out;
	}
	ret = nl_batch_send(s, b, live.genid, false, &br, d);
	if (br.restart) {
		ret = -EAGAIN;	/* another commit came between: read again */
		goto out;
	}
	if (ret)
		goto out;
	res->expires_at = r->revoke ? 0 : (int64_t)time(NULL) + r->for_s;
	res->renewed = exists && !r->revoke;
	res->gen_before = live.genid;
	prepared = false;	/* in force: the record is completed, or stays prepared for recover */
	ret = commit_record(s, j, r, &rec, res, d);
out:
	if (prepared)
		journal_abort(j, &rec, d);	/* nothing was applied */
	journal_rec_fini(&rec);
	nl_batch_free(b);
	nm_live_fini(&live);
	return ret;
}

int access_change(const struct access_req *r, struct access_result *res, struct diag *d)
{
	struct journal *j = NULL;
	struct nl_sock *s = NULL;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = journal_open(&j, r->state_dir, r->wait_s, d);
	if (ret)
		return ret;
	ret = nl_open(&s, d);
	for (int i = 0; !ret; i++) {
		ret = attempt(s, j, r, res, d);
		if (ret != -EAGAIN)
			break;
		if (i + 1 >= ACCESS_RETRIES) {
			ret = diag_err(d, DIAG_CONFLICT, NULL, 0,
				       "the ruleset kept changing while granting access; nothing was changed");
			break;
		}
		ret = 0;
	}
	nl_close(s);
	journal_close(j);
	return ret;
}
