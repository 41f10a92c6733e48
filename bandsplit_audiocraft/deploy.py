"""The deployed form of an exported band-split codec: its branches as ONNX graphs run by ONNX Runtime.

A deployment is a folder made from an exported checkpoint (`export.export_model`):

- `encoder_<k>.onnx`: branch `k`'s encoder and quantizer, audio `[B, C, F * hop_k]` -> codes `[B, K_k, F]`
  (every codebook; fewer active codebooks keep the first ones, as residual quantization does);
- `decoder_<k>.onnx`: branch `k`'s decoder, quantized latent `[B, D_k, F]` -> audio `[B, C, F * hop_k]`;
- `codebooks.npz`: each branch's `codebook_latents()` (what every code adds to the latent), so that any
  prefix of the codebooks decodes;
- `manifest.json`: the model's identity (`export.model_id`), its branches' layout, and the checkpoint it
  was made from.

`DeployedModel` runs them behind the band-split coding scheme of `coding.BandSplitCoding`, the same code the
trainable model runs: resampling, residuals and composition are shared, only the branches differ. Its codes
equal the model's and its audio matches to float rounding (`tests/test_deploy.py`); it loads in a fraction of
a second without importing audiocraft, and ONNX Runtime's CPU kernels run these convolutions faster than
eager PyTorch (BENCHMARKS.md).

`deployment(checkpoint)` returns the folder of a checkpoint from the cache (`$BANDSPLIT_CACHE`, by default
`~/.cache/bandsplit_audiocraft`), making it on first use: that once loads the model through audiocraft and
traces its branches (seconds). The cache entry is keyed by the checkpoint's resolved path, size and
modification time, so a changed checkpoint gets a new deployment.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
from pathlib import Path
import shutil
import tempfile
import typing as tp
import warnings

import numpy as np
import torch

from .coding import BandSplitCoding, CodingBranch
from .utils import PathLike

#: Version of the deployment folder's layout; a cached deployment of another version is made again.
FORMAT = 1
MANIFEST = 'manifest.json'
CODEBOOKS = 'codebooks.npz'
#: Frames of the example signal the graphs are traced with (their batch and frame axes are dynamic).
_TRACE_FRAMES = 50


def cache_root() -> Path:
    """Root of the deployment cache: `$BANDSPLIT_CACHE`, else `$XDG_CACHE_HOME/bandsplit_audiocraft`, else
    `~/.cache/bandsplit_audiocraft`."""
    if os.environ.get('BANDSPLIT_CACHE'):
        return Path(os.environ['BANDSPLIT_CACHE'])
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'bandsplit_audiocraft'


# ---- making a deployment ---------------------------------------------------------------------------------


class _Graph(torch.nn.Module):
    """One coding step of a branch (`branch._encode` or `branch._decode`) as a module to trace."""

    def __init__(self, branch: tp.Any, step: str):
        super().__init__()
        self.branch = branch
        self.step = step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.branch, self.step)(x)


@contextlib.contextmanager
def _whole_frame_tracing() -> tp.Iterator[None]:
    """Let the tracer keep the frame axis dynamic through audiocraft's convolutions.

    `StreamableConv1d` pads its input by `get_extra_padding_for_conv1d`, computed in Python floats from the
    input's length, which tracing would freeze at the example's length. The graphs only ever see whole frames
    (`F * hop_k` samples), for which that extra padding is zero at every layer, so it is zero while tracing;
    `export_deployment` checks the graphs against the model at other lengths.
    """
    from audiocraft.modules import conv
    original = conv.get_extra_padding_for_conv1d
    conv.get_extra_padding_for_conv1d = lambda *args, **kwargs: 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # tracer and exporter warnings about shapes read as Python numbers
            yield
    finally:
        conv.get_extra_padding_for_conv1d = original


def _export_graph(module: torch.nn.Module, example: torch.Tensor, path: Path, names: tp.Tuple[str, str],
                  axes: tp.Tuple[str, str]) -> None:
    inp, out = names
    # The TorchScript-based exporter: the default before torch 2.9, `dynamo=False` since.
    legacy = {'dynamo': False} if 'dynamo' in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(module, (example,), str(path), opset_version=17, input_names=[inp], output_names=[out],
                      dynamic_axes={inp: {0: 'batch', 2: axes[0]}, out: {0: 'batch', 2: axes[1]}}, **legacy)


def export_deployment(model: tp.Any, folder: PathLike, model_id: bytes,
                      source: tp.Optional[tp.Dict[str, tp.Any]] = None) -> Path:
    """Write the deployment of `model` (a `BandSplitCompressionModel`) to the new folder `folder`.

    The graphs are checked against the model on a signal of another length and batch size before this
    returns; raises `ValueError` if they differ (the PyTorch model still codes what this model cannot).
    """
    folder = Path(folder)
    folder.mkdir(parents=True)
    model = model.cpu().float().eval()
    previous = model.num_codebooks
    model.set_num_codebooks(model.total_codebooks)
    branches = []
    try:
        with torch.no_grad(), _whole_frame_tracing():
            tables = {}
            for k, branch in enumerate(model.branches):
                audio = torch.randn(2, branch.channels, _TRACE_FRAMES * branch.hop_length) * 0.1
                latent = torch.randn(2, branch.latent_dim, _TRACE_FRAMES)
                _export_graph(_Graph(branch, '_encode'), audio, folder / f'encoder_{k}.onnx', ('audio', 'codes'),
                              ('time', 'frames'))
                _export_graph(_Graph(branch, '_decode'), latent, folder / f'decoder_{k}.onnx', ('latent', 'audio'),
                              ('frames', 'time'))
                tables[f'branch_{k}'] = branch.codebook_latents().numpy()
                branches.append({'name': branch.name, 'sample_rate': branch.sample_rate,
                                 'hop_length': branch.hop_length, 'channels': branch.channels,
                                 'latent_dim': branch.latent_dim, 'cardinality': branch.cardinality,
                                 'total_codebooks': branch.total_codebooks})
        np.savez(folder / CODEBOOKS, **tables)
        manifest = {'format': FORMAT, 'model_id': model_id.hex(), 'branches': branches, 'source': source or {},
                    'torch': torch.__version__}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _check(model, DeployedModel.load(folder, threads=torch.get_num_threads()))
    finally:
        model.set_num_codebooks(previous)
    return folder


def _check(model: tp.Any, deployed: DeployedModel) -> None:
    """Compare the deployed branches with the model's on 37 frames of noise, batch 3 (not the traced shape)."""
    generator = torch.Generator().manual_seed(0)
    for branch, ours in zip(model.branches, deployed.branches):
        x = torch.randn(3, branch.channels, 37 * branch.hop_length, generator=generator) * 0.1
        codes = branch.encode(x)
        got = ours.encode(x)
        latent = branch.decode_latent(codes)
        if got.shape != codes.shape or (got == codes).float().mean() < 0.99:
            raise ValueError(f"The deployed encoder of branch {branch.name!r} does not reproduce the model's codes.")
        if (ours.decode_latent(codes) - latent).abs().max() > 1e-5:
            raise ValueError(f"The deployed codebooks of branch {branch.name!r} differ from the model's.")
        if (ours.decode(codes) - branch.decode(codes)).abs().max() > 1e-4:
            raise ValueError(f"The deployed decoder of branch {branch.name!r} does not reproduce the model's audio.")


