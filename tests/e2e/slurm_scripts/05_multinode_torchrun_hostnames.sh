#!/bin/bash
#SBATCH --job-name=llm-2node
#SBATCH -N 2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=h100:2
#SBATCH --time=12:00:00
#SBATCH --signal=USR1@120
#SBATCH --requeue

nodes=( $(scontrol show hostnames "$SLURM_JOB_NODELIST") )
head_node=${nodes[0]}
echo "head=$head_node count=${#nodes[@]} me=$SLURMD_NODENAME id=$SLURM_NODEID"
# torchrun --nnodes "$SLURM_NNODES" --nproc_per_node 2 --rdzv_endpoint "$MASTER_ADDR:$MASTER_PORT" train.py
srun python3 -c 'import os; print("rank", os.environ["PET_NODE_RANK"], "of", os.environ["PET_NNODES"], "procs", os.environ["PET_NPROC_PER_NODE"])'
