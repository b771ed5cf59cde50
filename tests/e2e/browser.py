"""What the browser tests need: Debian's Chromium and a CJK font (installed when missing and the
tests run as root — never `playwright install`), and a forwarder that gives the browser a client
address of its own, so its login throttling and the public form's per-IP limit are its own and not
those of the other e2e tests (which all come from 127.0.0.1)."""
from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
DEBIAN_PACKAGES = ("chromium", "fonts-wqy-microhei")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]


def ensure_browser() -> None:
    """Install Debian's chromium and fonts-wqy-microhei when either is absent (root only)."""
    missing = [pkg for pkg, present in (("chromium", Path(CHROMIUM).exists()),
                                        ("fonts-wqy-microhei", CJK_FONT.exists())) if not present]
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(
            f"浏览器测试需要 Debian 软件包 {'、'.join(missing)}，当前用户不是 root，无法自动安装。"
            f"请以 root 运行：apt-get install -y {' '.join(DEBIAN_PACKAGES)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if shutil.which("apt-get") is None:
        raise RuntimeError("找不到 apt-get：请手动安装 Chromium（/usr/bin/chromium）和文泉驿微米黑字体")
    done = subprocess.run(["apt-get", "install", "-y", *DEBIAN_PACKAGES], env=env, capture_output=True, text=True)
    if done.returncode != 0:  # the package lists may be stale on a fresh machine
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True)
        done = subprocess.run(["apt-get", "install", "-y", *DEBIAN_PACKAGES], env=env, capture_output=True, text=True)
    if done.returncode != 0 or not Path(CHROMIUM).exists():
        raise RuntimeError(f"安装 {' '.join(DEBIAN_PACKAGES)} 失败：{done.stderr[-2000:]}")


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)


class ClientAddressProxy:
    """127.0.0.1:<port> → the gateway, connecting from another loopback address (127.0.0.N)."""

    def __init__(self, target_url: str, source_host: str | None = None):
        target = urlparse(target_url)
        self.target = (target.hostname, target.port or 80)
        self.source_host = source_host or f"127.0.{random.randrange(1, 250)}.{random.randrange(2, 250)}"
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            upstream = socket.create_connection(self.target, timeout=60, source_address=(self.source_host, 0))
        except OSError:
            client.close()
            return
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self):
        self._closed = True
        self.listener.close()


def _pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
