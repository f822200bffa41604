"""The inventory reader against ansible itself: every inventory of a corpus (ansible's format
cases written for this project, and the inventories wire-server-deploy ships) is read by
`ansible-inventory --list` and by our reader, and the two must agree on every group's hosts
and children and on every host's variables; inventories ansible refuses, we refuse too.

ansible-core is a Debian package of the test set-up (.ci/run); without it these tests skip,
saying so.
"""

import json
import os
import shutil
import subprocess

import pytest
from helpers import FIXTURES
from wire_preflight.fleet import inventory
from wire_preflight.model import InputError

ANSIBLE_INVENTORY = shutil.which("ansible-inventory")
pytestmark = pytest.mark.skipif(
    ANSIBLE_INVENTORY is None, reason="!!! NOT TESTED: ansible-inventory (ansible-core) missing"
)

FORMAT_CASES = os.path.join(FIXTURES, "inventory", "ansible-format")
WIRE = os.path.join(FIXTURES, "wire-server-deploy")


def corpus():
    paths = [os.path.join(FIXTURES, "inventory", n) for n in ("hosts.ini", "inventory.yml")]
    paths += sorted(
        os.path.join(FORMAT_CASES, n) for n in os.listdir(FORMAT_CASES) if n != "README.md"
    )
    for top, _, files in os.walk(WIRE):
        paths += sorted(os.path.join(top, n) for n in files)
    return sorted(p for p in paths if p != REFUSED_BY_ANSIBLE)


# wire-server-deploy's offline inventory before #885 (April 2026) put a YAML mapping into an
# INI :vars section; ansible itself cannot read it, and neither can we.
REFUSED_BY_ANSIBLE = os.path.join(WIRE, "f2b4299b", "ansible", "inventory", "offline", "99-static")


def ansible_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            # The plugins our reader stands for, in ansible's own order, and a file neither
            # reads is an error rather than an empty inventory.
            "ANSIBLE_INVENTORY_ENABLED": "yaml,ini",
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path),
            "HOME": str(tmp_path),
        }
    )
    return env


def ansible_list(path, tmp_path):
    # From an empty directory, so that no ansible.cfg of a checkout applies.
    done = subprocess.run(
        [ANSIBLE_INVENTORY, "-i", path, "--list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ansible_env(tmp_path),
        cwd=str(tmp_path),
        universal_newlines=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def as_ansible_lists_it(inv):
    """Our reader's inventory in the shape of `ansible-inventory --list`. What ansible adds
    on its own: every group no other group lists is a child of `all`, and `ungrouped` is
    one too; groups with neither hosts nor children are left out."""
    has_parent = {c for g in inv.groups.values() for c in g["children"]}
    groups = {}
    for name, group in inv.groups.items():
        children = list(group["children"])
        if name == "all":
            children += [g for g in inv.groups if g != "all" and g not in has_parent]
        entry = {}
        # ansible lists no host under `all` itself: each is in `ungrouped` or a group.
        hosts = inv.members(name) if name != "all" else []
        if hosts:
            entry["hosts"] = hosts
        if children:
            entry["children"] = sorted(set(children))
        if entry:
            groups[name] = entry
    hostvars = {name: host["vars"] for name, host in inv.hosts().items()}
    # Through JSON, as ansible's output went: tuples become lists.
    return json.loads(json.dumps({"groups": groups, "hostvars": hostvars}))


def from_ansible(text):
    listed = json.loads(text)
    hostvars = listed.pop("_meta", {}).get("hostvars", {})
    groups = {}
    for name, entry in listed.items():
        entry = {k: v for k, v in entry.items() if v}
        if "children" in entry:
            entry["children"] = sorted(entry["children"])
        if entry:
            groups[name] = entry
    # ansible lists only hosts with variables under _meta.
    return {"groups": groups, "hostvars": hostvars}


@pytest.mark.parametrize("path", corpus(), ids=lambda p: os.path.relpath(p, FIXTURES))
def test_reader_agrees_with_ansible_inventory(path, tmp_path):
    code, out, err = ansible_list(path, tmp_path)
    assert code == 0, f"ansible-inventory refused {path}: {err}"
    theirs = from_ansible(out)
    ours = as_ansible_lists_it(inventory.load(path))
    ours["hostvars"] = {h: v for h, v in ours["hostvars"].items() if v}
    assert ours["groups"] == theirs["groups"]
    assert ours["hostvars"] == theirs["hostvars"]


REFUSED = {
    "vars-of-an-undeclared-group.ini": "[web:vars]\nport=80\n",
    "child-never-declared.ini": "[parent:children]\nmissing\n[other]\nh1\n",
    "blank-in-section-name.ini": "[web servers]\nh1\n",
    "unknown-section-kind.ini": "[web:hostvars]\nh1\n",
    "host-var-without-equals.ini": "[web]\nh1 novalue\n",
    "vars-line-without-equals.ini": "[web]\nh1\n[web:vars]\njustaword\n",
    "unterminated-quote.ini": '[web]\nh1 x="open\n',
    "trailing-colon.ini": "[web]\nh1:\n",
    "range-without-end.ini": "[web]\nweb[1:]\n",
    "range-of-unequal-width.ini": "[web]\nweb[01:100]\n",
    "range-mixing-letters-and-digits.ini": "[web]\nweb[1:c]\n",
    "header-never-closed.ini": "[web\nh1\n",
    "group-priority-not-a-number.ini": "[web]\nh1\n[web:vars]\nansible_group_priority=high\n",
    "children-with-a-blank.ini": "[p:children]\ntwo words\n[two]\n",
    "children-loop.ini": "[a:children]\nb\n[b:children]\na\n[a]\nh1\n",
    "yaml-children-loop.yml": "a:\n  children:\n    b:\n      children:\n        a: {}\n",
    "yaml-hosts-as-a-list.yml": "all:\n  hosts: [a, b]\n",
    "yaml-host-vars-not-a-mapping.yml": "all:\n  hosts:\n    a: 5\n",
    "yaml-host-name-a-number.yml": "all:\n  hosts:\n    10:\n",
    "yaml-child-a-list-and-nowhere-else.yml": "g:\n  children:\n    b: [1]\n",
    "yaml-host-vars-a-string.yml": "g:\n  hosts:\n    h1: abc\n",
    "dashes-as-a-host.ini": "---\n[web]\nh1\n",
    "range-in-a-name-with-a-pipe.ini": "[web]\na|b[1:2]\n",
}


def test_the_pre_885_inventory_is_refused_by_both(tmp_path):
    code, _, err = ansible_list(REFUSED_BY_ANSIBLE, tmp_path)
    assert code != 0 and "repmgr_node_config" in err
    with pytest.raises(InputError) as refused:
        inventory.load(REFUSED_BY_ANSIBLE)
    assert "line 86" in str(refused.value) and "repmgr_node_config" in str(refused.value)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_ansible_refuses_we_refuse(name, tmp_path):
    path = tmp_path / name
    path.write_text(REFUSED[name])
    code, _, _err = ansible_list(str(path), tmp_path)
    assert code != 0, f"ansible-inventory accepted {name}"
    with pytest.raises(InputError) as refused:
        inventory.load(str(path))
    assert str(path) in str(refused.value)
