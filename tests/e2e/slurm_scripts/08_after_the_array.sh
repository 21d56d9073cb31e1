#!/bin/bash
#SBATCH --job-name=collect
#SBATCH --time=5:00
#SBATCH --gres=gpu:1
# submitted with --dependency=afterok:<the grid array>: runs once every task of it succeeded
echo "collecting the grid's results after job $DEP_ON"
