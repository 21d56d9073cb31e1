#!/bin/bash
#SBATCH --job-name=nightly-eval
#SBATCH --dependency=singleton
#SBATCH --gpus=1
#SBATCH --time=10
echo "only one nightly-eval at a time"
