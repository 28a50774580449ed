// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: SMPP header decoding and reply checks (src/probe_smpp.c)
 * on an arbitrary PDU stream, and the probe's result-record decoder
 * (probe_results_decode, what the parent runs on the child's pipe). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "probe_smpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t reqs[] = { PROBE_SMPP_ENQUIRE_LINK, PROBE_SMPP_BIND_TRANSMITTER };
	struct probe_result out[3];
	bool seen[3];
	struct probe_smpp_hdr h;
	size_t off = 0;

	while (probe_smpp_decode_hdr(data + off, size - off, &h) == 0) {
		for (size_t i = 0; i < 2; i++) {
			int rc = probe_smpp_check_reply(&h, reqs[i], h.seq);

			if (rc == 0 && (h.len < PROBE_SMPP_HDR_LEN || h.len > 4096))
				abort();
		}
		(void)probe_smpp_cmd_name(h.id);
		(void)probe_smpp_status_name(h.status);
		/* never trust command_length: step by the header only */
		off += PROBE_SMPP_HDR_LEN;
	}
	if (probe_results_decode(data, size, out, 3, seen) == 0) {
		for (size_t i = 0; i < 3; i++) {
			if (!seen[i])
				continue;
			if (out[i].service >= PROBE_SVC_MAX)
				abort();
			for (const char *p = out[i].evidence; *p; p++)
				if (*p < 0x20 || *p >= 0x7f)
					abort();
		}
	}
	return 0;
}
