// SPDX-License-Identifier: GPL-2.0-or-later
/* Policy model: defaults, lookups and a stable hash. Pure. */
#include "policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "layout.h"
#include "setobj.h"
#include "testhook.h"

int policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->table = strdup(POLICY_DEFAULT_TABLE);
	p->log_prefix = strdup(POLICY_DEFAULT_LOG_PREFIX);
	if (!p->table || !p->log_prefix) {
		policy_fini(p);
		return -ENOMEM;
	}
	p->action = POLICY_DROP;
	p->hooks = POLICY_HOOK_INPUT | POLICY_HOOK_FORWARD;
	p->log = true;
	p->log_rate = 10;
	p->log_unit = RATE_MINUTE;
	p->loopback = true;
	p->journal_keep = POLICY_DEFAULT_JOURNAL_KEEP;
	p->mode = POLICY_MODE_ENFORCE;
	p->retention = POLICY_DEFAULT_RETENTION;
	return 0;
}

void policy_fini(struct policy *p)
{
	for (size_t i = 0; i < p->nsvcs; i++) {
		struct policy_service *s = &p->svcs[i];

		free(s->name);
		free(s->expect);
		free(s->ports);
		free(s->file);
		rangeset_fini(&s->v4);
		rangeset_fini(&s->v6);
		policy_compiled_free(s->c4);
		policy_compiled_free(s->c6);
		for (size_t k = 0; k < s->nfiles; k++)
			free(s->files[k]);
		free(s->files);
	}
	free(p->svcs);
	free(p->source);
	free(p->table);
	free(p->log_prefix);
	memset(p, 0, sizeof(*p));
}

void policy_compiled_free(struct policy_compiled *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nleaves; i++) {
		rangeset_fini(&c->leaves[i].r);
		free(c->leaves[i].objpath);
	}
	free(c->leaves);
	free(c);
}

static size_t shard_max_set;

void policy_set_shard_max(size_t n)
{
	shard_max_set = n;
}

size_t policy_shard_max(void)
{
	const char *env = testhook("PORTLOCK_SHARD_MAX");

	if (shard_max_set)
		return shard_max_set;
	if (env && atoi(env) > 0)
		return (size_t)atoi(env);
	return POLICY_SHARD_MAX;
}

const char *policy_action_str(enum policy_action a)
{
	return a == POLICY_REJECT ? "reject" : "drop";
}

const char *policy_proto_str(enum policy_proto p)
{
	return p == POLICY_UDP ? "udp" : "tcp";
}

const char *policy_rate_unit_str(enum policy_rate_unit u)
{
	static const char *const names[] = { "second", "minute", "hour", "day" };

	return u < ARRAY_SIZE(names) ? names[u] : "?";
}

const struct policy_service *policy_find_port(const struct policy *p, enum policy_proto proto,
					      uint16_t port)
{
	for (size_t i = 0; i < p->nsvcs; i++) {
		const struct policy_service *s = &p->svcs[i];

		if (s->proto != proto)
			continue;
		for (size_t j = 0; j < s->nports; j++)
			if (s->ports[j] == port)
				return s;
	}
	return NULL;
}

static bool in_ranges(const struct rangeset *rs, u128 addr);

bool policy_service_allows(const struct policy_service *s, enum cidr_family f, u128 addr)
{
	const struct policy_compiled *c = f == CIDR_V4 ? s->c4 : s->c6;

	if (c) {
		/* the leaf whose block holds addr: the last one starting at or before it */
		size_t lo = 0, hi = c->nleaves;
		const struct policy_leaf *l;
		struct rangeset rs;
		bool in;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (c->leaves[mid].prefix <= addr)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!lo)
			return false;
		l = &c->leaves[lo - 1];
		if (addr > layout_block_hi(f, l->prefix, l->len))
			return false;
		if (!l->lazy)
			return in_ranges(&l->r, addr);
		/* unreadable: "not allowed" makes the SSH guard ask for --force, the safe side */
		if (setobj_load(l->objpath, l->digest, f, &rs) < 0)
			return false;
		in = in_ranges(&rs, addr);
		rangeset_fini(&rs);
		return in;
	}
	return in_ranges(f == CIDR_V4 ? &s->v4 : &s->v6, addr);
}

