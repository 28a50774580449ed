// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Conntrack flows over ctnetlink (see nl_ct.h). The socket and the dump loop
 * are nl.c's; this file builds the request and parses the replies.
 */
#include "nl_ct.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <libmnl/libmnl.h>

#include "diag.h"
#include "nl.h"
#include "util.h"

#define CT_DUMP_TRIES 3

void ct_list_init(struct ct_list *l)
{
	memset(l, 0, sizeof(*l));
}

void ct_list_fini(struct ct_list *l)
{
	free(l->v);
	ct_list_init(l);
}

/* Attributes of one nest level, up to max; unknown (newer) ones are ignored. */
struct nest {
	const struct nlattr **tb;
	uint16_t max;
};

static int nest_cb(const struct nlattr *a, void *data)
{
	struct nest *n = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type <= n->max)
		n->tb[type] = a;
	return MNL_CB_OK;
}

static int parse_nested(const struct nlattr *a, const struct nlattr **tb, uint16_t max)
{
	struct nest n = { tb, max };

	memset(tb, 0, sizeof(*tb) * ((size_t)max + 1));
	return mnl_attr_parse_nested(a, nest_cb, &n) < 0 ? -1 : 0;
}

static bool attr_len(const struct nlattr *a, size_t len)
{
	return a && mnl_attr_get_payload_len(a) >= len;
}

/* CTA_TUPLE_*: addresses, protocol and ports. false when malformed or incomplete. */
static bool parse_tuple(const struct nlattr *a, enum cidr_family f, uint8_t *proto, u128 *src,
			u128 *dst, uint16_t *sport, uint16_t *dport)
{
	const struct nlattr *t[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *pr[CTA_PROTO_MAX + 1];
	size_t alen = f == CIDR_V4 ? 4 : 16;
	uint16_t port;

	if (parse_nested(a, t, CTA_TUPLE_MAX) < 0 || !t[CTA_TUPLE_IP] || !t[CTA_TUPLE_PROTO])
		return false;
	if (parse_nested(t[CTA_TUPLE_IP], ip, CTA_IP_MAX) < 0 ||
	    parse_nested(t[CTA_TUPLE_PROTO], pr, CTA_PROTO_MAX) < 0)
		return false;
	{
		const struct nlattr *s = ip[f == CIDR_V4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC];
		const struct nlattr *d = ip[f == CIDR_V4 ? CTA_IP_V4_DST : CTA_IP_V6_DST];

		if (!attr_len(s, alen) || !attr_len(d, alen) || !attr_len(pr[CTA_PROTO_NUM], 1))
			return false;
		*src = cidr_from_bytes(f, mnl_attr_get_payload(s));
		if (dst)
			*dst = cidr_from_bytes(f, mnl_attr_get_payload(d));
	}
	*proto = mnl_attr_get_u8(pr[CTA_PROTO_NUM]);
	if (*proto != IPPROTO_TCP && *proto != IPPROTO_UDP)
		return true;
	if (!attr_len(pr[CTA_PROTO_SRC_PORT], 2) || !attr_len(pr[CTA_PROTO_DST_PORT], 2))
		return false;
	memcpy(&port, mnl_attr_get_payload(pr[CTA_PROTO_SRC_PORT]), 2);
	*sport = ntohs(port);
	if (dport) {
		memcpy(&port, mnl_attr_get_payload(pr[CTA_PROTO_DST_PORT]), 2);
		*dport = ntohs(port);
	}
	return true;
}

struct dump_ctx {
	struct ct_list *out;
	int err;
};

static int flow_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTA_MAX + 1] = { NULL };
	struct nest top = { tb, CTA_MAX };
	struct dump_ctx *c = data;
	const struct nfgenmsg *nfg;
	struct ct_flow fl = { 0 };
	uint32_t status = 0;
	uint8_t rproto;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*nfg))
		return MNL_CB_OK;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6)
		return MNL_CB_OK;
	fl.family = nfg->nfgen_family == AF_INET ? CIDR_V4 : CIDR_V6;
	if (mnl_attr_parse(nlh, sizeof(*nfg), nest_cb, &top) < 0)
		return MNL_CB_OK;	/* a malformed flow is not one we can judge */
	if (!tb[CTA_TUPLE_ORIG] || !tb[CTA_TUPLE_REPLY] ||
	    !parse_tuple(tb[CTA_TUPLE_ORIG], fl.family, &fl.proto, &fl.src, &fl.dst, &fl.sport,
			 &fl.dport) ||
	    !parse_tuple(tb[CTA_TUPLE_REPLY], fl.family, &rproto, &fl.reply_src, NULL,
			 &fl.reply_sport, NULL))
		return MNL_CB_OK;
	if (fl.proto != IPPROTO_TCP && fl.proto != IPPROTO_UDP)
		return MNL_CB_OK;
	if (attr_len(tb[CTA_STATUS], 4))
		status = ntohl(mnl_attr_get_u32(tb[CTA_STATUS]));
	fl.dnat = (status & IPS_DST_NAT) != 0;
	fl.assured = (status & IPS_ASSURED) != 0;
	if (fl.proto == IPPROTO_TCP) {
		const struct nlattr *pi[CTA_PROTOINFO_MAX + 1], *tcp[CTA_PROTOINFO_TCP_MAX + 1];

		if (!tb[CTA_PROTOINFO] || parse_nested(tb[CTA_PROTOINFO], pi, CTA_PROTOINFO_MAX) < 0 ||
		    !pi[CTA_PROTOINFO_TCP] ||
		    parse_nested(pi[CTA_PROTOINFO_TCP], tcp, CTA_PROTOINFO_TCP_MAX) < 0 ||
		    !attr_len(tcp[CTA_PROTOINFO_TCP_STATE], 1))
			return MNL_CB_OK;
		fl.tcp_state = mnl_attr_get_u8(tcp[CTA_PROTOINFO_TCP_STATE]);
		if (fl.tcp_state != TCP_CONNTRACK_ESTABLISHED)
			return MNL_CB_OK;
	} else if (!fl.assured) {
		return MNL_CB_OK;
	}
	if (util_grow((void **)&c->out->v, &c->out->cap, c->out->n + 1, sizeof(*c->out->v)) < 0) {
		c->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	c->out->v[c->out->n++] = fl;
	return MNL_CB_OK;
}

int ct_dump(struct ct_list *out, struct diag *d)
{
	char buf[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg))];
	struct nl_sock *s = NULL;
	int rc = -EINTR;

	for (int i = 0; i < CT_DUMP_TRIES && rc == -EINTR; i++) {
		struct dump_ctx c = { out, 0 };
		size_t mark = out->n;
		struct nlmsghdr *nlh;
		struct nfgenmsg *nfg;

		/* a fresh socket per try: an interrupted dump's rest dies with the old one */
		nl_close(s);
		s = NULL;
		rc = nl_open(&s, d);
		if (rc < 0)
			break;
		memset(buf, 0, sizeof(buf));
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
		nfg->nfgen_family = AF_UNSPEC;	/* every family */
		nfg->version = NFNETLINK_V0;
		rc = nl_request(s, nlh, flow_cb, &c, "conntrack: the flow dump", d);
		if (c.err)
			rc = diag_err(d, DIAG_INTERNAL, NULL, -c.err, "conntrack flows");
		if (rc == -EINTR)
			out->n = mark;
	}
	nl_close(s);
	if (rc == -EINTR)
		rc = diag_err(d, DIAG_NETLINK, NULL, EINTR,
			      "conntrack: the flow table kept changing during %d dumps", CT_DUMP_TRIES);
	return rc;
}
