/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy -> desired model of table inet <name> (libnftnl rule objects plus
 * set contents as ranges). No I/O. The same model feeds `export` (rendered as
 * an nft script) and `plan`/`apply` (diffed against the kernel), so the two
 * cannot disagree.
 *
 * Shape, per service S and family F (v4, v6):
 *   set S_ports   inet_service                  the service's ports
 *   set S_F       ipv4_addr/ipv6_addr interval  the merged allowlist
 *   input:   tcp dport @S_ports ip saddr != @S_v4 limit rate R log prefix "P[S] "
 *            tcp dport @S_ports ip saddr != @S_v4 counter drop|reject
 *   forward: the same, matched on "ct status dnat ... ct original proto-dst"
 * Large allowlists (more than NFT_BUILD_SHARD_MAX ranges in one family) are
 * split by address prefix into shard sets S_F_<hex>_<len> of at most that many
 * ranges each, reached through an interval verdict map S_F_map whose
 * elements jump to one small chain per shard ("ip saddr @shard accept"); the
 * service rules then read:
 *            tcp dport @S_ports ip saddr vmap @S_v4_map
 *            tcp dport @S_ports meta nfproto ipv4 [log] counter drop
 * Dumping one huge interval set costs quadratic time in the kernel (see
 * notes/performance.md); shards keep every dump small, and a change of one
 * prefix touches one shard. The split is a pure function of the content.
 */
#ifndef PORTLOCK_NFT_BUILD_H
#define PORTLOCK_NFT_BUILD_H

struct policy;
struct nm_table;

#define NFT_BUILD_SHARD_MAX POLICY_SHARD_MAX	/* policy_shard_max() */
#define NFT_BUILD_PRIORITY (-10)

/*
 * Build the desired table for p into *t (initialized here; release with
 * nm_table_fini()). The environment variable PORTLOCK_SHARD_MAX overrides the
 * shard size (tests use tiny shards). A service's compiled families (s->c4,
 * s->c6) are taken as they are: their shards may stay lazy. Returns 0 or -ENOMEM.
 */
int nft_build(const struct policy *p, struct nm_table *t);

#endif
