#!/bin/bash
# A first job on one GPU, the way most site guides start: a name, one GPU, minutes as the time limit.
#SBATCH --job-name=hello-gpu
#SBATCH --gres=gpu:1
#SBATCH --time=30
#SBATCH --output=%x-%j.log

echo "job $SLURM_JOB_ID ($SLURM_JOB_NAME) on $SLURMD_NODENAME"
echo "gpus=$CUDA_VISIBLE_DEVICES on_node=$SLURM_GPUS_ON_NODE nodes=$SLURM_JOB_NUM_NODES procid=$SLURM_PROCID"
echo "submitted from $SLURM_SUBMIT_DIR, running in $(pwd)"
