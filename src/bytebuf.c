// SPDX-License-Identifier: GPL-2.0-or-later
/* The byte writer of portlock's binary files (bytebuf.h). */
#include "bytebuf.h"

#include <errno.h>
#include <string.h>

#include "util.h"

void bytebuf_put(struct bytebuf *w, const void *v, size_t n)
{
	if (w->err)
		return;
	if (util_grow((void **)&w->p, &w->cap, w->len + n, 1) < 0) {
		w->err = -ENOMEM;
		return;
	}
	memcpy(w->p + w->len, v, n);
	w->len += n;
}

void bytebuf_uint(struct bytebuf *w, uint64_t v, size_t n)
{
	uint8_t b[16] = { 0 };

	for (size_t i = 0; i < n && i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	bytebuf_put(w, b, n);
}

void bytebuf_u128(struct bytebuf *w, u128 v, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* the low n bytes of v, already in file order: the hot loop of a million ranges */
	if (!w->err && w->len + n <= w->cap) {
		memcpy(w->p + w->len, &v, n);
		w->len += n;
		return;
	}
#endif
	bytebuf_uint(w, (uint64_t)v, n < 8 ? n : 8);
	if (n > 8)
		bytebuf_uint(w, (uint64_t)(v >> 64), n - 8);
}