def _source_of(checkpoint: Path) -> tp.Dict[str, tp.Any]:
    stat = checkpoint.stat()
    return {'path': str(checkpoint), 'size': stat.st_size, 'mtime_ns': stat.st_mtime_ns}


def _cache_folder(source: tp.Dict[str, tp.Any]) -> Path:
    key = hashlib.blake2b(json.dumps(source, sort_keys=True).encode(), digest_size=16).hexdigest()
    return cache_root() / 'deploy' / key


def _read_manifest(folder: Path) -> tp.Optional[tp.Dict[str, tp.Any]]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get('format') == FORMAT else None


def deployment(checkpoint: PathLike) -> Path:
    """The deployment folder of the exported checkpoint `checkpoint`, made and cached on first use.

    Raises `FileNotFoundError` for a missing checkpoint and `ValueError` for a file that is not an exported
    band-split model.
    """
    path = Path(checkpoint).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint {str(checkpoint)!r} does not exist (give an exported .th file).")
    source = _source_of(path)
    folder = _cache_folder(source)
    if _read_manifest(folder) is not None:
        return folder

    from .export import load_exported, model_id
    from .models.bandsplit import BandSplitCompressionModel
    model = load_exported(path, 'cpu')
    if not isinstance(model, BandSplitCompressionModel):
        raise ValueError(f"Checkpoint {str(checkpoint)!r} holds a {type(model).__name__}, not a band-split model.")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix='.making-', dir=folder.parent))
    except OSError:  # an unwritable cache: deploy for this process only
        staging = Path(tempfile.mkdtemp(prefix='bandsplit-deploy-'))
        return export_deployment(model, staging / 'deployment', model_id(path), source)
    try:
        export_deployment(model, staging / 'deployment', model_id(path), source)
        if folder.exists() and _read_manifest(folder) is None:  # a damaged or outdated entry
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(staging / 'deployment', folder)
        except OSError:  # another process made it meanwhile
            if _read_manifest(folder) is None:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


