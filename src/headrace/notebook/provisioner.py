"""Start the Jupyter kernel inside the task's own process group.

jupyter_client starts kernels with `start_new_session=True`, which would put the kernel (and
whatever its cells start) outside the attempt's process group, where the worker's timeout and
cancel (`killpg`) cannot reach them. This provisioner starts it as a plain child instead, and
signals only the kernel's pid (never `killpg`, which would hit the runner too).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner


class SameGroupProvisioner(LocalProvisioner):  # type: ignore[misc]
    """LocalProvisioner without the new session: the kernel shares the task's process group."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        options = self._scrub_kwargs(kwargs)
        env = dict(options.get("env") or os.environ)
        # ipykernel exits by itself when this pid is gone (a runner killed with SIGKILL).
        env["JPY_PARENT_PID"] = str(os.getpid())
        self.process = subprocess.Popen(
            cmd,
            env=env,
            cwd=options.get("cwd"),
            stdin=subprocess.DEVNULL,
        )
        self.pid = self.process.pid
        self.pgid = None  # signals go to the kernel's pid, not to the group we share
        self.cwd = options.get("cwd") or Path.cwd()
        return self.connection_info
