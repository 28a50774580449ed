/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The validated policy: what portlock enforces. Built by config.c, consumed
 * by the ruleset builders and the audit. Pure data; every service keeps the
 * source location it came from so that kernel and probe errors can cite it.
 */
#ifndef PORTLOCK_POLICY_H
#define PORTLOCK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "diag.h"

enum policy_action {
	POLICY_DROP,
	POLICY_REJECT,
};

enum policy_hook {
	POLICY_HOOK_INPUT = 1 << 0,
	POLICY_HOOK_FORWARD = 1 << 1,
};

enum policy_proto {
	POLICY_TCP = 6,
	POLICY_UDP = 17,
};

enum policy_rate_unit {
	RATE_SECOND,
	RATE_MINUTE,
	RATE_HOUR,
	RATE_DAY,
};

/*
 * One shard of a compiled allowlist (compile.h): the block prefix/len and
 * the ranges of the family's merged allowlist inside it, or, while lazy,
 * only their digest and the object file that holds them.
 */
struct policy_leaf {
	u128 prefix;
	int len;
	size_t n;		/* ranges */
	uint8_t digest[32];	/* setobj_digest() of the ranges */
	struct rangeset r;	/* the ranges, unless lazy */
	char *objpath;		/* lazy: the object holding them (setobj_load()) */
	bool lazy;
};

/* A family's allowlist as shards (layout.h), without the merged ranges themselves. */
struct policy_compiled {
	bool sharded;		/* false: one leaf, 0/0, the unsharded set */
	struct policy_leaf *leaves;	/* sorted by address */
	size_t nleaves;
};

/* portlock.mode / service mode: enforce refuses, observe records and accepts */
enum policy_mode {
	POLICY_MODE_ENFORCE = 0,
	POLICY_MODE_OBSERVE,
};

struct policy_service {
	char *name;
	char *expect;		/* "smtp", "smpp", ... or NULL */
	enum policy_proto proto;
	uint16_t *ports;	/* sorted, unique */
	size_t nports;
	struct rangeset v4, v6;	/* normalized */
	size_t nsources;	/* prefixes given before merging */
	/*
	 * Set by compile.c (plan/apply through the compile cache): the family's
	 * allowlist as shards; v4/v6 then hold only the prefixes written in
	 * the policy file itself. NULL: v4/v6 hold everything.
	 */
	struct policy_compiled *c4, *c6;
	/* config_load_file_flags(CONFIG_DEFER_ALLOW_FILES): the allow_files, resolved, unread */
	char **files;
	size_t nfiles, cfiles;
	char *file;		/* where the service was declared */
	int line;
	enum policy_mode mode;	/* resolved: the service's own, else portlock.mode */
	uint32_t retention;	/* seconds a refused source stays in the seen sets (resolved) */
	bool critical;		/* apply refuses (without --force) to cut its established connections */
};

struct policy {
	char *source;		/* config file path */
	char *table;		/* table inet <table> */
	enum policy_action action;
	unsigned hooks;		/* enum policy_hook bits */
	bool log;
	char *log_prefix;
	unsigned log_rate;
	enum policy_rate_unit log_unit;
	bool loopback;
	unsigned journal_keep;
	enum policy_mode mode;	/* portlock.mode, default enforce */
	uint32_t retention;	/* portlock.retention in seconds, default 30 days */
	struct policy_service *svcs;
	size_t nsvcs;
};

#define POLICY_DEFAULT_TABLE "portlock"
#define POLICY_DEFAULT_LOG_PREFIX "portlock"
#define POLICY_DEFAULT_JOURNAL_KEEP 100
#define POLICY_DEFAULT_RETENTION (30u * 86400u)
#define POLICY_MAX_RETENTION (3650u * 86400u)
/* At most this many ranges per shard set (layout.h); PORTLOCK_SHARD_MAX overrides it. */
#define POLICY_SHARD_MAX 4096

/* Fill defaults; returns 0 or -ENOMEM. */
int policy_init(struct policy *p);
void policy_fini(struct policy *p);

const char *policy_action_str(enum policy_action a);
const char *policy_proto_str(enum policy_proto p);
const char *policy_rate_unit_str(enum policy_rate_unit u);

/* The service that manages port/proto, or NULL. */
const struct policy_service *policy_find_port(const struct policy *p, enum policy_proto proto,
					      uint16_t port);

/* True when addr (family f) is inside the service's allowlist. */
bool policy_service_allows(const struct policy_service *s, enum cidr_family f, u128 addr);

/*
 * sha256 of the normalized policy as hex (65 bytes): its settings, and per
 * service and family the shard layout with each shard's digest (so a
 * compiled policy and the same policy loaded in full hash alike); 0 or
 * -ENOMEM.
 */
int policy_hash(const struct policy *p, char out[65]);

/* The shard size (NFT_BUILD_SHARD_MAX, or PORTLOCK_SHARD_MAX for tests). */
size_t policy_shard_max(void);
/*
 * For the unit tests: ranges per shard from now on (0: the default again).
 * The shell tests use the test hook PORTLOCK_SHARD_MAX (testhook.h) instead.
 */
void policy_set_shard_max(size_t n);

/* Release a compiled family (NULL is accepted). */
void policy_compiled_free(struct policy_compiled *c);

#endif
