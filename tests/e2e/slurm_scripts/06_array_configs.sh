#!/bin/bash
#SBATCH --job-name=grid
#SBATCH --array=1-4
#SBATCH --gres=gpu:1
#SBATCH --time=00:10:00
#SBATCH --output=grid_%A_%a.out
# each task picks its learning rate from the list by its index
rates=(0 0.1 0.01 0.001 0.0001)
echo "task $SLURM_ARRAY_TASK_ID of array $SLURM_ARRAY_JOB_ID: lr=${rates[$SLURM_ARRAY_TASK_ID]}"
echo "count=$SLURM_ARRAY_TASK_COUNT min=$SLURM_ARRAY_TASK_MIN max=$SLURM_ARRAY_TASK_MAX step=$SLURM_ARRAY_TASK_STEP"
