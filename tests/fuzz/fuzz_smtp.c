// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the SMTP reply parsers (src/probe_smtp.c) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe_smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct probe_smtp_reply r;
	struct probe_smtp_caps c;
	char text[1024];
	size_t off = 0;

	/* a stream of replies, as the engine sees it */
	while (off < size && probe_smtp_reply_parse(data + off, size - off, &r) == 1) {
		if (r.len == 0 || r.len > size - off)
			abort();
		probe_smtp_reply_text(data + off, r.len, text, sizeof(text));
		if (strlen(text) >= sizeof(text))
			abort();
		off += r.len;
	}
	if (probe_smtp_ehlo_parse(data, size, &c) == 0) {
		if (strlen(c.keywords) >= sizeof(c.keywords) || strlen(c.auth) >= sizeof(c.auth))
			abort();
		for (const char *p = c.first_line; *p; p++)
			if (*p < 0x20 || *p >= 0x7f)
				abort();
	}
	probe_smtp_reply_text(data, size, text, sizeof(text));
	(void)probe_smtp_text_looks_ftp(text);
	return 0;
}
