// SPDX-License-Identifier: GPL-2.0-or-later
/* The probe result records, child to parent (format in probe.h). */
#include "probe_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "fingerprint.h"
#include "probe_resolve.h"
#include "probe_sandbox.h"
#include "probe_smpp.h"
#include "probe_tls.h"
#include "util.h"

/* ---- result records ---- */

enum ftype { F_STR, F_U32, F_U64, F_ADDRS };
#define FSTR(id, m) { id, F_STR, offsetof(struct probe_result, m), sizeof(((struct probe_result *)0)->m) }
#define FU32(id, m) { id, F_U32, offsetof(struct probe_result, m), 4 }
#define FU64(id, m) { id, F_U64, offsetof(struct probe_result, m), 8 }
static const struct field {
	uint8_t id;
	enum ftype type;
	size_t off, size;
} fields[] = {
	FSTR(1, target), FSTR(2, addr), FU32(3, port), FU32(4, service), FSTR(5, evidence),
	FSTR(6, note), FU32(7, tls), FSTR(8, tls_version), FSTR(9, tls_cipher),
	FSTR(10, tls_subject), FSTR(11, tls_expiry), FU32(12, smtp_code), FU32(13, smtp_caps),
	FU64(14, smtp_size), FSTR(15, smtp_auth), FSTR(16, smtp_keywords),
	FU32(17, starttls_done), FSTR(18, software), FU32(19, confidence),
	FSTR(20, software_basis), FSTR(21, fp_codes), FU32(22, smpp_cmd), FU32(23, smpp_status),
	FU32(24, smpp_bind_done), FU32(25, smpp_bind_cmd), FU32(26, smpp_bind_status),
	FU32(27, connect_ms), FU32(28, first_byte_ms), FU32(29, total_ms), FU32(30, nconns),
	FSTR(32, closest), FU32(33, closest_confidence), FU32(34, http_status),
	FSTR(35, http_server), FSTR(36, ssh_banner),
	/* the address list last (test_probe_smpp.c finds it at the end) */
	{ 31, F_ADDRS, offsetof(struct probe_result, naddrs), 0 },
};

/* Integers are big-endian on the pipe. */
void pe_put32(uint8_t *p, uint32_t v)
{
	uint32_t be = htonl(v);

	memcpy(p, &be, sizeof(be));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t be;

	memcpy(&be, p, sizeof(be));
	return ntohl(be);
}

/* The address list as a field payload (see probe.h); returns its length or -ENOSPC. */
static int addrs_encode(const struct probe_result *r, uint8_t *buf, size_t max)
{
	uint32_t n = r->naddrs < PROBE_ADDRS_MAX ? r->naddrs : PROBE_ADDRS_MAX;
	size_t o = 1;

	if (max < 1)
		return -ENOSPC;
	buf[0] = (uint8_t)n;
	for (uint32_t i = 0; i < n; i++) {
		const struct probe_addr *a = &r->addrs[i];
		size_t len = strnlen(a->addr, sizeof(a->addr) - 1);

		if (o + 1 + len + 6 > max)
			return -ENOSPC;
		buf[o++] = (uint8_t)len;
		memcpy(buf + o, a->addr, len);
		o += len;
		buf[o++] = (uint8_t)a->outcome;
		buf[o++] = (uint8_t)a->service;
		pe_put32(buf + o, a->start_ms);
		o += 4;
	}
	return (int)o;
}

static int addrs_decode(const uint8_t *p, size_t n, struct probe_result *r)
{
	size_t o = 1;

	if (n < 1 || p[0] > PROBE_ADDRS_MAX)
		return -EBADMSG;
	r->naddrs = p[0];
	for (uint32_t i = 0; i < r->naddrs; i++) {
		struct probe_addr *a = &r->addrs[i];
		size_t len;

		if (n - o < 1)
			return -EBADMSG;
		len = p[o++];
		if (len >= sizeof(a->addr) || n - o < len + 6)
			return -EBADMSG;
		for (size_t k = 0; k < len; k++)
			if (p[o + k] < 0x20 || p[o + k] >= 0x7f)
				return -EBADMSG;
		memcpy(a->addr, p + o, len);
		a->addr[len] = '\0';
		o += len;
		a->outcome = p[o++];
		a->service = p[o++];
		a->start_ms = get32(p + o);
		o += 4;
		if (a->outcome >= PROBE_OUT_MAX || a->service >= PROBE_SVC_MAX)
			return -EBADMSG;
	}
	return o == n ? 0 : -EBADMSG;
}

