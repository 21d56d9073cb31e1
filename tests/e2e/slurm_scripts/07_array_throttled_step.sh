#!/bin/sh
#SBATCH --job-name=shards
#SBATCH --array=0-20:5%2
#SBATCH --gpus=1
#SBATCH --time=0-00:05:00
echo "shard $SLURM_ARRAY_TASK_ID step $SLURM_ARRAY_TASK_STEP"
