#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Ansible module: bring table inet portlock in line with a policy file.

Check mode and diff mode map onto portlock itself: the module always runs
"portlock plan --exit-code" first (with --check, so that the kernel validates
the batch without committing it); in check mode it stops there and reports
changed when changes are pending, with the plan as the diff. Otherwise it
runs "portlock apply" (with --confirm SECONDS when confirm is set) and
returns the transaction id and whether it awaits "portlock confirm".
"""

import os
import re
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

EXIT_NAMES = {2: "bad command line", 3: "invalid policy", 4: "kernel refused (nothing changed)",
              5: "conflict", 6: "service mismatch",
              7: "applied without a journal record (state dir full or read-only)", 70: "internal error"}


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

    plan_args = ["plan", "--exit-code"] + (["--check"] if p["kernel_check"] else [])
    rc, plan, err = run(plan_args)
    if rc not in (0, 1):
        fail("plan", rc, plan, err)
    result = dict(changed=rc == 1, plan=plan, plan_lines=plan.splitlines(),
                  transaction_id=None, pending=False)
    if rc == 1 and module._diff:
        result["diff"] = dict(before_header="kernel: table inet portlock",
                              after_header=p["config"], prepared=plan)
    if rc == 0 or module.check_mode:
        module.exit_json(**result)

    apply_args = ["apply"]
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
    result["apply"] = out
    m = re.search(r"transaction (\d+) applied", out + err)
    if m:
        result["transaction_id"] = int(m.group(1))
    result["pending"] = p["confirm"] > 0
    module.exit_json(**result)


if __name__ == "__main__":
    main()
