// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the compile cache's index parser (compile.c): the
 * index ends with the SHA-256 of what precedes it, so random bytes would
 * never get past that check; the target appends the right digest to its
 * input and hands over the whole, so that every field, count, length and
 * order check of the parser is reached. Seeds are indexes written by real
 * applies (corpus/cache/, without their trailer).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "compile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	unsigned mdlen = 0;

	if (size > (4u << 20))
		return 0;
	/* an exact-size buffer so ASan sees any read past the end */
	buf = malloc(size + 32);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (EVP_Digest(buf, size, buf + size, &mdlen, EVP_sha256(), NULL))
		compile_index_check(buf, size + 32);
	/* and the raw bytes, digest and all, as they come */
	compile_index_check(buf, size);
	free(buf);
	return 0;
}
