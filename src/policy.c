// SPDX-License-Identifier: GPL-2.0-or-later
/* Policy model: defaults, lookups and a stable hash. Pure. */
#include "policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

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
	}
	free(p->svcs);
	free(p->source);
	free(p->table);
	free(p->log_prefix);
	memset(p, 0, sizeof(*p));
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

bool policy_service_allows(const struct policy_service *s, enum cidr_family f, u128 addr)
{
	const struct rangeset *rs = f == CIDR_V4 ? &s->v4 : &s->v6;
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

static void hash_ranges(EVP_MD_CTX *c, const struct rangeset *rs)
{
	hash_u64(c, rs->n);
	if (rs->n)
		EVP_DigestUpdate(c, rs->r, rs->n * sizeof(*rs->r));
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
		hash_ranges(c, &s->v4);
		hash_ranges(c, &s->v6);
	}
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < 32 && i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
	return 0;
}
