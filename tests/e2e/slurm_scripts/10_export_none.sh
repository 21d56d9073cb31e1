#!/bin/bash
#SBATCH --job-name=clean-env
#SBATCH --export=NONE,DATASET=imagenet
#SBATCH --gres=gpu:1
#SBATCH -t 5
echo "dataset=$DATASET secret=${SUBMIT_SHELL_ONLY:-unset} export=$SLURM_EXPORT_ENV"
