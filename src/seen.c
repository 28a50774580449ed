// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Seen and temporary-access sets (seen.h): one get of the set, one dump of
 * its elements, parsed from the netlink attributes without libnftnl objects.
 */
#include "seen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>

#include "diag.h"
#include "nft_read.h"
#include "nl.h"
#include "util.h"

void seen_set_name(const char *service, bool tmp, enum cidr_family f, char *buf, size_t len)
{
	snprintf(buf, len, "%s_%s%d", service, tmp ? "tmp" : "seen", f == CIDR_V4 ? 4 : 6);
}

/* One element as the dump gives it, before intervals are paired. */
struct rawel {
	u128 key;
	uint16_t port;
	bool end;
	bool has_counter;
	uint64_t packets, bytes;
	uint64_t timeout_ms, expires_ms;
};

struct sr {
	enum cidr_family fam;
	bool tmp;
	uint32_t key_len;	/* expected: 8/20 (seen) or 4/16 (tmp) */
	uint64_t set_timeout_ms;
	bool set_found;
	struct rawel *els;
	size_t nels, cels;
	int err;
};

static uint64_t be64_attr(const struct nlattr *a)
{
	if (mnl_attr_get_payload_len(a) != 8)
		return 0;
	return be64toh(mnl_attr_get_u64(a));
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sr *r = data;
	const struct nlattr *a;

	r->set_found = true;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_TIMEOUT:
			r->set_timeout_ms = be64_attr(a);
			break;
		case NFTA_SET_KEY_LEN:
			if (mnl_attr_get_payload_len(a) == 4 &&
			    ntohl(mnl_attr_get_u32(a)) != r->key_len)
				r->err = -EPROTOTYPE;
			break;
		default:
			break;
		}
	}
	return MNL_CB_OK;
}

/* A counter expression (NFTA_EXPR_NAME "counter", NFTA_EXPR_DATA). */
static void parse_expr(struct rawel *e, const struct nlattr *expr)
{
	const struct nlattr *a, *b, *dat = NULL;
	bool counter = false;

	mnl_attr_for_each_nested(a, expr) {
		if (mnl_attr_get_type(a) == NFTA_EXPR_NAME &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			counter = !strcmp(mnl_attr_get_str(a), "counter");
		else if (mnl_attr_get_type(a) == NFTA_EXPR_DATA)
			dat = a;
	}
	if (!counter || !dat)
		return;
	e->has_counter = true;
	mnl_attr_for_each_nested(b, dat) {
		if (mnl_attr_get_type(b) == NFTA_COUNTER_PACKETS)
			e->packets = be64_attr(b);
		else if (mnl_attr_get_type(b) == NFTA_COUNTER_BYTES)
			e->bytes = be64_attr(b);
	}
}

static void parse_elem(struct sr *r, const struct nlattr *el)
{
	const struct nlattr *a, *b;
	struct rawel e = { 0 };
	bool have_key = false;

	mnl_attr_for_each_nested(a, el) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_KEY:
			mnl_attr_for_each_nested(b, a) {
				const uint8_t *p = mnl_attr_get_payload(b);
				size_t alen = cidr_bits(r->fam) / 8;

				if (mnl_attr_get_type(b) != NFTA_DATA_VALUE ||
				    mnl_attr_get_payload_len(b) != r->key_len)
					continue;
				e.key = cidr_from_bytes(r->fam, p);
				if (!r->tmp)
					e.port = (uint16_t)((p[alen] << 8) | p[alen + 1]);
				have_key = true;
			}
			break;
		case NFTA_SET_ELEM_FLAGS:
			if (mnl_attr_get_payload_len(a) == 4)
				e.end = ntohl(mnl_attr_get_u32(a)) & NFT_SET_ELEM_INTERVAL_END;
			break;
		case NFTA_SET_ELEM_TIMEOUT:
			e.timeout_ms = be64_attr(a);
			break;
		case NFTA_SET_ELEM_EXPIRATION:
			e.expires_ms = be64_attr(a);
			break;
		case NFTA_SET_ELEM_EXPR:
			parse_expr(&e, a);
			break;
		case NFTA_SET_ELEM_EXPRESSIONS:
			mnl_attr_for_each_nested(b, a) {
				if (mnl_attr_get_type(b) == NFTA_LIST_ELEM)
					parse_expr(&e, b);
			}
			break;
		default:
			break;
		}
	}
	if (!have_key)
		return;
	if (util_grow((void **)&r->els, &r->cels, r->nels + 1, sizeof(*r->els)) < 0) {
		r->err = -ENOMEM;
		return;
	}
	r->els[r->nels++] = e;
}