int probe_result_encode(uint32_t index, const struct probe_result *r, uint8_t *buf, size_t max)
{
	size_t o = 12;

	if (max < 12)
		return -ENOSPC;
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const struct field *f = &fields[i];
		const uint8_t *src = (const uint8_t *)r + f->off;
		size_t len = f->type == F_STR ? strnlen((const char *)src, f->size - 1) : f->size;

		if (f->type == F_ADDRS) {
			int al;

			if (o + 3 > max)
				return -ENOSPC;
			al = addrs_encode(r, buf + o + 3, max - o - 3);
			if (al < 0 || o + 3 + (size_t)al - 12 > REC_MAX)
				return -ENOSPC;
			buf[o] = f->id;
			buf[o + 1] = (uint8_t)((unsigned)al >> 8);
			buf[o + 2] = (uint8_t)al;
			o += 3 + (size_t)al;
			continue;
		}

		if (o + 3 + len > max || o + 3 + len - 12 > REC_MAX)
			return -ENOSPC;
		buf[o] = f->id;
		buf[o + 1] = (uint8_t)(len >> 8);
		buf[o + 2] = (uint8_t)len;
		o += 3;
		if (f->type == F_U32) {
			pe_put32(buf + o, *(const uint32_t *)src);
		} else if (f->type == F_U64) {
			uint64_t v;

			memcpy(&v, src, 8);
			pe_put32(buf + o, (uint32_t)(v >> 32));
			pe_put32(buf + o + 4, (uint32_t)v);
		} else {
			memcpy(buf + o, src, len);
		}
		o += len;
	}
	memcpy(buf, REC_MAGIC, 4);
	pe_put32(buf + 4, index);
	pe_put32(buf + 8, (uint32_t)(o - 12));
	return (int)o;
}

static int decode_one(const uint8_t *p, size_t n, struct probe_result *r)
{
	uint64_t seen = 0;
	size_t o = 0;

	memset(r, 0, sizeof(*r));
	while (o < n) {
		const struct field *f = NULL;
		size_t len;
		uint8_t *dst;

		if (n - o < 3)
			return -EBADMSG;
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
			if (fields[i].id == p[o])
				f = &fields[i];
		len = (size_t)p[o + 1] << 8 | p[o + 2];
		o += 3;
		if (!f || (seen & (1ull << f->id)) || len > n - o)
			return -EBADMSG;
		seen |= 1ull << f->id;
		dst = (uint8_t *)r + f->off;
		if (f->type == F_ADDRS) {
			if (addrs_decode(p + o, len, r) < 0)
				return -EBADMSG;
		} else if (f->type == F_STR) {
			if (len >= f->size)
				return -EBADMSG;
			for (size_t i = 0; i < len; i++)
				if (p[o + i] < 0x20 || p[o + i] >= 0x7f)
					return -EBADMSG;	/* the child escapes everything */
			memcpy(dst, p + o, len);
			dst[len] = '\0';
		} else if (f->type == F_U32) {
			uint32_t v;

			if (len != 4)
				return -EBADMSG;
			v = get32(p + o);
			memcpy(dst, &v, 4);
		} else {
			uint64_t v;

			if (len != 8)
				return -EBADMSG;
			v = (uint64_t)get32(p + o) << 32 | get32(p + o + 4);
			memcpy(dst, &v, 8);
		}
		o += len;
	}
	if (r->service >= PROBE_SVC_MAX || r->port > 65535 || r->confidence > 100 ||
	    r->closest_confidence > 100 || (r->software[0] && r->closest[0]))
		return -EBADMSG;
	return 0;
}

/*
 * A stream of records; with partial, one cut short (the child was stopped)
 * keeps its whole records: a trailing incomplete one is dropped, a
 * malformed one still rejects everything.
 */
int pe_decode_stream(const uint8_t *buf, size_t len, struct probe_result *out, size_t n,
			 bool *seen, bool partial)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		seen[i] = false;
	while (len - o >= 12) {
		uint32_t idx = get32(buf + o + 4), rl = get32(buf + o + 8);

		if (memcmp(buf + o, REC_MAGIC, 4))
			return -EBADMSG;
		if (idx == REC_END)
			return rl == 0 && o + 12 == len ? 0 : -EBADMSG;
		if (idx >= n || seen[idx] || rl > REC_MAX)
			return -EBADMSG;
		if (rl > len - o - 12)
			break;
		if (decode_one(buf + o + 12, rl, &out[idx]) < 0)
			return -EBADMSG;
		seen[idx] = true;
		o += 12 + rl;
	}
	return partial ? 0 : -EBADMSG;	/* no end record */
}

int probe_results_decode(const uint8_t *buf, size_t len, struct probe_result *out, size_t n,
			 bool *seen)
{
	return pe_decode_stream(buf, len, out, n, seen, false);
}

