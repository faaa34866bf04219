"""EMA teacher for UniVS stage 3.

Facts (UniVS ``univs/univs_prompt.py`` / ``univs_prompt_longvideo.py``, ``_init_ema``,
``update_ema_parameters``, ``replace_with_ema_parameters_inf``):

- the teacher is a deep copy of ``backbone`` and ``sem_seg_head`` kept as ``backbone_t`` and
  ``sem_seg_head_t`` (so stage-3 checkpoints hold ``backbone_t.*`` / ``sem_seg_head_t.*``),
  with ``requires_grad`` off;
- decay 0.9999: ``teacher = 0.0001 * student + 0.9999 * teacher``, at the start of every
  training forward (i.e. before the iteration's step), for parameters only (not buffers) and
  only those the student trains (frozen ones are left as copied);
- at inference the student's trainable parameters are overwritten by the teacher's.
"""
from __future__ import annotations

import copy

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from univs_bench.registry import HOOKS

DEFAULT_PAIRS = (("backbone", "backbone_t"), ("sem_seg_head", "sem_seg_head_t"))


def make_teacher(student: nn.Module) -> nn.Module:
    """A frozen deep copy of ``student`` to hold the moving average."""
    teacher = copy.deepcopy(student)
    teacher.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, decay: float = 0.9999) -> None:
    """``t <- decay * t + (1 - decay) * s`` for every trainable parameter ``s`` of the student."""
    params_t = dict(teacher.named_parameters())
    for name, p in student.named_parameters():
        if p.requires_grad and name in params_t:
            t = params_t[name]
            t.lerp_(p.detach().to(t.dtype), 1.0 - decay)


@torch.no_grad()
def load_teacher_into_student_(student: nn.Module, teacher: nn.Module) -> None:
    """Overwrite the student's trainable parameters by the teacher's (official inference)."""
    params_t = dict(teacher.named_parameters())
    for name, p in student.named_parameters():
        if p.requires_grad and name in params_t:
            p.copy_(params_t[name])


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class UniVSEMAHook(Hook):
    """Updates the model's EMA teacher copies before every training iteration.

    Example config (stage 3)::

        custom_hooks = [dict(type='UniVSEMAHook', decay=0.9999)]

    The model must hold each student submodule and its teacher as attributes named in
    ``pairs`` (default ``backbone``/``backbone_t`` and ``sem_seg_head``/``sem_seg_head_t``);
    missing teachers are created with :func:`make_teacher` when training starts (build them
    in the model's ``__init__`` instead when checkpoints with teacher keys are resumed). With
    ``teacher_for_test`` the student's trainable weights are replaced by the teacher's
    before testing, as the official inference does.
    """

    priority = "ABOVE_NORMAL"

    def __init__(self, decay: float = 0.9999, pairs=DEFAULT_PAIRS, teacher_for_test: bool = True):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"UniVSEMAHook: decay {decay} not in [0, 1]")
        self.decay = decay
        self.pairs = tuple(tuple(p) for p in pairs)
        self.teacher_for_test = teacher_for_test

    def _pairs(self, runner):
        model = _unwrap(runner.model)
        for s_name, t_name in self.pairs:
            student = getattr(model, s_name, None)
            if student is None:
                continue
            if getattr(model, t_name, None) is None:
                setattr(model, t_name, make_teacher(student))
            yield student, getattr(model, t_name)

    def before_train(self, runner) -> None:
        for _ in self._pairs(runner):
            pass

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        for student, teacher in self._pairs(runner):
            ema_update_(teacher, student, self.decay)

    def before_test_epoch(self, runner) -> None:
        if self.teacher_for_test:
            for student, teacher in self._pairs(runner):
                load_teacher_into_student_(student, teacher)
