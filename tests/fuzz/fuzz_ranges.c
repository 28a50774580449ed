// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the parsers of saved table contents: the compact
 * ranges and the format-3 manifests (nft_ranges_parse(), the journal's
 * .ranges files and what the live note makes portlock trust), the range-set
 * objects a manifest names (setobj_decode()), and the saved netlink messages
 * with them (nft_parse_raw(), what revert and `log --show` rebuild a table
 * from). Beyond "no crash, no leak": what parses is written again by
 * nft_ranges_blob() / nft_ranges_manifest() / setobj_encode() and reads back
 * the same.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/common.h>

#include "cidr.h"
#include "diag.h"
#include "nft_model.h"
#include "nft_read.h"
#include "setobj.h"

#define OBJDIR "/nonexistent/portlock-objects"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char hdr[4096];
static size_t hdrlen;

static void put_set(const char *name, uint32_t kl, uint32_t kt)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(hdr + hdrlen, NFT_MSG_NEWSET, NFPROTO_INET, 0, 0);

	nftnl_set_set_str(s, NFTNL_SET_TABLE, "portlock");
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, kt);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, kl);
	nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	hdrlen += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* NEWTABLE portlock, NEWSET s4 (ipv4_addr interval), NEWSET s6 (ipv6_addr interval) */
static const char *header(void)
{
	if (!hdrlen) {
		struct nftnl_table *t = nftnl_table_alloc();
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(hdr, NFT_MSG_NEWTABLE, NFPROTO_INET, 0, 0);

		nftnl_table_set_str(t, NFTNL_TABLE_NAME, "portlock");
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
		hdrlen = NLMSG_ALIGN(nlh->nlmsg_len);
		put_set("s4", 4, 7);
		put_set("s6", 16, 8);
	}
	return hdr;
}

static size_t header_len(void)
{
	header();
	return hdrlen;
}

/* Every whole message in buf is a NEWSETELEM (a trailing fragment is left to the parser). */
static bool only_setelem(const uint8_t *buf, size_t len)
{
	while (len >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;

		memcpy(&h, buf, sizeof(h));
		if (NFNL_MSG_TYPE(h.nlmsg_type) != NFT_MSG_NEWSETELEM)
			return false;
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len >= len || NLMSG_ALIGN((size_t)h.nlmsg_len) >= len)
			return true;
		buf += NLMSG_ALIGN((size_t)h.nlmsg_len);
		len -= NLMSG_ALIGN((size_t)h.nlmsg_len);
	}
	return true;
}

static void same(const struct nm_table *a, const struct nm_table *b)
{
	if (a->nsets != b->nsets)
		abort();
	for (size_t i = 0; i < a->nsets; i++)
		if (strcmp(a->sets[i].name, b->sets[i].name) || a->sets[i].kind != b->sets[i].kind ||
		    /* 0 means "count them": written again as the count */
		    (a->sets[i].nelems && a->sets[i].nelems != b->sets[i].nelems) ||
		    !rangeset_equal(&a->sets[i].ranges, &b->sets[i].ranges) ||
		    a->sets[i].lazy != b->sets[i].lazy ||
		    (a->sets[i].lazy && memcmp(a->sets[i].digest, b->sets[i].digest, 32)))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nm_table t, t2;
	struct diag d;
	char *blob = NULL;
	size_t len = 0, cut;

	if (size < 1 || size > 1 << 20)
		return 0;
	if ((data[0] & 3) == 2) {
		/* one range-set object, with a round trip */
		struct rangeset rs, rs2;
		enum cidr_family f;
		uint8_t md[32], md2[32];

		if (setobj_decode(data + 1, size - 1, &f, &rs) == 0) {
			if (setobj_encode(f, &rs, &blob, &len) || len != size - 1 ||
			    memcmp(blob, data + 1, len) || setobj_digest(f, &rs, md) ||
			    setobj_decode(blob, len, &f, &rs2) || !rangeset_equal(&rs, &rs2))
				abort();
			setobj_digest(f, &rs2, md2);
			if (memcmp(md, md2, 32))
				abort();
			rangeset_fini(&rs2);
			free(blob);
		}
		rangeset_fini(&rs);
		return 0;
	}
	if (data[0] & 1) {
		/* ranges or a manifest alone, with a round trip */
		bool lazy = false;

		memset(&t, 0, sizeof(t));
		if (nft_ranges_parse(data + 1, size - 1, OBJDIR, &t) == 0) {
			for (size_t i = 0; i < t.nsets; i++) {
				t.sets[i].key_len = t.sets[i].kind == NM_SET_V4 ? 4 : 16;
				lazy |= t.sets[i].lazy;
			}
			if (lazy ? nft_ranges_manifest(&t, &blob, &len) : nft_ranges_blob(&t, &blob, &len))
				abort();
			memset(&t2, 0, sizeof(t2));
			if (nft_ranges_parse(blob, len, OBJDIR, &t2))
				abort();
			same(&t, &t2);
			nm_table_fini(&t2);
			free(blob);
		}
		nm_table_fini(&t);
		return 0;
	}
	/*
	 * A valid table and two interval sets (as saved), then fuzzed element
	 * messages, then (after a split point) ranges to merge into them; each
	 * in its own malloc'ed (aligned) buffer, as journal_load_blob() hands
	 * them over. Only set element messages are fuzzed: portlock parses
	 * those itself; table, chain, set and rule messages go to libnftnl,
	 * which exit()s on attributes of the wrong size ("ABI breakage") --
	 * tolerable only because a saved table is SHA-256-checked first.
	 */
	if (size < 3)
		return 0;
	cut = (size_t)(data[1] | data[2] << 8) % (size - 2);
	if (!only_setelem(data + 3, cut))
		return 0;
	{
		size_t hl = header_len();
		char *raw = malloc(hl + cut + 1), *rg = malloc(size - 3 - cut + 1);

		if (!raw || !rg)
			abort();
		memcpy(raw, header(), hl);
		memcpy(raw + hl, data + 3, cut);
		cut += hl;
		memcpy(rg, data + 3 + cut - hl, size - 3 - (cut - hl));
		diag_init(&d);
		memset(&t, 0, sizeof(t));
		nft_parse_raw(raw, cut, size - 3 - (cut - hl) ? rg : NULL, size - 3 - (cut - hl), OBJDIR,
			      "portlock", &t, "fuzz", &d);
		nm_table_fini(&t);
		diag_fini(&d);
		free(raw);
		free(rg);
	}
	return 0;
}