/* parse_elem() for nft_read_each_elem() */
static void elem_one(void *arg, const struct nlattr *el)
{
	parse_elem(arg, el);
}

static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	nft_read_each_elem(nlh, elem_one, data);
	return MNL_CB_OK;
}

static void fill_times(struct seen_entry *e, const struct rawel *re, uint64_t set_timeout_ms,
		       bool seen, time_t now)
{
	e->timeout_ms = re->timeout_ms ? re->timeout_ms : set_timeout_ms;
	e->expires_ms = re->expires_ms;
	if (e->timeout_ms) {
		e->expires_at = (int64_t)now + (int64_t)((re->expires_ms + 999) / 1000);
		/* the timeout restarts with every packet: the last one came timeout - expires ago */
		if (seen && e->timeout_ms >= re->expires_ms)
			e->last_seen = (int64_t)now - (int64_t)((e->timeout_ms - re->expires_ms) / 1000);
	}
}

static int rawel_cmp(const void *a, const void *b)
{
	const struct rawel *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (int)y->end - (int)x->end;	/* an interval end sorts before the next start */
}

/* Pair the interval starts and ends of a temporary set into ranges. */
static int pair_intervals(struct sr *r, struct seen_entry *out, size_t *n, time_t now)
{
	const struct rawel *open = NULL;

	qsort(r->els, r->nels, sizeof(*r->els), rawel_cmp);
	*n = 0;
	for (size_t i = 0; i < r->nels; i++) {
		const struct rawel *e = &r->els[i];

		if (!e->end) {
			if (open) {	/* two starts in a row: the first runs to the second */
				struct seen_entry *o = &out[(*n)++];

				memset(o, 0, sizeof(*o));
				o->family = r->fam;
				o->addr = open->key;
				o->last = e->key - 1;
				fill_times(o, open, r->set_timeout_ms, false, now);
			}
			open = e;
			continue;
		}
		if (!open)	/* a leading end marker */
			continue;
		if (e->key != 0) {
			struct seen_entry *o = &out[(*n)++];

			memset(o, 0, sizeof(*o));
			o->family = r->fam;
			o->addr = open->key;
			o->last = e->key - 1;
			o->has_counter = open->has_counter;
			o->packets = open->packets;
			o->bytes = open->bytes;
			fill_times(o, open, r->set_timeout_ms, false, now);
		}
		open = NULL;
	}
	if (open) {
		struct seen_entry *o = &out[(*n)++];

		memset(o, 0, sizeof(*o));
		o->family = r->fam;
		o->addr = open->key;
		o->last = cidr_max(r->fam);
		fill_times(o, open, r->set_timeout_ms, false, now);
	}
	return 0;
}

static int read_set(struct nl_sock *s, const char *table, const char *service, enum cidr_family f,
		    bool tmp, struct seen_entry **out, size_t *n, struct diag *d)
{
	char name[256], what[320];
	char buf[1024] = { 0 };
	struct nlmsghdr *nlh;
	struct nl_sock *own = NULL;
	struct sr r = { .fam = f, .tmp = tmp };
	struct seen_entry *res = NULL;
	time_t now;
	int ret;

	*out = NULL;
	*n = 0;
	r.key_len = (uint32_t)(cidr_bits(f) / 8) + (tmp ? 0 : 4);
	seen_set_name(service, tmp, f, name, sizeof(name));
	snprintf(what, sizeof(what), "read set %s of table inet %s", name, table);
	if (!s) {
		ret = nl_open(&own, d);
		if (ret)
			return ret;
		s = own;
	}
	for (int attempt = 0;; attempt++) {
		r.nels = 0;
		r.set_found = false;
		r.set_timeout_ms = 0;
		memset(buf, 0, sizeof(buf));
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_ACK, 0);
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, table);
		mnl_attr_put_strz(nlh, NFTA_SET_NAME, name);
		ret = nl_request(s, nlh, set_cb, &r, what, d);
		if (!ret && r.err == -EPROTOTYPE)
			ret = diag_err(d, DIAG_CONFLICT, NULL, 0,
				       "%s: not the key portlock gives it (%s)", what,
				       tmp ? "an address" : "address . port");
		if (ret)
			break;
		memset(buf, 0, sizeof(buf));
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, 0);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, name);
		ret = nl_request(s, nlh, elem_cb, &r, what, d);
		if (ret == -EINTR && attempt < 5)
			continue;	/* the dump was interrupted: read it again */
		if (ret == -EINTR)
			ret = diag_err(d, DIAG_CONFLICT, NULL, EINTR, "%s", what);
		break;
	}
	if (!ret && r.err)
		ret = diag_err(d, DIAG_INTERNAL, NULL, -r.err, "%s", what);
	util_mark("seen: set dumped");
	now = time(NULL);
	if (!ret && r.nels) {
		res = calloc(r.nels, sizeof(*res));
		if (!res)
			ret = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "%s", what);
	}
	if (!ret && r.nels && tmp) {
		pair_intervals(&r, res, n, now);
	} else if (!ret) {
		for (size_t i = 0; i < r.nels; i++) {
			struct seen_entry *e = &res[i];
			const struct rawel *re = &r.els[i];

			e->family = f;
			e->addr = e->last = re->key;
			e->port = re->port;
			e->has_counter = re->has_counter;
			e->packets = re->packets;
			e->bytes = re->bytes;
			fill_times(e, re, r.set_timeout_ms, true, now);
		}
		*n = r.nels;
	}
	free(r.els);
	nl_close(own);
	if (ret) {
		free(res);
		*n = 0;
		return ret;
	}
	if (!*n) {
		free(res);
		res = NULL;
	}
	*out = res;
	return 0;
}

