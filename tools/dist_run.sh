#!/usr/bin/env bash
# Distributed inference on one machine: tools/dist_run.sh NUM_PROCS [univs-bench run options]
# e.g. tools/dist_run.sh 8 --model univs_swinl --checkpoint univs_swinl_stage3.pth --tasks all
# Videos are sharded across ranks; rank 0 gathers them by video id and scores.
set -euo pipefail
NPROC=${1:?usage: tools/dist_run.sh NUM_PROCS [run options]}
shift
PORT=${PORT:-29511}
exec "${PYTHON:-python}" -m torch.distributed.run --nproc_per_node="$NPROC" --master_port="$PORT" \
    -m univs_bench.cli run --launcher pytorch "$@"
