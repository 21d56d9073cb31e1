#!/bin/bash
#SBATCH --job-name=eval-once
#SBATCH --no-requeue
#SBATCH --gres=gpu:1
#SBATCH --time=15
#GPUCLOUD --service-class=interactive
#GPUCLOUD --priority=urgent
#GPUCLOUD --grace=30s
echo "not preemptible: $SLURM_JOB_NAME"
