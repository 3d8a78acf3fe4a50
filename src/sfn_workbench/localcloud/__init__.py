"""The local cloud: moto's server with real ASL execution, plus this project's plugins.

Each plugin patches one thing moto lacks and lives in its own module; every
monkeypatch of moto internals goes through :mod:`sfn_workbench.localcloud.patches`.
"""
