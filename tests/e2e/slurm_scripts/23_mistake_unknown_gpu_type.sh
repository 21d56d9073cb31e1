#!/bin/bash
#SBATCH --job-name=old-gpus
#SBATCH --time=10
#SBATCH --gres=gpu:v100:2
echo never
