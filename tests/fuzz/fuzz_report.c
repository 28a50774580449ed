// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: arbitrary bytes as a scanner export through
 * report_parse(), the path `audit --report` takes after reading the file;
 * then the host filter and the judgement of every entry against a few port
 * states, as cmd_audit.c renders them. Every error must come back as a
 * diagnostic; ASan/UBSan catch everything else.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "diag.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report r;
	struct report_hosts h;
	struct audit_port_key *keys;
	struct diag d;
	size_t nkeys;

	if (size > 1024 * 1024)
		return 0;
	diag_init(&d);
	if (report_parse((const char *)data, size, "fuzz.xml", &r, &d) == 0) {
		report_hosts_init(&h);
		report_hosts_add(&h, "192.0.2.1");
		report_hosts_add(&h, "2001:db8:1::1");
		report_hosts_add(&h, "mail.example.test");
		for (size_t i = 0; i < r.n; i++) {
			struct audit_port now = { .key = { .port = r.v[i].port, .udp = r.v[i].udp } };
			struct audit_finding live = { .sev = AUDIT_HIGH };
			struct report_outcome o;
			char line[4096];

			now.listening[0] = i & 1;
			now.listening[1] = i & 2;
			now.reach[0].state = (enum audit_reach)(i % (AUDIT_REACH_UNKNOWN + 1));
			now.reach[1].state = (enum audit_reach)((i / (AUDIT_REACH_UNKNOWN + 1)) % (AUDIT_REACH_UNKNOWN + 1));
			now.reach[0].nranges = now.reach[1].nranges = i;
			now.reach[0].partial = i & 8;
			now.reach[1].by_portlock = i & 16;
			report_judge(&r.v[i], i % 5 ? &now : NULL, i & 4 ? &live : NULL, NULL,
				     "fuzz.conf", "portlock", &o);
			snprintf(line, sizeof(line), "%s %s %s %s %s %s", r.v[i].address, r.v[i].host,
				 r.v[i].check, report_state_str(o.state), o.evidence, o.fix);
			(void)report_hosts_match(&h, &r.v[i]);
		}
		if (report_port_keys(&r, &keys, &nkeys) == 0)
			free(keys);
		report_keep(&r, &h);
		report_hosts_fini(&h);
		report_fini(&r);
	}
	diag_fini(&d);
	return 0;
}
