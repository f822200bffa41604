"""Build a host's root tree for the network configuration readers: files in their real
formats, and /sys/class/net entries as the kernel lays them out."""

import os


def write(root, files):
    """files: {host path: text}; a text of None makes a link to /dev/null (a masked file)."""
    for path, text in files.items():
        full = os.path.join(str(root), path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if text is None:
            os.symlink("/dev/null", full)
        else:
            with open(full, "w") as handle:
                handle.write(text)
    return str(root)


def link(root, name, mac, index, driver=None, devtype=None, arphrd=1):
    """/sys/class/net/NAME as the kernel shows it: address, ifindex, type, uevent, driver."""
    base = os.path.join(str(root), "sys/class/net", name)
    os.makedirs(base, exist_ok=True)
    for leaf, value in (("address", mac), ("ifindex", index), ("type", arphrd)):
        with open(os.path.join(base, leaf), "w") as handle:
            handle.write(f"{value}\n")
    with open(os.path.join(base, "uevent"), "w") as handle:
        handle.write(f"INTERFACE={name}\nIFINDEX={index}\n")
        if devtype:
            handle.write(f"DEVTYPE={devtype}\n")
    if driver:
        target = os.path.join(str(root), "sys/bus/pci/drivers", driver)
        os.makedirs(target, exist_ok=True)
        os.makedirs(os.path.join(base, "device"), exist_ok=True)
        os.symlink(target, os.path.join(base, "device", "driver"))
    return str(root)