# ---- running a deployment --------------------------------------------------------------------------------


class DeployedBranch(CodingBranch):
    """One branch of a deployment: its encoder and decoder sessions and its codebook tables."""

    def __init__(self, spec: tp.Dict[str, tp.Any], encoder: tp.Any, decoder: tp.Any, tables: np.ndarray):
        for key in ('name', 'sample_rate', 'hop_length', 'channels', 'latent_dim', 'cardinality',
                    'total_codebooks'):
            setattr(self, key, spec[key])
        self.active = True
        self._num_codebooks = self.total_codebooks
        self._encoder = encoder
        self._decoder = decoder
        self._tables = torch.from_numpy(tables)  # [K, N, D]

    def _dtype(self) -> torch.dtype:
        return torch.float32

    def _active_codebooks(self) -> int:
        return self._num_codebooks

    def _set_codebooks(self, n: int) -> None:
        self._num_codebooks = int(n)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        codes = self._encoder.run(None, {'audio': x.detach().contiguous().numpy()})[0]
        return torch.from_numpy(codes[:, :self._num_codebooks]).long()

    def _decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        latent = self._tables[0][codes[:, 0]]
        for k in range(1, codes.shape[1]):
            latent = latent + self._tables[k][codes[:, k]]
        return latent.transpose(1, 2)

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._decoder.run(None, {'latent': latent.detach().contiguous().numpy()})[0])


class DeployedModel(BandSplitCoding):
    """A deployment loaded for coding on the CPU, with the band-split model's coding interface.

    Attributes:
        model_id: the exported model's identity (`export.model_id`), written in every `.bsac` stream.
        folder: the deployment folder.
    """

    def __init__(self, branches: tp.Sequence[DeployedBranch], model_id: bytes, folder: Path):
        self.branches = list(branches)
        self.model_id = model_id
        self.folder = folder

    @classmethod
    def load(cls, folder: PathLike, threads: tp.Optional[int] = None) -> DeployedModel:
        """Load a deployment folder; ONNX Runtime uses `threads` threads (default: torch's thread count)."""
        import onnxruntime as ort

        folder = Path(folder)
        manifest = _read_manifest(folder)
        if manifest is None:
            raise ValueError(f"{str(folder)!r} is not a deployment of format {FORMAT}.")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only

        def session(name: str) -> tp.Any:
            return ort.InferenceSession(str(folder / name), options, providers=['CPUExecutionProvider'])

        with np.load(folder / CODEBOOKS) as tables:
            branches = [DeployedBranch(spec, session(f'encoder_{k}.onnx'), session(f'decoder_{k}.onnx'),
                                       tables[f'branch_{k}'])
                        for k, spec in enumerate(manifest['branches'])]
        return cls(branches, bytes.fromhex(manifest['model_id']), folder)

    @property
    def device(self) -> torch.device:
        return torch.device('cpu')

    def _dtype(self) -> torch.dtype:
        return torch.float32

    def __repr__(self) -> str:
        return f"DeployedModel({str(self.folder)!r}, {self.summary()})"


__all__ = ['DeployedBranch', 'DeployedModel', 'cache_root', 'deployment', 'export_deployment']
