#!/usr/bin/env bash
# Training on a Slurm cluster (one task per GPU):
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [univs-bench train options]
# GPUS (default 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5) and SRUN_ARGS from the environment;
# MASTER_PORT (default 29500) if several jobs share a node.
set -euo pipefail
PARTITION=${1:?usage: tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train options]}
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} "${PYTHON:-python}" -u -m univs_bench.cli train "$CONFIG" \
    --work-dir "$WORK_DIR" --launcher slurm "$@"
