// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SMPP PDU encode/decode for the probe: the 16-octet header, enquire_link
 * and a dummy-credential bind_transmitter. Pure functions, bounded by the
 * lengths given; the engine never sizes a buffer from command_length.
 */
#include "probe_smpp.h"

#include <errno.h>
#include <string.h>

#include "util.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void probe_smpp_encode_hdr(uint8_t out[PROBE_SMPP_HDR_LEN], uint32_t id, uint32_t status,
			   uint32_t seq)
{
	put32(out, PROBE_SMPP_HDR_LEN);
	put32(out + 4, id);
	put32(out + 8, status);
	put32(out + 12, seq);
}

int probe_smpp_encode_bind(uint8_t *out, size_t outmax, uint32_t seq, const char *system_id,
			   const char *password)
{
	size_t sl = strlen(system_id), pl = strlen(password), n;

	if (sl > 15 || pl > 8)
		return -EINVAL;
	/* header, system_id\0, password\0, system_type\0, version, ton, npi, range\0 */
	n = PROBE_SMPP_HDR_LEN + sl + 1 + pl + 1 + 1 + 3 + 1;
	if (n > outmax)
		return -EINVAL;
	probe_smpp_encode_hdr(out, PROBE_SMPP_BIND_TRANSMITTER, 0, seq);
	put32(out, (uint32_t)n);
	n = PROBE_SMPP_HDR_LEN;
	memcpy(out + n, system_id, sl + 1);
	n += sl + 1;
	memcpy(out + n, password, pl + 1);
	n += pl + 1;
	out[n++] = 0;		/* system_type */
	out[n++] = 0x34;	/* interface_version 3.4 */
	out[n++] = 0;		/* addr_ton */
	out[n++] = 0;		/* addr_npi */
	out[n++] = 0;		/* address_range */
	return (int)n;
}

int probe_smpp_decode_hdr(const void *buf, size_t len, struct probe_smpp_hdr *h)
{
	const uint8_t *p = buf;

	if (len < PROBE_SMPP_HDR_LEN)
		return -EAGAIN;
	h->len = get32(p);
	h->id = get32(p + 4);
	h->status = get32(p + 8);
	h->seq = get32(p + 12);
	return 0;
}

int probe_smpp_check_reply(const struct probe_smpp_hdr *h, uint32_t req_id, uint32_t seq)
{
	uint32_t resp = req_id | 0x80000000u;

	if (h->id != resp && h->id != PROBE_SMPP_GENERIC_NACK)
		return -EPROTO;
	if (h->seq != seq)
		return -EPROTO;
	if (h->id == PROBE_SMPP_GENERIC_NACK || h->id == PROBE_SMPP_ENQUIRE_LINK_RESP)
		return h->len == PROBE_SMPP_HDR_LEN ? 0 : -EBADMSG;
	return h->len >= PROBE_SMPP_HDR_LEN && h->len <= 4096 ? 0 : -EBADMSG;
}

static const struct {
	uint32_t id;
	const char *name;
} cmds[] = {
	{ 0x80000000u, "generic_nack" },
	{ 0x00000001u, "bind_receiver" },
	{ 0x80000001u, "bind_receiver_resp" },
	{ 0x00000002u, "bind_transmitter" },
	{ 0x80000002u, "bind_transmitter_resp" },
	{ 0x00000004u, "submit_sm" },
	{ 0x80000004u, "submit_sm_resp" },
	{ 0x00000006u, "unbind" },
	{ 0x80000006u, "unbind_resp" },
	{ 0x00000009u, "bind_transceiver" },
	{ 0x80000009u, "bind_transceiver_resp" },
	{ 0x00000015u, "enquire_link" },
	{ 0x80000015u, "enquire_link_resp" },
};

const char *probe_smpp_cmd_name(uint32_t id)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (cmds[i].id == id)
			return cmds[i].name;
	return "unknown";
}

static const struct {
	uint32_t st;
	const char *name;
} stats[] = {
	{ 0x00, "ESME_ROK" },	      { 0x01, "ESME_RINVMSGLEN" }, { 0x02, "ESME_RINVCMDLEN" },
	{ 0x03, "ESME_RINVCMDID" },   { 0x04, "ESME_RINVBNDSTS" }, { 0x05, "ESME_RALYBND" },
	{ 0x08, "ESME_RSYSERR" },     { 0x0D, "ESME_RBINDFAIL" },  { 0x0E, "ESME_RINVPASWD" },
	{ 0x0F, "ESME_RINVSYSID" },
};

const char *probe_smpp_status_name(uint32_t status)
{
	for (size_t i = 0; i < ARRAY_SIZE(stats); i++)
		if (stats[i].st == status)
			return stats[i].name;
	return NULL;
}
