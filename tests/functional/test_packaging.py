"""pamgate as an operator installs it: a wheel built from the tree, installed into a new
virtual environment, run from a directory that is not the checkout."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import requests

from tests import live

pytestmark = pytest.mark.slow

SKIP = shutil.ignore_patterns(
    ".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", "pamgate.db*", ".hypothesis"
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`bin/` of a new venv holding the wheel; its dependencies come from this test run's
    environment (a .pth line), so the test needs no package index."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(live.ROOT, work / "src", ignore=SKIP)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", str(work / "src"), "-w", str(work / "dist")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (work / "dist").glob("pamgate-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    target = subprocess.run(
        [venv / "bin" / "python", "-c", where],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        [*pip, "install", "--quiet", "--no-deps", "--target", target, str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (Path(target) / "pamgate_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = venv / "bin" / "pamgate"
    script.write_text(
        f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom gateway.cli import main\nsys.exit(main())\n"
    )
    script.chmod(0o755)
    return venv / "bin"


def test_the_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [installed / "python", "-c", "import gateway; print(gateway.__file__)"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert str(live.ROOT) not in out and "site-packages" in out


def test_version_is_the_package_version(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [installed / "pamgate", "--version"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0
    assert re.fullmatch(r"pamgate \d+\.\d+\.\d+\S*\n", out.stdout)


def test_an_installed_pamgate_serves_and_leaves_nothing_behind(
    installed: Path, tmp_path: Path
) -> None:
    """No gunicorn.conf.py is needed; the instance's metrics files and control socket live
    in a directory of its own, gone when it stops."""
    port = live.free_port()
    with live.database_url(tmp_path, "wheel") as url:
        env = live.server_env(url, live.DEMO_PARTNERS, port, TMPDIR=str(tmp_path))
        subprocess.run(
            [installed / "pamgate", "migrate"], env=env, cwd=tmp_path, check=True, timeout=60
        )
        with live.serve(
            env, tmp_path / "serve.log", command=[str(installed / "pamgate")], cwd=tmp_path
        ) as srv:
            assert requests.get(f"{srv.base}/healthz", timeout=5).json() == {"status": "ok"}
            assert requests.get(f"{srv.base}/readyz", timeout=5).status_code == 200
            document = requests.get(f"{srv.base}/openapi.json", timeout=5).json()
            assert "/pam" in document["paths"]
            page = requests.get(f"{srv.base}/docs", timeout=5).text
            for asset in re.findall(r'src="(/docs/assets/[^"]+)"', page):
                assert requests.get(f"{srv.base}{asset}", timeout=5).status_code == 200
            metrics = requests.get(f"{srv.base}/metrics", timeout=5)
            assert metrics.status_code == 200 and "pamgate_http_requests_total" in metrics.text
            (instance,) = [p for p in tmp_path.iterdir() if p.name.startswith("pamgate-")]
            assert (instance / "gunicorn.ctl").exists()
            assert f"Control socket listening at {instance / 'gunicorn.ctl'}" in srv.log()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("pamgate-")]


def test_two_instances_share_no_control_socket(tmp_path: Path) -> None:
    """Two servers side by side (from the checkout), each with a control socket of its own."""
    sockets = []
    with live.database_url(tmp_path, "two") as url:
        env_a = live.server_env(url, live.DEMO_PARTNERS, live.free_port())
        live.pamgate(env_a, "migrate")
        env_b = live.server_env(url, live.DEMO_PARTNERS, live.free_port())
        with (
            live.serve(env_a, tmp_path / "a.log") as a,
            live.serve(env_b, tmp_path / "b.log") as b,
        ):
            for srv in (a, b):
                found = re.search(r"Control socket listening at (\S+?)\"", srv.log())
                assert found, srv.log()[-2000:]
                sockets.append(Path(found.group(1)))
            assert sockets[0] != sockets[1] and all(s.exists() for s in sockets)
    assert not any(s.parent.exists() for s in sockets)
