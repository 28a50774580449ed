/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A growing byte buffer for the little-endian binary files portlock writes
 * (the compile cache's index, the journal's range manifests). Writes after a
 * failed allocation are no-ops; err says so once at the end.
 */
#ifndef PORTLOCK_BYTEBUF_H
#define PORTLOCK_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct bytebuf {
	char *p;		/* malloc'ed; the caller frees it */
	size_t len, cap;
	int err;		/* 0, or -ENOMEM once an append failed */
};

/* Append n bytes. */
void bytebuf_put(struct bytebuf *w, const void *v, size_t n);
/* Append the low n bytes of v (n <= 16; above 8 the bytes are zero), little-endian. */
void bytebuf_uint(struct bytebuf *w, uint64_t v, size_t n);
/* Append the low n bytes of v (n <= 16), little-endian. */
void bytebuf_u128(struct bytebuf *w, u128 v, size_t n);

#endif
