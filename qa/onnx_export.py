"""One ONNX export routine for the models run through ONNX Runtime (question vectors, the int8 reader)."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Callable


def export(module, example: tuple, input_names: list[str], output_names: list[str], target: Path,
           finish: Callable[[Path], None] | None = None) -> None:
    """Export `module` to `target`/model.onnx (batch and token axes dynamic), written beside and renamed into
    place, so a reader never sees half a file and two processes may export at once. `finish(folder)` can rewrite
    the graph before it is moved in (quantisation)."""
    import torch

    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    dims = ({0: torch.export.Dim("batch"), 1: torch.export.Dim("tokens")},) * len(input_names)
    # the exporter reports its progress on stdout and warns about its own internals
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, example, str(tmp / "model.onnx"), input_names=input_names,
                              output_names=output_names, dynamic_shapes=dims, dynamo=True, verbose=False)
            if finish:
                finish(tmp)
        finally:
            exporter_log.setLevel(level)
    shutil.rmtree(target, ignore_errors=True)
    try:
        tmp.rename(target)
    except OSError:  # another process got there first
        shutil.rmtree(tmp, ignore_errors=True)
