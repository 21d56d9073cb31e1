#!/bin/bash
#SBATCH --job-name=spread
#SBATCH --gpus=6
#SBATCH --ntasks=2
#SBATCH --time=1
#SBATCH --output=spread-%N-%n.out
echo "node $SLURM_NODEID has $SLURM_GPUS_ON_NODE of $SLURM_GPUS GPUs"
