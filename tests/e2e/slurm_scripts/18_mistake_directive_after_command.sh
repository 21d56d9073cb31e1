#!/bin/bash
#SBATCH --gres=gpu:1
#SBATCH --time=2
module load cuda/12.4 2>/dev/null || true
#SBATCH --job-name=too-late
#SBATCH --time=600
echo "name=$SLURM_JOB_NAME"