int seen_read(struct nl_sock *s, const char *table, const char *service, enum cidr_family f,
	      struct seen_entry **out, size_t *n, struct diag *d)
{
	return read_set(s, table, service, f, false, out, n, d);
}

int seen_read_tmp(struct nl_sock *s, const char *table, const char *service, enum cidr_family f,
		  struct seen_entry **out, size_t *n, struct diag *d)
{
	return read_set(s, table, service, f, true, out, n, d);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct seen_entry *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return (int)x->port - (int)y->port;
}

void seen_sort(struct seen_entry *e, size_t n)
{
	if (n > 1)
		qsort(e, n, sizeof(*e), entry_cmp);
}

int seen_group(const struct seen_entry *e, size_t n, struct seen_source **out, size_t *nout)
{
	struct seen_source *g = NULL;
	size_t ng = 0;

	*out = NULL;
	*nout = 0;
	if (!n)
		return 0;
	g = calloc(n, sizeof(*g));
	if (!g)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct seen_source *s;

		if (!ng || g[ng - 1].family != e[i].family || g[ng - 1].addr != e[i].addr) {
			s = &g[ng++];
			s->family = e[i].family;
			s->addr = e[i].addr;
			s->first = i;
		}
		s = &g[ng - 1];
		s->nports++;
		s->packets += e[i].packets;
		s->bytes += e[i].bytes;
		if (e[i].last_seen > s->last_seen)
			s->last_seen = e[i].last_seen;
	}
	*out = g;
	*nout = ng;
	return 0;
}

u128 seen_block_lo(enum cidr_family f, u128 addr, int plen)
{
	int host = cidr_bits(f) - plen;

	return host >= 128 ? 0 : (addr >> host) << host;
}

u128 seen_block_hi(enum cidr_family f, u128 addr, int plen)
{
	int host = cidr_bits(f) - plen;

	return host >= 128 ? cidr_max(f) : seen_block_lo(f, addr, plen) | ((((u128)1) << host) - 1);
}

size_t seen_cover(enum cidr_family f, u128 lo, u128 hi, struct cidr *out, size_t max)
{
	size_t n = 0;

	while (n < max) {
		/* the largest prefix starting at lo that stays within hi */
		int plen = cidr_bits(f);
		u128 last;

		while (plen > 0 && seen_block_lo(f, lo, plen - 1) == lo && seen_block_hi(f, lo, plen - 1) <= hi)
			plen--;
		out[n].family = f;
		out[n].addr = lo;
		out[n].plen = plen;
		n++;
		last = seen_block_hi(f, lo, plen);
		if (last >= hi)
			break;
		lo = last + 1;
	}
	return n;
}

char *seen_time_str(int64_t t, bool iso, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t)
		snprintf(buf, len, "-");
	else if (!(iso ? gmtime_r(&tt, &tm) : localtime_r(&tt, &tm)) ||
		 !strftime(buf, len, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

int seen_write_atomic(const char *path, const char *buf, size_t len, struct diag *d)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	size_t off = 0;
	int fd, dfd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return diag_err(d, DIAG_USAGE, NULL, ENAMETOOLONG, "cannot write '%s'", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot write '%s'", tmp);
	while (off < len && !err) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno != EINTR)
			err = errno;
		else if (w > 0)
			off += (size_t)w;
	}
	if (!err && fsync(fd) < 0)
		err = errno;
	if (close(fd) < 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) < 0)
		err = errno;
	if (err) {
		unlink(tmp);
		return diag_err(d, DIAG_INTERNAL, NULL, err, "cannot write '%s'", path);
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
