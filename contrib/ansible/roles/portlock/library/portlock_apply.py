#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Ansible module: bring a portlock table in line with a policy file.

Check mode and diff mode map onto portlock itself: the module always runs
"portlock plan --exit-code --json" first (with --check, so that the kernel
validates the batch without committing it); in check mode it stops there and
reports changed when changes are pending, with the plan as the diff (headed
with the table the policy configures). Otherwise it runs "portlock apply
--json" (with --confirm SECONDS when confirm is set) and returns the
transaction id and whether it awaits "portlock confirm".

portlock's output is read as JSON only (schemas portlock-plan/1 and
portlock-apply/1, see portlock(8) JSON OUTPUT), never parsed as text.
"""

import json
import os
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: portlock_apply
short_description: plan and apply a portlock policy
options:
  binary: {type: path, default: /usr/sbin/portlock}
  config: {type: path, required: true}
  state_dir: {type: path}
  confirm: {type: int, default: 0, description: seconds; 0 applies without --confirm}
  kernel_check: {type: bool, default: true, description: plan --check}
  wait: {type: int, default: 0, description: global --wait SECONDS for the lock; 0 leaves it out}
"""

RETURN = r"""
table: {type: str, description: the nftables table (inet family) the policy manages}
plan: {type: dict, description: "portlock plan --json (schema portlock-plan/1)"}
plan_lines: {type: list, description: "the plan's changes in nft syntax, '+ ...' or '- ...'"}
apply: {type: dict, description: "portlock apply --json (schema portlock-apply/1), when applied"}
transaction_id: {type: int, description: the journal transaction of the apply}
pending: {type: bool, description: the transaction awaits "portlock confirm" (apply --confirm)}
confirm_deadline: {type: int, description: unix time at which portlock reverts it unless confirmed}
"""

EXIT_NAMES = {2: "bad command line", 3: "invalid policy", 4: "kernel refused (nothing changed)",
              5: "conflict", 6: "service mismatch",
              7: "applied without a journal record (state dir full or read-only)", 70: "internal error"}

SCHEMA_VERSION = 1


def parse(module, what, doc, out, err, rc):
    """portlock's JSON document of schema portlock-<doc>/1, or a failure."""
    try:
        d = json.loads(out)
    except ValueError:
        d = None
    want = "portlock-%s/%d" % (doc, SCHEMA_VERSION)
    if not isinstance(d, dict) or d.get("schema") != want:
        got = d.get("schema") if isinstance(d, dict) else None
        module.fail_json(msg="portlock %s (exit %d): expected a JSON document of schema %s, got %s: %s" %
                         (what, rc, want, got or "no JSON", (err or out).strip()[:2000]),
                         rc=rc, stdout=out, stderr=err)
    return d


def plan_text(plan):
    lines = ["%s %s" % (c["op"], c["object"]) for c in plan.get("changes", [])]
    if plan.get("changes_not_listed"):
        lines.append("  ... %d more element changes not listed" % plan["changes_not_listed"])
    return lines


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="path", default="/usr/sbin/portlock"),
            config=dict(type="path", required=True),
            state_dir=dict(type="path"),
            confirm=dict(type="int", default=0),
            kernel_check=dict(type="bool", default=True),
            wait=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    base = [p["binary"], "-c", p["config"]]
    if p["state_dir"]:
        base += ["--state-dir", p["state_dir"]]
    if p["wait"] > 0:
        base += ["--wait", str(p["wait"])]

    def run(args):
        return module.run_command(base + args, environ_update={"LC_ALL": "C"})

    def fail(what, rc, out, err):
        module.fail_json(msg="portlock %s failed with exit %d (%s): %s" %
                         (what, rc, EXIT_NAMES.get(rc, "?"), (err or out).strip()),
                         rc=rc, stdout=out, stderr=err)

    plan_args = ["plan", "--exit-code", "--json"] + (["--check"] if p["kernel_check"] else [])
    rc, out, err = run(plan_args)
    if rc not in (0, 1):
        fail("plan", rc, out, err)
    plan = parse(module, "plan", "plan", out, err, rc)
    lines = plan_text(plan)
    table = plan.get("table") or "portlock"
    pending_changes = not plan.get("in_sync", rc == 0)
    result = dict(changed=pending_changes, table=table, plan=plan, plan_lines=lines,
                  transaction_id=None, pending=False, confirm_deadline=None)
    if pending_changes and module._diff:
        # Ansible shows a prepared diff as it is: the headers go in its text
        before = "kernel: table inet %s" % table
        result["diff"] = dict(before_header=before, after_header=p["config"],
                              prepared="--- %s\n+++ %s\n%s\n" % (before, p["config"], "\n".join(lines)))
    if not pending_changes or module.check_mode:
        module.exit_json(**result)

    apply_args = ["apply", "--json"]
    if p["confirm"] > 0:
        apply_args += ["--confirm", str(p["confirm"])]
    # apply --confirm leaves a detached watcher behind that inherits the
    # output descriptors: give it files, not the pipes run_command reads,
    # so that it neither holds this module's output open until the deadline
    # nor dies writing to a pipe nobody reads any more (and never reverts)
    env = dict(os.environ, LC_ALL="C")
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        try:
            rc = subprocess.call(base + apply_args, stdin=subprocess.DEVNULL, stdout=fout,
                                 stderr=ferr, env=env)
        except OSError as e:
            module.fail_json(msg="cannot run %s: %s" % (p["binary"], e))
        fout.seek(0)
        ferr.seek(0)
        out = fout.read().decode("utf-8", "replace")
        err = ferr.read().decode("utf-8", "replace")
    if rc != 0:
        fail("apply", rc, out, err)
    applied = parse(module, "apply", "apply", out, err, rc)
    result["apply"] = applied
    result["changed"] = bool(applied.get("applied"))
    result["transaction_id"] = applied.get("transaction")
    result["confirm_deadline"] = applied.get("confirm_deadline")
    result["pending"] = result["confirm_deadline"] is not None
    module.exit_json(**result)


if __name__ == "__main__":
    main()
