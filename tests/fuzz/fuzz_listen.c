// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: bytes as a sock_diag dump reply, fed to listen_parse()
 * for TCP and UDP and to listen_parse_established(), then every entry is
 * classified and formatted (and the connections judged by sshguard). Seeds are
 * the captured kernel replies of tests/unit/data (corpus/listen/).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "listen.h"
#include "sshguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[LISTEN_ENDPOINTSTRLEN];

	for (int p = 0; p <= LISTEN_PROTO_MAX; p++) {	/* LISTEN_PROTO_MAX: established TCP */
		/* an exact-size copy so ASan sees any read past the end */
		uint8_t *copy = malloc(size ? size : 1);
		struct listen_set s;
		struct diag d;

		if (!copy)
			return 0;
		memcpy(copy, data, size);
		listen_set_init(&s);
		diag_init(&d);
		if (p == LISTEN_PROTO_MAX) {
			struct sshguard_list l;

			(void)listen_parse_established(copy, size, 0, 0, &s, &d);
			sshguard_list_init(&l);
			(void)sshguard_from_sockets(&s, &l);
			sshguard_list_fini(&l);
		} else {
			(void)listen_parse(copy, size, (enum listen_proto)p, 0, 0, &s, &d);
		}
		for (size_t i = 0; i < s.n; i++) {
			(void)listen_scope(&s.v[i]);
			(void)listen_covers_family(&s.v[i], CIDR_V4);
			(void)listen_covers_family(&s.v[i], CIDR_V6);
			listen_endpoint_str(&s.v[i], buf, sizeof(buf));
		}
		listen_set_sort(&s);
		listen_set_fini(&s);
		diag_fini(&d);
		free(copy);
	}
	return 0;
}
