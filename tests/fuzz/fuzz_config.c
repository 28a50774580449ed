// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: arbitrary bytes as a config text through
 * config_load_string(), the same path `portlock check` takes. Every error must
 * come back as a diagnostic; ASan/UBSan catch everything else.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p;
	struct diag d;
	char *text;

	if (size > 64 * 1024)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/*
	 * libconfig opens @include files itself (devices included); keep the
	 * fuzzer off the file system there. allow_file is safe: config.c reads
	 * only regular files, relative to a directory that does not exist.
	 */
	if (strstr(text, "@include")) {
		free(text);
		return 0;
	}
	diag_init(&d);
	if (config_load_string(text, "fuzz.conf", "/nonexistent-portlock-fuzz", &p, &d) == 0) {
		char hash[65];

		policy_hash(&p, hash);
		policy_fini(&p);
	}
	diag_fini(&d);
	free(text);
	return 0;
}
