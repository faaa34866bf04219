"""Multi-dataset sampling as UniVS trains: every batch comes from one dataset, picked by ratio.

UniVS (``univs/data/combined_loader.py``, from VITA) keeps one loader per dataset and, for
each batch, draws the dataset with ``random.choices(range(n), ratios)`` (the ``DATASET_RATIO``
weights, not normalised); every image of the batch then comes from that dataset. Here the
same happens over one MMEngine ``ConcatDataset`` with a seeded generator shared by all ranks:
a global batch of ``batch_size * world_size`` items is drawn from one dataset and rank ``r``
takes its ``r``-th slice, so every rank sees the same dataset at the same step. Within a
dataset, items follow a fresh seeded permutation each time the dataset is exhausted.
"""
from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from ..registry import DATA_SAMPLERS


def _sizes(dataset) -> list[int]:
    cum = getattr(dataset, "cumulative_sizes", None)
    if cum is None:
        return [len(dataset)]
    return [b - a for a, b in zip([0] + list(cum[:-1]), cum)]


@DATA_SAMPLERS.register_module()
class MultiDatasetSampler(Sampler):
    """Indices of a ``ConcatDataset`` in runs of ``batch_size`` from one dataset each.

    Args:
        dataset: a ``ConcatDataset`` (MMEngine's or PyTorch's; anything with
            ``cumulative_sizes``) or a single dataset.
        batch_size: per-rank batch size; must equal the dataloader's ``batch_size``.
        ratios: sampling weight of each dataset (default: proportional to their sizes).
        seed: random seed (default: one synchronised over ranks, as MMEngine's samplers).
        shuffle: permute items within each dataset (else take them in order, cyclically).
        num_batches: per-rank batches in one epoch (``len`` is ``num_batches * batch_size``);
            default ``len(dataset) // (batch_size * world_size)``.
        infinite: never stop (for ``IterBasedTrainLoop``).

    Example::

        train_dataloader = dict(
            batch_size=2, num_workers=2, collate_fn=dict(type='video_collate'),
            sampler=dict(type='MultiDatasetSampler', batch_size=2, ratios=[0.35, 0.25, 0.5]),
            dataset=dict(type='ConcatDataset', datasets=[ovis, ytvis21, vipseg]))
    """

    def __init__(self, dataset, batch_size: int, ratios: Sequence[float] | None = None,
                 seed: int | None = None, shuffle: bool = True, num_batches: int | None = None,
                 infinite: bool = False, rank: int | None = None, world_size: int | None = None):
        from mmengine.dist import get_dist_info, sync_random_seed
        r, ws = get_dist_info()
        self.rank = r if rank is None else int(rank)
        self.world_size = ws if world_size is None else int(world_size)
        self.dataset, self.batch_size, self.shuffle, self.infinite = dataset, int(batch_size), shuffle, infinite
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.sizes = _sizes(dataset)
        self.offsets = [0] + list(itertools.accumulate(self.sizes))[:-1]
        if ratios is None:
            ratios = self.sizes
        if len(ratios) != len(self.sizes):
            raise ValueError(f"{len(ratios)} ratios for {len(self.sizes)} datasets")
        w = np.asarray(ratios, np.float64)
        if (w < 0).any() or not np.isfinite(w).all():
            raise ValueError(f"ratios {list(ratios)} must be finite and non-negative")
        w = np.where(np.asarray(self.sizes) > 0, w, 0.0)  # an empty dataset is never drawn
        if w.sum() <= 0:
            raise ValueError("no dataset with items and a positive ratio")
        self.weights = w / w.sum()
        self.seed = sync_random_seed() if seed is None else int(seed)
        total = sum(self.sizes)
        self.num_batches = int(num_batches) if num_batches is not None else \
            max(1, total // (self.batch_size * self.world_size))
        self.epoch = 0

    def batches(self) -> Iterator[tuple[int, list[int]]]:
        """(dataset index, this rank's global indices) per batch, for this epoch."""
        rng = np.random.default_rng([self.seed, self.epoch])
        gbs = self.batch_size * self.world_size
        streams = [self._stream(d) for d in range(len(self.sizes))]
        count = itertools.count() if self.infinite else range(self.num_batches)
        for _ in count:
            d = int(rng.choice(len(self.weights), p=self.weights))
            chunk = [next(streams[d]) for _ in range(gbs)]
            mine = chunk[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]
            yield d, [self.offsets[d] + i for i in mine]

    def _stream(self, d: int) -> Iterator[int]:
        # own generator per dataset so that drawing datasets does not change the item order
        local = np.random.default_rng([self.seed, self.epoch, d + 1])
        n = self.sizes[d]
        while n:
            yield from (local.permutation(n).tolist() if self.shuffle else range(n))

    def __iter__(self) -> Iterator[int]:
        for _, idx in self.batches():
            yield from idx

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """A new epoch reshuffles everything (MMEngine calls this each epoch)."""
        self.epoch = int(epoch)

    def dataset_of(self, index: int) -> int:
        """Which dataset a global index of the ConcatDataset belongs to."""
        return bisect.bisect_right(self.offsets, index) - 1


def video_collate(batch: Sequence[dict]) -> dict:
    """``[{'inputs', 'data_samples'}, ...]`` -> ``{'inputs': [...], 'data_samples': [...]}``.

    Videos keep their own size (the UniVS data preprocessor pads and stacks them) and data
    samples stay one dict per video (MMEngine's ``pseudo_collate`` would turn a list of dicts
    into a dict of lists).
    """
    return {"inputs": [b["inputs"] for b in batch], "data_samples": [b["data_samples"] for b in batch]}


def _register_collate() -> None:
    from mmengine.registry import FUNCTIONS
    if "video_collate" not in FUNCTIONS.module_dict:
        FUNCTIONS.register_module("video_collate", module=video_collate)


_register_collate()
