#!/usr/bin/env bash
# Distributed inference on a Slurm cluster:
#   tools/slurm_run.sh PARTITION JOB_NAME NUM_GPUS [univs-bench run options]
set -euo pipefail
PARTITION=${1:?usage: tools/slurm_run.sh PARTITION JOB_NAME NUM_GPUS [run options]}
JOB_NAME=$2
GPUS=$3
shift 3
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} "${PYTHON:-python}" -u -m univs_bench.cli run --launcher slurm "$@"