static bool in_ranges(const struct rangeset *rs, u128 addr)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < rs->r[mid].lo)
			hi = mid;
		else if (addr > rs->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static void hash_str(EVP_MD_CTX *c, const char *s)
{
	uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;

	EVP_DigestUpdate(c, &n, sizeof(n));
	if (s)
		EVP_DigestUpdate(c, s, n);
}

static void hash_u64(EVP_MD_CTX *c, uint64_t v)
{
	EVP_DigestUpdate(c, &v, sizeof(v));
}

static void hash_leaf(EVP_MD_CTX *c, u128 prefix, int len, size_t n, const uint8_t digest[32])
{
	hash_u64(c, (uint64_t)(prefix >> 64));
	hash_u64(c, (uint64_t)prefix);
	hash_u64(c, (uint64_t)len);
	hash_u64(c, n);
	EVP_DigestUpdate(c, digest, 32);
}

/* The family as shards: a compiled policy and the same one loaded in full hash alike. */
static int hash_family(EVP_MD_CTX *c, const struct policy_service *s, enum cidr_family f)
{
	const struct policy_compiled *pc = f == CIDR_V4 ? s->c4 : s->c6;
	const struct rangeset *d = f == CIDR_V4 ? &s->v4 : &s->v6;
	struct layout l;
	uint8_t md[32];

	if (pc) {
		hash_u64(c, pc->sharded);
		hash_u64(c, pc->nleaves);
		for (size_t i = 0; i < pc->nleaves; i++)
			hash_leaf(c, pc->leaves[i].prefix, pc->leaves[i].len, pc->leaves[i].n,
				  pc->leaves[i].digest);
		return 0;
	}
	if (layout_build(d, f, policy_shard_max(), &l) < 0)
		return -ENOMEM;
	hash_u64(c, l.sharded);
	hash_u64(c, l.nleaves);
	for (size_t i = 0; i < l.nleaves; i++) {
		const struct layout_node *n = &l.leaves[i];
		/* an empty family has no range array (d->r is NULL, count 0) */
		const struct range *first = n->count ? d->r + n->first : NULL;

		if (setobj_digest_clip(f, first, n->count, n->prefix,
				       layout_block_hi(f, n->prefix, n->len), md) < 0) {
			layout_fini(&l);
			return -ENOMEM;
		}
		hash_leaf(c, n->prefix, n->len, n->count, md);
	}
	layout_fini(&l);
	return 0;
}

int policy_hash(const struct policy *p, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c)
		return -ENOMEM;
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	hash_str(c, p->table);
	hash_u64(c, p->action);
	hash_u64(c, p->hooks);
	hash_u64(c, p->log);
	hash_str(c, p->log_prefix);
	hash_u64(c, p->log_rate);
	hash_u64(c, p->log_unit);
	hash_u64(c, p->loopback);
	hash_u64(c, p->nsvcs);
	for (size_t i = 0; i < p->nsvcs; i++) {
		const struct policy_service *s = &p->svcs[i];

		hash_str(c, s->name);
		hash_str(c, s->expect);
		hash_u64(c, s->proto);
		hash_u64(c, s->nports);
		EVP_DigestUpdate(c, s->ports, s->nports * sizeof(*s->ports));
		/* only when not the defaults: the hash of a policy written before these keys stays */
		if (s->mode != POLICY_MODE_ENFORCE || s->retention != POLICY_DEFAULT_RETENTION ||
		    s->critical) {
			hash_str(c, "mode/retention/critical");
			hash_u64(c, s->mode);
			hash_u64(c, s->retention);
			hash_u64(c, s->critical);
		}
		if (hash_family(c, s, CIDR_V4) < 0 || hash_family(c, s, CIDR_V6) < 0) {
			EVP_MD_CTX_free(c);
			return -ENOMEM;
		}
	}
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < 32 && i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
	return 0;
}
