/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy -> desired model of table inet <name> (libnftnl rule objects plus
 * set contents as ranges). No I/O. The same model feeds `export` (rendered as
 * an nft script) and `plan`/`apply` (diffed against the kernel), so the two
 * cannot disagree.
 *
 * Shape (per hook H in input/forward, per protocol P in tcp/udp used by a
 * service, per service S and family F in 4/6):
 *   map in_P / fwd_P   inet_service : verdict   port -> jump S_in / S_fwd
 *   set S_vF           ipv4_addr/ipv6_addr interval  the merged allowlist
 *   set S_tmpF         the same, flags interval,timeout (portlock allow --for)
 *   set S_seenF        ipv4_addr . inet_service, flags dynamic,timeout;
 *                      timeout <retention>; size 65535; counter
 *   input:   iif "lo" accept                             (loopback)
 *            P dport vmap @in_P                          (dispatch)
 *   forward: ct direction original ct status dnat meta l4proto P
 *              ct original proto-dst vmap @fwd_P
 *   S_in:    ip saddr @S_v4 counter accept                (allow, per family)
 *            ip saddr @S_tmp4 counter accept              (temporary, per family)
 *            update @S_seen4 { ip saddr . th dport }      (seen, per family)
 *            limit rate R log prefix "P[S] "              (log)
 *            meta nfproto ipv4 counter drop|reject        (refuse, per family)
 *            meta nfproto ipv4 counter accept             (observe mode instead)
 *   S_fwd:   the same, the seen port being "ct original proto-dst"
 * A packet to a port no service manages costs one lookup, a managed one
 * two or three, whatever the number of services.
 * Large allowlists (more than NFT_BUILD_SHARD_MAX ranges in one family) are
 * split by address prefix into shard sets S_vF_<hex>_<len> of at most that
 * many ranges each, reached through an interval verdict map S_vF_map whose
 * elements jump to one small chain per shard ("ip saddr @shard counter
 * accept"); the allow rule then reads "ip saddr vmap @S_v4_map".
 * Dumping one huge interval set costs quadratic time in the kernel (see
 * notes/performance.md); shards keep every dump small, and a change of one
 * prefix touches one shard. The split is a pure function of the content.
 *
 * Every rule is built from its facts (struct nm_fact, nft_model.h) by
 * nft_build_rule(); nft_read.c recognises a live rule as portlock's by
 * building it again from the facts it reads and comparing expressions.
 */
#ifndef PORTLOCK_NFT_BUILD_H
#define PORTLOCK_NFT_BUILD_H

#include <stddef.h>
#include <stdint.h>

struct policy;
struct nm_table;
struct nm_fact;
struct nftnl_rule;

#define NFT_BUILD_SHARD_MAX POLICY_SHARD_MAX	/* policy_shard_max() */
#define NFT_BUILD_PRIORITY (-10)
#define NFT_BUILD_SEEN_SIZE 65535	/* elements of a seen set (S_seen4/6) */

/*
 * Build the desired table for p into *t (initialized here; release with
 * nm_table_fini()). The environment variable PORTLOCK_SHARD_MAX overrides the
 * shard size (tests use tiny shards). A service's compiled families (s->c4,
 * s->c6) are taken as they are: their shards may stay lazy. Returns 0 or -ENOMEM.
 */
int nft_build(const struct policy *p, struct nm_table *t);

/*
 * The rule of table inet <table>, chain <chain> that fact f describes (a
 * portlock role, not NM_ROLE_FOREIGN), or NULL (out of memory or a fact
 * that misses what its role needs). Caller frees with nftnl_rule_free().
 */
struct nftnl_rule *nft_build_rule(const char *table, const char *chain, const struct nm_fact *f);

/* The service chain of svc on hook (NF_INET_LOCAL_IN: "S_in", NF_INET_FORWARD: "S_fwd"). */
void nft_svc_chain(char *buf, size_t len, const char *svc, uint32_t hook);
/* The dispatch map of hook and protocol: "in_tcp", "in_udp", "fwd_tcp", "fwd_udp". */
const char *nft_dispatch_map(uint32_t hook, uint8_t l4proto);

#endif
