#!/bin/bash
#SBATCH --job-name=mpi-style
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gres=gpu:4
#SBATCH --time=2-0
# one task per GPU, every task told its global rank by Slurm's variables (as MPI or NCCL launchers read them)
echo "node $SLURM_NODEID of $SLURM_NNODES: ntasks=$SLURM_NTASKS tasks_per_node=$SLURM_TASKS_PER_NODE"
srun bash -c 'echo "task $SLURM_PROCID local $SLURM_LOCALID of $SLURM_NTASKS"' | sort
