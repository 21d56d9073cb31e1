#!/bin/bash
#SBATCH --job-name=long-train
#SBATCH --mail-type=END,FAIL
#SBATCH --mail-user=someone@example.org
#SBATCH --requeue
#SBATCH --gres=gpu:2
#SBATCH --time=1-00:00:00
#SBATCH --exclusive
echo "restart-safe training, preemptible"
