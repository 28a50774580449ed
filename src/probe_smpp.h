/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure SMPP PDU encoding and decoding for the probe (SMPP v3.4 / v5.0).
 * No I/O, no allocation. Every PDU starts with a 16-octet header, all
 * fields big-endian:
 *
 *   0        4            8            12           16
 *   +--------+------------+------------+------------+---------------
 *   | length | command_id | status     | sequence   | body (length-16)
 *   +--------+------------+------------+------------+---------------
 *
 * A response's command_id is the request's with 0x80000000 set. The probe
 * never trusts command_length for a buffer size: it reads the 16-octet
 * header into a fixed buffer and only checks the length for plausibility.
 */
#ifndef PORTLOCK_PROBE_SMPP_H
#define PORTLOCK_PROBE_SMPP_H

#include <stddef.h>
#include <stdint.h>

#define PROBE_SMPP_HDR_LEN 16
#define PROBE_SMPP_BIND_MAX 64		/* our bind_transmitter PDU is smaller than this */

#define PROBE_SMPP_GENERIC_NACK 0x80000000u
#define PROBE_SMPP_BIND_TRANSMITTER 0x00000002u
#define PROBE_SMPP_BIND_TRANSMITTER_RESP 0x80000002u
#define PROBE_SMPP_UNBIND 0x00000006u
#define PROBE_SMPP_ENQUIRE_LINK 0x00000015u
#define PROBE_SMPP_ENQUIRE_LINK_RESP 0x80000015u

struct probe_smpp_hdr {
	uint32_t len, id, status, seq;
};

/* Write a 16-octet header-only PDU (enquire_link, unbind) into out. */
void probe_smpp_encode_hdr(uint8_t out[PROBE_SMPP_HDR_LEN], uint32_t id, uint32_t status,
			   uint32_t seq);

/*
 * Write a bind_transmitter with the given system_id (at most 15 chars) and
 * password (at most 8), system_type "", interface_version 0x34, addr_ton,
 * addr_npi 0 and an empty address_range. Returns the PDU length, or
 * -EINVAL when a string is too long or outmax too small.
 */
int probe_smpp_encode_bind(uint8_t *out, size_t outmax, uint32_t seq, const char *system_id,
			   const char *password);

/* Decode a header from at least 16 bytes. Returns 0, or -EAGAIN when len < 16. */
int probe_smpp_decode_hdr(const void *buf, size_t len, struct probe_smpp_hdr *h);

/*
 * Does h answer a request (req_id, seq)? Returns 0 when it is the matching
 * response (req_id | 0x80000000) or a generic_nack, echoing seq, with a
 * plausible command_length: exactly 16 for enquire_link_resp and
 * generic_nack, 16..4096 for a bind response. -EPROTO when it is an SMPP
 * header that does not answer (other id, other sequence), -EBADMSG when the
 * length is impossible (e.g. 0xFFFFFFFF).
 */
int probe_smpp_check_reply(const struct probe_smpp_hdr *h, uint32_t req_id, uint32_t seq);

/* "enquire_link_resp", "generic_nack", ...; "unknown" for others. */
const char *probe_smpp_cmd_name(uint32_t id);

/* "ESME_ROK", "ESME_RINVPASWD", ...; NULL for values without a name here. */
const char *probe_smpp_status_name(uint32_t status);

#endif
