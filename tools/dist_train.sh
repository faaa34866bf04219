#!/usr/bin/env bash
# Distributed training with torchrun: tools/dist_train.sh CONFIG NUM_GPUS [univs-bench train options]
# e.g. tools/dist_train.sh configs/univs/univs_r50_stage2.py 8 --work-dir work_dirs/r50_s2 \
#          --cfg-options load_from=work_dirs/r50_s1/iter_354000.pth
# Several nodes: set NNODES, NODE_RANK and MASTER_ADDR (and the same PORT) on every node.
set -euo pipefail
CONFIG=${1:?usage: tools/dist_train.sh CONFIG NUM_GPUS [train options]}
NPROC=${2:?usage: tools/dist_train.sh CONFIG NUM_GPUS [train options]}
shift 2
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    -m univs_bench.cli train "$CONFIG" --launcher pytorch "$@"
