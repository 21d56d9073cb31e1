#!/bin/bash
#SBATCH --job-name=ddp-1node
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --time=0-02:00
#SBATCH --output=logs/%x_%j.out

# torchrun starts one process per GPU of the node; here a stand-in prints what it would read
srun python3 -c 'import os; print("nnodes", os.environ["PET_NNODES"], "nproc", os.environ["PET_NPROC_PER_NODE"], "master", os.environ["MASTER_ADDR"] != "", "rank", os.environ["RANK"], "world", os.environ["WORLD_SIZE"])'
