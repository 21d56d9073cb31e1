#!/bin/bash
#SBATCH -J finetune            # a typed GPU request, an account and a QOS, hours:minutes:seconds
#SBATCH -A vision
#SBATCH --qos=high
#SBATCH --gres=gpu:h100:2
#SBATCH -t 1:30:00
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
set -euo pipefail
echo "account=$SLURM_JOB_ACCOUNT qos=$SLURM_JOB_QOS cpus_per_task=$SLURM_CPUS_PER_TASK"
echo "visible=$CUDA_VISIBLE_DEVICES count=$SLURM_GPUS_ON_NODE"
