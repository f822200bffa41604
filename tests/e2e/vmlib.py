"""The machinery of the e2e suite: the VM image (built once, cached by its inputs), a network
namespace with a tap link in documentation space (192.0.2.0/24), dnsmasq on the host side of
that link, and a Debian VM under qemu (TCG) with a control channel on virtio-serial."""

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("WP_E2E_CACHE", "/var/cache/wire-preflight-e2e")
# The VM's Debian: build-image takes both from here.
MIRROR = os.environ.get("WP_E2E_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
HOST_IP = "192.0.2.1"
VM_MAC = "52:54:00:e2:e0:01"
VM_DHCP_IP = "192.0.2.123"  # dnsmasq's reservation for VM_MAC
VM_STATIC_IP = "192.0.2.50"
# Kernel command line: the console on the first serial port (the log a failure shows), eth0
# as the interface name, and no services the checks do not need (TCG makes each one slow).
# The daily timers are masked too: a run that crosses midnight had dpkg-db-backup.timer write
# /var/backups/*.0 between the install and the purge, which the purge test took for leftovers.
CMDLINE = (
    "console=ttyS0 root=/dev/vda rw net.ifnames=0 panic=-1 quiet mitigations=off "
    "systemd.firstboot=off "
    "systemd.mask=e2scrub_reap.service systemd.mask=serial-getty@ttyS0.service "
    "systemd.mask=getty@tty1.service systemd.mask=dpkg-db-backup.timer "
    "systemd.mask=logrotate.timer systemd.mask=man-db.timer"
)


class VMError(AssertionError):
    pass


def missing_tools():
    """Why the suite cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (a network namespace, a tap device, debootstrap)"
    for tool, package in (
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("debootstrap", "debootstrap"),
        ("dnsmasq", "dnsmasq-base"),
        ("mkfs.ext4", "e2fsprogs"),
        ("ip", "iproute2"),
        ("dpkg-deb", "dpkg"),
        ("help2man", "help2man"),
    ):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian package {package}; .ci/run installs it)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing: no tap device for the VM's link"
    return None


def image_key():
    digest = hashlib.sha256(SUITE.encode() + b"\0")
    for name in ("build-image", "guest-control"):
        with open(os.path.join(HERE, name), "rb") as handle:
            digest.update(name.encode() + b"\0" + handle.read() + b"\0")
    return digest.hexdigest()[:16]


def image_dir():
    return os.path.join(CACHE, "image-" + image_key())


def unbuildable_image():
    """Why the image can be neither found cached nor built here, or None: its first build
    needs the Debian mirror (debootstrap cannot run without it)."""
    if os.path.exists(os.path.join(image_dir(), "root.img")):
        return None
    url = f"{MIRROR.rstrip('/')}/dists/{SUITE}/Release"
    try:
        with urllib.request.urlopen(url, timeout=20) as answer:
            answer.read(1)
    except (OSError, ValueError) as exc:
        return f"the VM image is not cached and its build cannot reach {url} ({exc})"
    return None


def image(log):
    """The cached image's directory, built when its inputs changed."""
    out = image_dir()
    if os.path.exists(os.path.join(out, "root.img")):
        log(f"image: cached {out}")
        return out
    os.makedirs(CACHE, exist_ok=True)
    started = time.time()
    done = subprocess.run(
        [os.path.join(HERE, "build-image"), out, MIRROR, SUITE, os.path.join(CACHE, "debs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=1200,
    )
    if done.returncode != 0:
        raise VMError("building the VM image failed:\n" + done.stdout[-4000:])
    log(f"image: built {out} in {time.time() - started:.0f} s")
    for name in os.listdir(CACHE):  # older images: their inputs changed
        if name.startswith("image-") and os.path.join(CACHE, name) != out:
            shutil.rmtree(os.path.join(CACHE, name), ignore_errors=True)
    return out


def sh(*argv, check=True, **kwargs):
    done = subprocess.run(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, **kwargs
    )
    if check and done.returncode != 0:
        raise VMError("{} failed ({}): {}".format(" ".join(argv), done.returncode, done.stderr))
    return done


class Link:
    """A network namespace holding the tap device, the host's side of the VM's link, and
    dnsmasq answering DHCP on it. Nothing in it routes anywhere else."""

    def __init__(self, workdir):
        self.ns = f"wpe2e-{os.getpid()}"
        self.workdir = workdir
        self.dnsmasq = None

    def __enter__(self):
        sh("ip", "netns", "add", self.ns)
        try:
            sh("ip", "-n", self.ns, "link", "set", "lo", "up")
            sh("ip", "-n", self.ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
            sh("ip", "-n", self.ns, "addr", "add", HOST_IP + "/24", "dev", "tap0")
            sh("ip", "-n", self.ns, "link", "set", "tap0", "up")
            self.dnsmasq = subprocess.Popen(
                self.netns_argv(
                    "dnsmasq",
                    "--keep-in-foreground",
                    "--conf-file=/dev/null",
                    "--port=0",  # DHCP only, no DNS
                    "--interface=tap0",
                    "--bind-interfaces",
                    "--dhcp-range=192.0.2.100,192.0.2.149,255.255.255.0,10m",
                    "--dhcp-option=option:router," + HOST_IP,
                    f"--dhcp-host={VM_MAC},{VM_DHCP_IP}",
                    "--dhcp-leasefile=" + os.path.join(self.workdir, "dnsmasq.leases"),
                    "--pid-file=",
                    "--user=root",
                    "--log-dhcp",
                    "--log-facility=" + os.path.join(self.workdir, "dnsmasq.log"),
                )
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def netns_argv(self, *argv):
        return ["ip", "netns", "exec", self.ns, *argv]

    def __exit__(self, *exc):
        if self.dnsmasq and self.dnsmasq.poll() is None:
            self.dnsmasq.terminate()
            self.dnsmasq.wait(timeout=10)
        sh("ip", "netns", "del", self.ns, check=False)


class Done:
    def __init__(self, argv, answer):
        self.argv = argv
        self.rc = answer["rc"]
        self.out = answer["out"]
        self.err = answer["err"]

    def __repr__(self):
        return f"{self.argv!r} -> {self.rc}\nstdout: {self.out[-3000:]}\nstderr: {self.err[-3000:]}"


class VM:
    """A booted Debian VM; run() executes a command in it as root through the control
    channel (virtio-serial), independent of its network."""

    def __init__(self, image_dir, link, workdir, memory=1536, cpus=2):
        self.image_dir = image_dir
        self.link = link
        self.workdir = workdir
        self.memory = memory
        self.cpus = cpus
        self.console = os.path.join(workdir, "console.log")
        self.socket_path = os.path.join(workdir, "control.sock")
        self.qmp_path = os.path.join(workdir, "qmp.sock")
        self.proc = None
        self.chan = None
        self.next_id = 1
        self.boot_seconds = None

    def argv(self):
        accel = os.environ.get("WP_E2E_ACCEL", "tcg")
        return self.link.netns_argv(
            "qemu-system-x86_64",
            "-accel",
            accel,
            "-cpu",
            os.environ.get("WP_E2E_CPU", "qemu64" if accel == "tcg" else "host"),
            "-smp",
            str(self.cpus),
            "-m",
            str(self.memory),
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-kernel",
            os.path.join(self.image_dir, "vmlinuz"),
            "-initrd",
            os.path.join(self.image_dir, "initrd.img"),
            "-append",
            CMDLINE,
            # snapshot: the cached image is never written; each boot starts from it.
            "-drive",
            "file={},if=virtio,format=raw,snapshot=on".format(
                os.path.join(self.image_dir, "root.img")
            ),
            "-netdev",
            "tap,id=n0,ifname=tap0,script=no,downscript=no",
            "-device",
            f"virtio-net-pci,netdev=n0,mac={VM_MAC}",
            "-device",
            "virtio-serial-pci",
            "-chardev",
            f"socket,id=ctl,path={self.socket_path},server=on,wait=off",
            "-device",
            "virtserialport,chardev=ctl,name=wpe2e",
            "-serial",
            "file:" + self.console,
            # QEMU's machine protocol: attach_disk() plugs a disk in after the boot.
            "-qmp",
            f"unix:{self.qmp_path},server=on,wait=off",
        )

    def console_tail(self, chars=6000):
        try:
            with open(self.console, "rb") as handle:
                text = handle.read().decode(errors="replace")
        except OSError:
            return "(no console log)"
        return text[-chars:]

    def fail(self, why):
        raise VMError(f"{why}\n--- VM console ({self.console}), last lines:\n{self.console_tail()}")

    def boot(self, timeout):
        started = time.time()
        self.qemu_log = open(os.path.join(self.workdir, "qemu.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(self.argv(), stdout=self.qemu_log, stderr=self.qemu_log)
        deadline = started + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                with open(os.path.join(self.workdir, "qemu.log"), errors="replace") as handle:
                    self.fail(f"qemu exited with {self.proc.returncode}: {handle.read()[-2000:]}")
            if self.chan is None and os.path.exists(self.socket_path):
                sock = socket.socket(socket.AF_UNIX)
                try:
                    sock.connect(self.socket_path)
                except OSError:
                    sock.close()
                else:
                    self.sock = sock
                    self.chan = sock
                    self.pending = b""
            if self.chan is not None:
                try:
                    if self.request({"argv": ["true"]}, wait=3)["rc"] == 0:
                        break
                except TimeoutError:
                    pass
            time.sleep(0.5)
        else:
            self.fail(f"the VM's control channel did not answer within {timeout} s")
        # systemd has finished starting (or gave up on) every unit of the boot.
        state = self.run(
            "systemctl is-system-running --wait", timeout=max(10, deadline - time.time())
        )
        if state.out.strip() not in ("running", "degraded"):
            self.fail(f"systemd did not finish booting: {state!r}")
        if state.out.strip() == "degraded":
            failed = self.run("systemctl --failed --no-legend")
            self.fail(f"units failed at boot: {failed.out}")
        self.boot_seconds = time.time() - started
        return self

    def request(self, body, wait):
        ident = self.next_id
        self.next_id += 1
        body = dict(body, id=ident)
        self.sock.settimeout(600)
        self.sock.sendall((json.dumps(body) + "\n").encode())
        deadline = time.time() + wait
        while True:
            while b"\n" not in self.pending:
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise TimeoutError(f"no answer to {str(body)[:200]} within {wait} s")
                self.sock.settimeout(remaining)
                try:
                    chunk = self.sock.recv(1 << 20)
                except socket.timeout:
                    continue
                if not chunk:
                    self.fail("the control channel closed")
                self.pending += chunk
            line, self.pending = self.pending.split(b"\n", 1)
            answer = json.loads(line)
            if answer.get("id") == ident:
                return answer
            # an answer to an earlier request that timed out on this side: skip it

    def run(self, command, timeout=120, check=False, stdin=None):
        """Run a shell command (str) or argv (list) in the VM as root."""
        body = {"sh": command} if isinstance(command, str) else {"argv": list(command)}
        body["timeout"] = timeout
        if stdin is not None:
            body["stdin"] = stdin
        try:
            answer = self.request(body, wait=timeout + 30)
        except TimeoutError as exc:
            self.fail(str(exc))
        done = Done(command, answer)
        if check and done.rc != 0:
            raise VMError(f"in the VM: {done!r}")
        return done

    def put(self, path, data, mode=0o644):
        if isinstance(data, str):
            data = data.encode()
        answer = self.request(
            {"put": path, "b64": base64.b64encode(data).decode(), "mode": mode}, wait=300
        )
        if answer["rc"] != 0:
            raise VMError(f"writing {path} in the VM: {answer}")

    def attach_disk(self, directory, mountpoint, timeout=120):
        """Hot-plug DIRECTORY's files as a read-only ext4 disk and mount it at MOUNTPOINT.
        Large files (the .debs) travel this way: the control channel is too slow for megabytes
        under TCG, and plugging the disk in after the boot lets the VM boot while they build."""
        image = os.path.join(self.workdir, "payload.img")
        size = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))
        sh("mkfs.ext4", "-q", "-F", "-d", directory, image, f"{size // 1048576 + 64}M")
        self.qmp(
            "blockdev-add",
            driver="raw",
            **{"node-name": "payload", "read-only": True},
            file={"driver": "file", "filename": image, "read-only": True},
        )
        serial = "wpe2e-payload"
        self.qmp(
            "device_add", driver="virtio-blk-pci", drive="payload", id="payload0", serial=serial
        )
        # By its serial, as udev names it: not by a guess at the kernel's next vdX.
        device = f"/dev/disk/by-id/virtio-{serial}"
        found = self.run(
            f"for i in $(seq {timeout * 2}); do [ -b {device} ] && exit 0; sleep 0.5; done; exit 1",
            timeout=timeout + 30,
        )
        if found.rc != 0:
            self.fail(f"the plugged-in disk did not appear as {device} within {timeout} s")
        self.run(f"mkdir -p {mountpoint} && mount -o ro {device} {mountpoint}", check=True)

    def qmp(self, command, **arguments):
        """One QMP command on a connection of its own; its "return", or VMError."""

        def receive():
            line = stream.readline()
            if not line:
                self.fail(f"QEMU closed its QMP socket during {command}")
            return json.loads(line)

        with socket.socket(socket.AF_UNIX) as sock, sock.makefile("rw") as stream:
            sock.settimeout(60)
            sock.connect(self.qmp_path)
            receive()  # the greeting
            answers = []
            for execute, args in (("qmp_capabilities", {}), (command, arguments)):
                stream.write(json.dumps({"execute": execute, "arguments": args}) + "\n")
                stream.flush()
                answer = receive()
                while "event" in answer:  # events may come between: not ours
                    answer = receive()
                answers.append(answer)
        if "error" in answers[-1] or "error" in answers[0]:
            raise VMError(f"QMP {command} {arguments}: {answers}")
        return answers[-1]["return"]

    def shutdown(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the image is a snapshot: nothing to save
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.chan is not None:
            self.sock.close()
            self.chan = None
        self.qemu_log.close()
