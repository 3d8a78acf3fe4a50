"""Fail loudly when a moto upgrade moves what the local cloud patches."""

import subprocess
import sys

import pytest

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.server import plugin_modules

DECLARED = [(m.__name__.rsplit(".", 1)[1], owner, name) for m in plugin_modules() for owner, name in m.PATCH_TARGETS]


def test_moto_is_the_version_the_patches_target() -> None:
    patches.check_version()


@pytest.mark.parametrize(
    ("plugin", "owner", "name"), DECLARED, ids=[f"{p}:{patches.label(o, n)}" for p, o, n in DECLARED]
)
def test_every_declared_target_exists(plugin: str, owner: object, name: str) -> None:
    patches.check_target(owner, name)


def test_a_missing_target_is_a_loud_error() -> None:
    class Empty:
        pass

    with pytest.raises(patches.MotoPatchError, match="no such callable"):
        patches.replace(Empty, "nothing", lambda: None)


def test_a_different_moto_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto

    monkeypatch.setattr(moto, "__version__", "6.0.0")
    with pytest.raises(patches.MotoPatchError, match=r"moto 6\.0\.0 is installed"):
        patches.check_version()


class Target:
    def greet(self) -> str:
        return "moto"


def test_layers_compose_reinstalling_replaces_its_own_layer_and_restore_undoes_all() -> None:
    original = Target.greet

    def shout(below):  # one plugin's layer
        return lambda self: below(self).upper()

    patches.wrap(Target, "greet", shout)
    patches.wrap(Target, "greet", shout)  # installed again: not wrapped twice
    assert Target().greet() == "MOTO"
    patches.replace(Target, "greet", lambda self: "replaced")
    assert Target().greet() == "replaced"  # the same module: its layer is replaced
    patches.restore(Target, "greet")
    assert Target.greet is original
    assert Target().greet() == "moto"


def test_the_server_installs_every_declared_patch_and_no_other(tmp_path) -> None:
    """The real install path, twice (install is idempotent), in a subprocess so nothing leaks here."""
    code = (
        "from pathlib import Path\n"
        "from sfn_workbench.localcloud import patches\n"
        "from sfn_workbench.localcloud.context import LocalCloudContext\n"
        "from sfn_workbench.localcloud.server import configure_moto, plugin_modules\n"
        "configure_moto(1)\n"
        f"ctx = LocalCloudContext('http://127.0.0.1:1', Path({str(tmp_path)!r}))\n"
        "for _ in range(2):\n"
        "    for module in plugin_modules():\n"
        "        module.install(ctx)\n"
        "print('\\n'.join(patches.applied()))\n"
        "patches.restore()\n"
        "assert patches.applied() == []\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert set(out.stdout.split()) == {patches.label(owner, name) for _, owner, name in DECLARED}
